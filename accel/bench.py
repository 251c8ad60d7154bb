"""``python -m accel.bench``: runs :func:`accel.cli.bench.main`."""

import sys

from .cli.bench import main

if __name__ == "__main__":
    sys.exit(main())
