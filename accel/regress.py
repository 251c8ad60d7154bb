"""``python -m accel.regress``: :mod:`accel.cli.regress`, as ``patchinr regress``."""

if __name__ == "__main__":
    from .cli.registry import run
    run("regress")
