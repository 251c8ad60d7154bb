"""Stream random operands through the FP32 blocks in the simulator and compare them, bit for
bit, with :mod:`model.fp32ref` (:mod:`accel.flows.fp32_check`).

Command line::

    python -m accel.check_fp32 --pairs 100000 [--seed S] [--units mul add ...]

Prints one line per unit with the mismatch count and wall time, and the first mismatches;
exits 1 if any unit mismatched, 2 on bad input.
"""

from model.support.errors import ArgumentParser, cli_entry
from model.support.limits import SEED_MAX
from model.support.validate import cli_type, nonnegative_int, positive_int

from ..flows.fp32_check import UNITS, check_unit

__all__ = ["build_parser", "main", "MAX_PAIRS"]

#: Operand sets per unit at most: the simulator checks some thousands a second, so ten
#: million is already hours, and the operands are generated in memory at once.
MAX_PAIRS = 10_000_000


def build_parser():
    p = ArgumentParser(prog="python -m accel.check_fp32",
                description="Stream random operands through the FP32 blocks in the simulator "
                            "and compare them bit for bit with model.fp32ref.")
    p.add_argument("--pairs", type=cli_type(int, positive_int, maximum=MAX_PAIRS),
                   default=100_000,
                   help=f"operand sets per unit (default 100000, at most {MAX_PAIRS:,})")
    p.add_argument("--seed", type=cli_type(int, nonnegative_int, maximum=SEED_MAX), default=0,
                   help="random seed (default 0)")
    p.add_argument("--units", nargs="+", choices=UNITS, default=list(UNITS), metavar="UNIT",
                   help=f"units to check (default all: {' '.join(UNITS)})")
    return p


@cli_entry("accel.check_fp32")
def main(argv=None):
    args = build_parser().parse_args(argv)
    failed = False
    for unit in args.units:
        result = check_unit(unit, count=args.pairs, seed=args.seed)
        print(result.summary(), flush=True)
        for ops, got, want in result.examples:
            operands = " ".join(f"{k}=0x{v:08x}" for k, v in ops.items())
            print(f"    {operands}: got 0x{got:08x}, want 0x{want:08x}")
        failed |= result.mismatches > 0
    return 1 if failed else 0
