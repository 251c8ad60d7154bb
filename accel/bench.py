"""``python -m accel.bench``: :func:`accel.cli.bench.main`, as ``patchinr bench``."""

if __name__ == "__main__":
    from .cli.registry import run
    run("bench")
