"""The testbench drivers the RTL tests share (they live in :mod:`accel.testbench`)."""

from accel.testbench import *  # noqa: F401,F403
from accel.testbench import __all__  # noqa: F401
