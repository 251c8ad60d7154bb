"""``python -m accel.check_fp32``: runs :func:`accel.cli.check_fp32.main`."""

import sys

from .cli.check_fp32 import main

if __name__ == "__main__":
    sys.exit(main())
