"""The 32x32 build, the ``--array auto`` build (``accel.build``'s default) and the
device's limit, side by side.

Command line::

    python -m accel.size [--precision int8] [--patches 1,2,4,8,16] [--dsp-clock 1] [--json FILE]

For each patch size of the default model: the array, LUT columns, batch and pixels per
output beat of each build,
its DSP48E2s and LUT budget (:mod:`accel.sizing`), and the useful MACs per cycle and fps
at the accelerator clock (:data:`accel.config.CLOCK_HZ`) on 256x256 and on 1920x1080 frames from the cycle model, against the XCVU9P's
INT8 limit (two multiplies per DSP48E2). Nothing is elaborated: seconds. Resources measured
by Yosys come from ``python -m accel.build`` (``--array auto``) and ``--array 32x32``.
"""

import functools
import sys

from model.config import PatchINRConfig
from model.support.errors import ArgumentParser, cli_entry
from model.support.files import check_output, write_json
from model.support.validate import int_list, one_of

from ..config import BUILD, CLOCK_HZ, PRECISIONS, AccelConfig
from ..cycles import useful_macs
from ..device import XCVU9P, dsp_count, int8_macs_limit
from ..sizing import auto_array, lut_estimate, pixels_per_beat, throughput

__all__ = ["build_parser", "main", "rows", "markdown"]

FRAMES = ((256, 256), (1920, 1080))
#: The largest patch size: whole patches in both frames.
MAX_PATCH = min(min(frame) for frame in FRAMES)


def build_parser():
    p = ArgumentParser(prog="python -m accel.size", description=__doc__.split("\n\n")[0])
    p.add_argument("--precision", default="int8", help="int8, fp32 or dual (default int8)")
    p.add_argument("--patches", default=[1, 2, 4, 8, 16],
                   type=functools.partial(int_list, minimum=1, maximum=MAX_PATCH),
                   help=f"patch sizes, 1 to {MAX_PATCH} (default 1,2,4,8,16)")
    p.add_argument("--dsp-clock", type=int, default=1, metavar="1|2",
                   help="INT8: the DSP48E2 clock as a multiple of the fabric clock for both "
                        "builds (default 1)")
    p.add_argument("--json", default=None, help="also write the rows as JSON to FILE")
    return p


def _row(n, build, config):
    out = {"n": n, "build": build, "array": f"{config.rows}x{config.cols}",
           "lut_cols": config.lut_cols, "batch": config.batch,
           "pixels_per_beat": config.pixels_per_beat, "dsp": dsp_count(config),
           "lut_budget": round(lut_estimate(config))}
    for w, h in FRAMES:
        # Whole patches: the frame rounded down (1920x1072 at n = 16), keyed by the
        # nominal frame so every row has the same keys.
        macs, fps = throughput(config, w - w % n, h - h % n)
        # The device's limit: every multiply of the XCVU9P useful every cycle.
        queries = (w // n) * (h // n)
        limit = int8_macs_limit(XCVU9P, dsp_clock=config.dsp_clock)
        limit_fps = CLOCK_HZ * limit / useful_macs(config, queries)
        out[f"{w}x{h}"] = {"frame": f"{w - w % n}x{h - h % n}", "macs_per_cycle": round(macs),
                           "fps": round(fps, 2), "of_limit": round(macs / limit, 4),
                           "limit_fps": round(limit_fps, 2)}
    return out


def rows(precision, patches, dsp_clock=1):
    """The table's rows: per patch size, the 32x32 build (:data:`~accel.config.BUILD`)
    and the auto build, their DSP48E2s at ``dsp_clock`` times the fabric clock."""
    out = []
    for n in patches:
        model = PatchINRConfig(patch=n)
        fixed = AccelConfig.fitting(model=model, rows=BUILD.rows, cols=BUILD.cols,
                                    batch=BUILD.batch, precision=precision,
                                    dsp_clock=dsp_clock)
        # As accel.build makes it: the pixels per beat its output needs on 1080p.
        fixed = fixed.replace(pixels_per_beat=pixels_per_beat(
            fixed, fixed.max_width, fixed.max_height))
        out.append(_row(n, f"{BUILD.rows}x{BUILD.cols}", fixed))
        out.append(_row(n, "auto", auto_array(model, precision=precision,
                                              max_frame=BUILD.max_frame,
                                              dsp_clock=dsp_clock).config))
    return out


def markdown(table, dsp_clock=1):
    """The rows of :func:`rows` as a Markdown table (percentages of the device's INT8
    limit at ``dsp_clock``)."""
    limit = int8_macs_limit(XCVU9P, dsp_clock=dsp_clock)
    lines = [f"| n | build | array | LUT cols | batch | pixels/beat | DSP48E2 | LUT budget | "
             f"256x256: MACs/cycle | fps | 1080p: MACs/cycle | % of {limit:,} | fps "
             f"| fps at the limit |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in table:
        small, big = (r[f"{w}x{h}"] for w, h in FRAMES)
        lines.append(
            f"| {r['n']} | {r['build']} | {r['array']} | {r['lut_cols']} | {r['batch']:,} | "
            f"{r['pixels_per_beat']} | {r['dsp']:,} | {r['lut_budget']:,} | {small['macs_per_cycle']:,} | "
            f"{small['fps']:,.1f} | {big['macs_per_cycle']:,} | "
            f"{100 * big['of_limit']:.1f} % | {big['fps']:.2f} | {big['limit_fps']:.2f} |")
    return "\n".join(lines)


@cli_entry("accel.size")
def main(argv=None):
    args = build_parser().parse_args(argv)
    one_of("precision", args.precision, PRECISIONS)
    if args.json:
        check_output(args.json, suffixes=(".json",))
    table = rows(args.precision, args.patches, args.dsp_clock)
    print(markdown(table, args.dsp_clock))
    if args.json:
        write_json(args.json, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
