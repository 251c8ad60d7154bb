"""``python -m accel.bench``: :mod:`accel.cli.bench`, as ``patchinr bench``."""

if __name__ == "__main__":
    from .cli.registry import run
    run("bench")
