"""``python -m accel.bench``: runs :func:`accel.cli.bench.main`."""

import sys

if __name__ == "__main__":
    try:
        from .cli.bench import main
    except KeyboardInterrupt:              # Ctrl-C while the command is still loading
        sys.stderr.write("accel.bench: interrupted\n")
        sys.exit(130)
    sys.exit(main())
