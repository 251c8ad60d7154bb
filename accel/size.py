"""``python -m accel.size``: :func:`accel.cli.size.main`, as ``patchinr size``."""

if __name__ == "__main__":
    from .cli.registry import run
    run("size")
