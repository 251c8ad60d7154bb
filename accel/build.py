"""``python -m accel.build``: :mod:`accel.cli.build`, as ``patchinr build``."""

if __name__ == "__main__":
    from .cli.registry import run
    run("build")
