"""The testbench drivers the RTL tests share (they live in :mod:`accel.flows.testbench`)."""

from accel.flows.testbench import *  # noqa: F401,F403
from accel.flows.testbench import __all__  # noqa: F401
