"""``python -m accel.build``: :func:`accel.cli.build.main`, as ``patchinr build``."""

if __name__ == "__main__":
    from .cli.registry import run
    run("build")
