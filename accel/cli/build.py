"""Build the accelerator for a board: Verilog, constraints, build script and a report.

Command line::

    python -m accel.build --patch 2 --precision int8 [--weights FILE] [--array auto|RxC] \\
        [--batch 256] [--size 256x256] [--max-frame 1920x1080] [--pixels-per-beat auto] \\
        [--dsp-clock 1] [--board vcu118] [--clock-mhz 200] [--out build] \\
        [--no-synth] [--check]
    python -m accel.build --config build/report.json --out build2     # the same build again

What it writes is described in :mod:`accel.flows.build`. Progress lines, with the seconds
elapsed, go to stderr while the core is converted and Yosys runs beside it; the summary
goes to stdout.

Exit status 0 on success, 1 if synthesis fails or a ``--check`` is not clean, 2 on bad
input (an unknown board or precision, a patch size that is not a positive integer, an
array without enough DSP48E2s, an output directory that cannot be written, a model file
that disagrees with the flags), which is reported in one line before anything is
elaborated or written.
"""

import sys

from model.support.errors import ArgumentParser, UserError, cli_entry
from model.support.validate import parse_array, parse_size

from ..config import BUILD, CLOCK_HZ
from ..flows.build import BOARD_TOPS, BuildConfig, build, summary

__all__ = ["build_parser", "main"]


def _progress(line):
    print(line, file=sys.stderr, flush=True)


def build_parser():
    p = ArgumentParser(prog="python -m accel.build", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=None, metavar="FILE",
                   help="build what FILE describes: a report.json of an earlier build (its "
                        "'build') or that object alone; no other build flag with it")
    p.add_argument("--patch", type=int, default=None,
                   help="patch size n (default 2, or the model file's)")
    p.add_argument("--precision", default="int8", help="int8, fp32 or dual (default int8)")
    p.add_argument("--weights", default=None, help="model file (from python -m model.train)")
    p.add_argument("--array", default="auto",
                   help="systolic array: auto (the default), the fastest the board's device "
                        "holds within its routing margins, with its batch; or ROWSxCOLS, "
                        f"for example {'x'.join(map(str, BUILD.array))}")
    p.add_argument("--batch", type=int, default=None,
                   help=f"queries in flight, with --array ROWSxCOLS (default {BUILD.batch})")
    p.add_argument("--size", default=None,
                   help="frame WIDTHxHEIGHT for the report and the reset registers (default "
                        f"{'x'.join(map(str, BUILD.frame))}, rounded down to whole patches)")
    p.add_argument("--max-frame", default=None, metavar="WxH",
                   help="the largest frame the core renders: it sizes the output ring, and "
                        "--array auto picks the array fastest on it (default "
                        f"{'x'.join(map(str, BUILD.max_frame))})")
    p.add_argument("--board", default="vcu118",
                   help=f"board: {', '.join(BOARD_TOPS)} (default %(default)s); an ECP5 board "
                        f"is synthesised, placed, routed and packed to a bitstream")
    p.add_argument("--hidden", type=int, default=None,
                   help="without --weights: width of the default model's sine layers")
    p.add_argument("--layers", type=int, default=None,
                   help="without --weights: number of the default model's sine layers")
    p.add_argument("--clock-mhz", type=float, default=None,
                   help="accelerator clock: the fps reported, the MMCM or PLL, the XDC or "
                        f"LPF and the IP (default the board's: {CLOCK_HZ / 1e6:g} on the "
                        f"VCU118, 100 on the ULX3S)")
    p.add_argument("--pixels-per-beat", default="auto", metavar="auto|1|2|4|8",
                   help="pixels per m_axis_pix beat: auto (the default), the fewest that let "
                        "the output keep up with the array; or 1, 2, 4, 8 (a divisor of the "
                        "patch size)")
    p.add_argument("--dsp-clock", type=int, default=1, metavar="1|2",
                   help="INT8 on the XCVU9P: the DSP48E2 clock as a multiple of the fabric "
                        "clock (default 1; 2: two rows' packed pairs share each slice, the "
                        "MMCM makes both clocks)")
    p.add_argument("--seed", type=int, default=1,
                   help="nextpnr's placement seed, ECP5 boards (default %(default)s): at high "
                        "fill the Fmax varies from one placement to the next")
    p.add_argument("--out", default="build", help="output directory (default %(default)s)")
    p.add_argument("--no-synth", action="store_true",
                   help="skip the Yosys resource estimate (ECP5: synthesis, placement and "
                        "routing)")
    p.add_argument("--check", action="store_true",
                   help="lint the core with Verilator (-Wall, waivers in accel/flows/lint.py) "
                        "and elaborate it in Yosys; exit 1 unless both are clean")
    return p


def _pixels_per_beat(text):
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise UserError(f"--pixels-per-beat must be auto, 1, 2, 4 or 8, not {text!r}") from None


@cli_entry("accel.build")
def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.config is not None:
        given = [a.option_strings[0] for a in parser._actions
                 if a.dest not in ("config", "out", "help") and getattr(args, a.dest) != a.default]
        if given:
            raise UserError(f"--config builds what its file says: leave out {', '.join(given)}")
        job = BuildConfig.load(args.config)
    else:
        if args.array == "auto" and args.batch is not None:
            raise UserError("--batch goes with --array ROWSxCOLS: --array auto (the default) "
                            "chooses the batch with the array")
        clock_hz = None if args.clock_mhz is None else args.clock_mhz * 1e6
        if clock_hz is not None and (not clock_hz == round(clock_hz) or clock_hz <= 0):
            raise UserError(f"--clock-mhz must be a positive whole number of Hz, not "
                            f"{args.clock_mhz!r} MHz")
        job = BuildConfig(patch=args.patch, precision=args.precision, weights=args.weights,
                          array="auto" if args.array == "auto" else parse_array(args.array),
                          batch=BUILD.batch if args.batch is None else args.batch,
                          size=args.size and parse_size(args.size),
                          max_frame=args.max_frame and parse_size(args.max_frame),
                          board=args.board,
                          synth=not args.no_synth, check=args.check,
                          clock_hz=None if clock_hz is None else int(clock_hz),
                          hidden=args.hidden, layers=args.layers, seed=args.seed,
                          pixels_per_beat=_pixels_per_beat(args.pixels_per_beat),
                          dsp_clock=args.dsp_clock)
    report = build(job, out=args.out, progress=_progress)
    print(summary(report, args.out))
    if "synthesis_error" in report:
        print(f"accel.build: error: {report['synthesis_error']}", file=sys.stderr)
        return 1
    pnr = report.get("pnr")
    if pnr is not None and "error" in pnr:
        print(f"accel.build: error: {pnr['error']}", file=sys.stderr)
        return 1
    if pnr is not None and not pnr["met"]:
        missed = [f"{name} reaches {c['achieved_mhz']:g} MHz of {c['constraint_mhz']:g}"
                  for name, c in pnr["clocks"].items() if not c["met"]]
        print(f"accel.build: error: timing not met after routing: {'; '.join(missed) or 'no clock constrained'}"
              f" (critical path in report.json; the bitstream is written but will not run "
              f"reliably at that clock; another --seed, a lower --clock-mhz or a faster "
              f"speed grade of the device may close it)", file=sys.stderr)
        return 1
    failed = [name for name, result in report.get("checks", {}).items() if result != "clean"]
    if failed:
        print(f"accel.build: error: {' and '.join(failed)} not clean (see report.json)",
              file=sys.stderr)
        return 1
    return 0
