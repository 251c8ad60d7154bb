"""``python -m accel.build``: runs :func:`accel.cli.build.main`."""

import sys

if __name__ == "__main__":
    try:
        from .cli.build import main
    except KeyboardInterrupt:              # Ctrl-C while the command is still loading
        sys.stderr.write("accel.build: interrupted\n")
        sys.exit(130)
    sys.exit(main())
