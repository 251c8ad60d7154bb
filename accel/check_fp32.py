"""``python -m accel.check_fp32``: :mod:`accel.cli.check_fp32`, as ``patchinr check-fp32``."""

if __name__ == "__main__":
    from .cli.registry import run
    run("check-fp32")
