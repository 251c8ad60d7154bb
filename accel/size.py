"""``python -m accel.size``: :mod:`accel.cli.size`, as ``patchinr size``."""

if __name__ == "__main__":
    from .cli.registry import run
    run("size")
