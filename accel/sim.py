"""``python -m accel.sim``: runs :func:`accel.cli.sim.main`."""

import sys

from .cli.sim import main

if __name__ == "__main__":
    sys.exit(main())
