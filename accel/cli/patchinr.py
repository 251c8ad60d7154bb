"""``patchinr``: one command, a subcommand per job of :data:`accel.cli.registry.COMMANDS`.

Command line::

    patchinr --help
    patchinr build --patch 2 --precision int8      # = python -m accel.build ...
    patchinr NAME --help

``patchinr NAME ARGS`` runs the same ``main`` as ``python -m ENTRY ARGS`` (the module form
of each command stays), with the same output and exit statuses.
"""

import sys
from importlib.metadata import PackageNotFoundError, version

from .registry import COMMANDS, by_name

__all__ = ["main", "usage"]


def usage():
    """The text of ``patchinr --help``: every command of the registry."""
    width = max(len(c.name) for c in COMMANDS)
    lines = ["usage: patchinr COMMAND [ARGS ...]", "",
             "Fit PatchINRs, simulate and build their FPGA accelerator.", "", "commands:"]
    lines += [f"  {c.name:<{width}}  {c.summary}  (python -m {c.entry})" for c in COMMANDS]
    lines += ["", "patchinr COMMAND --help shows a command's options.",
              "Exit status: 0 done, 1 the job found a fault, 2 bad input, 130 interrupted."]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    names = ", ".join(c.name for c in COMMANDS)
    if not argv:
        print(f"patchinr: error: no command given (one of: {names}; patchinr --help)",
              file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] == "--version":
        try:
            print(f"patchinr {version('patchinr-accel')}")
        except PackageNotFoundError:
            print("patchinr (not installed)")
        return 0
    command = by_name(argv[0])
    if command is None:
        print(f"patchinr: error: unknown command {argv[0]!r} (one of: {names})",
              file=sys.stderr)
        return 2
    try:
        module = command.load()
    except KeyboardInterrupt:
        print(f"{command.entry}: interrupted", file=sys.stderr)
        return 130
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
