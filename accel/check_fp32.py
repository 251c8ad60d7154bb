"""``python -m accel.check_fp32``: runs :func:`accel.cli.check_fp32.main`."""

import sys

if __name__ == "__main__":
    try:
        from .cli.check_fp32 import main
    except KeyboardInterrupt:              # Ctrl-C while the command is still loading
        sys.stderr.write("accel.check_fp32: interrupted\n")
        sys.exit(130)
    sys.exit(main())
