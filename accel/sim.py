"""``python -m accel.sim``: :mod:`accel.cli.sim`, as ``patchinr sim``."""

if __name__ == "__main__":
    from .cli.registry import run
    run("sim")
