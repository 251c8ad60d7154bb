"""``python -m accel.soak``: :func:`accel.cli.soak.main`, as ``patchinr soak``."""

if __name__ == "__main__":
    from .cli.registry import run
    run("soak")
