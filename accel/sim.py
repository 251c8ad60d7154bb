"""``python -m accel.sim``: runs :func:`accel.cli.sim.main`."""

import sys

if __name__ == "__main__":
    try:
        from .cli.sim import main
    except KeyboardInterrupt:              # Ctrl-C while the command is still loading
        sys.stderr.write("accel.sim: interrupted\n")
        sys.exit(130)
    sys.exit(main())
