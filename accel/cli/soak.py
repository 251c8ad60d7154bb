"""Soak one build through the host driver: a long random sequence of jobs, every pixel and
cycle count checked.

Command line::

    python -m accel.soak --jobs 1000 --seed 0 [--backend verilator] [--precision dual] \\
        [--array 4x4] [--frame 16x16] [--json soak.json]

Frames in both precisions, query bursts, weight reloads between two models, CTRL.CLEAR, a
reset in the middle of a job and a START while one runs, under back-pressure and input
gaps that change from job to job (:mod:`accel.flows.soak`). Exit status 0 when every job
matched its reference with the expected cycles and none hung, 1 otherwise (each fault in
the JSON and the first few on stderr), 2 on bad input.
"""

import sys

from model.support.errors import ArgumentParser, cli_entry
from model.support.files import check_output, write_json
from model.support.validate import cli_type, nonnegative_int, parse_array, parse_size, positive_int

from ..config import SIMULATION
from ..flows.soak import SoakConfig, soak

__all__ = ["build_parser", "main"]


def build_parser():
    p = ArgumentParser(prog="python -m accel.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=cli_type(int, positive_int, maximum=10 ** 7), default=1000,
                   help="jobs to run (default %(default)s)")
    p.add_argument("--seed", type=cli_type(int, nonnegative_int, maximum=2 ** 32 - 1),
                   default=0)
    p.add_argument("--backend", default="verilator", choices=list(SIMULATION))
    p.add_argument("--precision", default="dual", help="int8, fp32 or dual (default dual)")
    p.add_argument("--array", default="4x4", help="ROWSxCOLS (default %(default)s)")
    p.add_argument("--frame", default="16x16",
                   help="the build's largest frame; frames are drawn up to it (default "
                        "%(default)s)")
    p.add_argument("--json", default=None, help="write the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


@cli_entry("accel.soak")
def main(argv=None):
    args = build_parser().parse_args(argv)
    config = SoakConfig(jobs=args.jobs, seed=args.seed, backend=args.backend,
                        precision=args.precision, array=parse_array(args.array),
                        max_frame=parse_size(args.frame))
    if args.json:
        check_output(args.json, suffixes=(".json",))
    bar = None
    if not args.quiet:
        from tqdm.auto import tqdm
        bar = tqdm(total=config.jobs, desc="soak", unit="job", file=sys.stderr,
                   leave=False, dynamic_ncols=True)
    try:
        report = soak(config, progress=None if bar is None else
                      lambda done, total, r: (bar.update(1), bar.set_postfix(faults=len(r.faults))))
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        write_json(args.json, report.to_dict())
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(report.kinds.items()))
    print(f"soak {config.backend} {config.precision} {config.array[0]}x{config.array[1]}: "
          f"{report.jobs} jobs ({kinds}), {report.pixels:,} pixels, {report.cycles:,} cycles, "
          f"{report.mismatches} mismatching pixels, {report.hangs} hangs, "
          f"{report.cycle_errors} cycle errors in {report.wall_seconds:.0f} s")
    for fault in report.faults[:5]:
        print(f"accel.soak: fault: {fault}", file=sys.stderr)
    return 0 if report.ok else 1
