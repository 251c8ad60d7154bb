"""The package's commands, written down once.

Every command is a module with ``build_parser()`` and ``main(argv) -> int``. It runs as
``patchinr NAME ...`` (:mod:`accel.cli.patchinr`) and as ``python -m MODULE ...``; the
tests, the table of bad inputs and the command reference of the manual all read
:data:`COMMANDS`, so a command added here cannot be missed by them.

>>> from accel.cli.registry import COMMANDS, by_name
>>> [c.name for c in COMMANDS]
['train', 'plot', 'sim', 'build', 'size', 'bench', 'soak', 'regress', 'check-fp32', 'receive']
>>> by_name("build").entry
'accel.build'
"""

import importlib
import sys
from dataclasses import dataclass

__all__ = ["Command", "COMMANDS", "by_name", "run"]


@dataclass(frozen=True)
class Command:
    """One command.

    Attributes
    ----------
    name : str
        The subcommand: ``patchinr NAME``.
    entry : str
        The module form: ``python -m ENTRY``.
    module : str
        The module that holds ``build_parser`` and ``main`` (the entry itself, or the
        :mod:`accel.cli` module the entry runs).
    summary : str
        One line for ``patchinr --help``.
    """

    name: str
    entry: str
    module: str
    summary: str

    def load(self):
        """The command's module (imported on first use: torch and Amaranth load there)."""
        return importlib.import_module(self.module)

    def parser(self):
        """Its ``argparse`` parser, as ``patchinr NAME`` shows it."""
        parser = self.load().build_parser()
        parser.prog = f"patchinr {self.name}"
        return parser


#: Every command, in the order of the workflow: fit, look, simulate, build, size, sweep,
#: soak, regress, check, receive.
COMMANDS = (
    Command("train", "model.train", "model.train",
            "fit a PatchINR to an image or a clip, quantize it, write the model file"),
    Command("plot", "model.plot", "model.plot",
            "plot the training curves of model.train results"),
    Command("sim", "accel.sim", "accel.cli.sim",
            "render a frame, clip or upscale through the RTL against the reference"),
    Command("build", "accel.build", "accel.cli.build",
            "build the accelerator: Verilog, board files, IP, resource and timing report"),
    Command("size", "accel.size", "accel.cli.size",
            "the default build, the --array auto build and the device's limit"),
    Command("bench", "accel.bench", "accel.cli.bench",
            "the benchmark sweep: train, simulate and report every point"),
    Command("soak", "accel.soak", "accel.cli.soak",
            "drive one build through the driver with a long random sequence of jobs"),
    Command("regress", "accel.regress", "accel.cli.regress",
            "verify many random configurations through the RTL, as Ray tasks"),
    Command("check-fp32", "accel.check_fp32", "accel.cli.check_fp32",
            "check every FP32 unit against the float32 reference on random operands"),
    Command("receive", "boards.receive", "boards.receive",
            "receive a frame from the board's USB-UART and write it as PNG"),
)


def by_name(name):
    """The command called ``name`` (``patchinr NAME``), or ``None``."""
    return next((c for c in COMMANDS if c.name == name), None)


def run(name, argv=None):
    """Run command ``name`` and exit with its status: what ``python -m ENTRY`` does.

    An interrupt while the command is still importing (torch, Amaranth) ends the same way
    as one during its work: one line and status 130.
    """
    command = by_name(name)
    try:
        main = command.load().main
    except KeyboardInterrupt:
        sys.stderr.write(f"{command.entry}: interrupted\n")
        sys.exit(130)
    sys.exit(main(argv))
