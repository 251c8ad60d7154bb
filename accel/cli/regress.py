"""The verification regression: random configurations through the RTL, as Ray tasks.

Command line::

    python -m accel.regress --configs 20 --seed 1             # Verilator, a local Ray
    python -m accel.regress --configs 20 --seed 1 --address HEAD:6379
    python -m accel.regress --seed 1 --case 7                 # one case alone
    python -m accel.regress --configs 3 --backend amaranth --sequential

Each case draws a configuration (array shape, patch size, channels, image or clip, layer
widths and depths, INT8, FP32 or a dual build, batch, output back-pressure, device layout)
from the seed, renders a random model's frame or clip through the RTL and checks every
pixel against the reference and CYCLES against the cycle model (equal without output
back-pressure, at least the model's with it; :mod:`accel.flows.regress`).
It prints a line per case and a table, writes ``--json``, and exits 1 when any case
fails, naming the command that reruns that case alone.
"""

import argparse
import sys

from model.support.errors import ArgumentParser, cli_entry
from model.support.files import check_output, write_json
from model.support.validate import cli_type, nonnegative_int, positive_int

from .cluster_options import add_cluster_options, cluster_kwargs

__all__ = ["build_parser", "main"]


def build_parser():
    p = ArgumentParser(prog="python -m accel.regress", description=__doc__.split("\n\n")[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", type=cli_type(int, positive_int, maximum=100_000), default=20,
                   help="random configurations to run (default %(default)s)")
    p.add_argument("--seed", type=cli_type(int, nonnegative_int), default=0,
                   help="seed the configurations are drawn from (default %(default)s)")
    p.add_argument("--case", type=cli_type(int, nonnegative_int), default=None,
                   help="run only case CASE of the seed (what a failure's command does)")
    p.add_argument("--backend", default="verilator", choices=["verilator", "amaranth"],
                   help="Verilator (default), or Amaranth's simulator (small cases only)")
    add_cluster_options(p, "case", "CPUs a case's Ray task asks for")
    p.add_argument("--out", default="runs/regress",
                   help="working folder: model files, compiled models (default %(default)s)")
    p.add_argument("--json", default=None, help="write the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


@cli_entry("accel.regress")
def main(argv=None):
    args = build_parser().parse_args(argv)
    where = cluster_kwargs(args, "case")
    if args.json:
        check_output(args.json, suffixes=(".json",))
    from ..flows.regress import draw_case, draw_cases, regress
    if args.case is not None:
        cases = [draw_case(args.seed, args.case, args.backend)]
    else:
        cases = draw_cases(args.configs, args.seed, args.backend)
    if args.backend == "verilator":
        from ..flows.lint import find_verilator
        find_verilator()                    # no Verilator: one line now, not per case

    def log(line):
        from tqdm.auto import tqdm
        tqdm.write(line, file=sys.stderr)       # above the progress bar
    report = regress(cases, workdir=args.out, progress=not args.quiet, log=log, **where)
    report.update(seed=args.seed, backend=args.backend, configs=len(cases))
    _table(report)
    if args.json:
        write_json(args.json, report)
    failed = [r for r in report["cases"] if not r["ok"]]
    for r in failed:
        print(f"FAILED {r['describe']}: rerun alone with `{r['command']}`")
    print(f"{report['passed']} of {len(cases)} passed in {report['wall_seconds']:.0f} s "
          f"({report['ran_on']})")
    return 1 if failed else 0


def _table(report):
    print(f"{'case':<58} {'pixels':>8} {'bad':>5} {'cycles':>10} {'model':>10} {'s':>5}")
    for r in report["cases"]:
        if "error" in r:
            print(f"{r['describe']:<58} {'-':>8} {'-':>5} {'-':>10} {'-':>10} {'-':>5}  "
                  f"{r['error']}")
            continue
        print(f"{r['describe']:<58} {r['pixels']:>8,} {r['mismatches']:>5} "
              f"{r['cycles']:>10,} {r['cycles_model']:>10,} {r['seconds']:>5.0f}"
              + ("" if r["ok"] else "  FAIL"))
