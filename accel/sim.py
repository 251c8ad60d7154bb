"""``python -m accel.sim``: :func:`accel.cli.sim.main`, as ``patchinr sim``."""

if __name__ == "__main__":
    from .cli.registry import run
    run("sim")
