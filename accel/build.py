"""``python -m accel.build``: runs :func:`accel.cli.build.main`."""

import sys

from .cli.build import main

if __name__ == "__main__":
    sys.exit(main())
