"""``python -m accel.size``: runs :func:`accel.cli.size.main`."""

import sys

if __name__ == "__main__":
    try:
        from .cli.size import main
    except KeyboardInterrupt:              # Ctrl-C while the command is still loading
        sys.stderr.write("accel.size: interrupted\n")
        sys.exit(130)
    sys.exit(main())
