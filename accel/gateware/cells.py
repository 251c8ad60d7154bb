"""Vendor primitives that the core instantiates where synthesis would not build as well.

Every block of the core is written for Amaranth's simulator, its multipliers as ``*``. On
the XCVU9P that is all synthesis needs: ``synth_xilinx`` (and Vivado) pull the registers
around a product into the DSP48E2. ``synth_ecp5`` does not: it maps a product to a
MULT18X18D with every register of the slice off, so the path from a fabric register
through the multiplier to the next fabric register is one long route in, the multiplier,
and one long route out (14.8 ns on the ULX3S 85F, the whole core's limit). The MULT18X18D
has input and output registers of its own; using them needs the primitive itself.

When the core is exported for a device (:func:`accel.flows.export.elaborate_core`), it is
elaborated with the device's :class:`Cells` as its platform, and a block that has a
primitive for that device instantiates it; under the simulator (no platform) every block
is its behavioural self. The Verilog of an exported core then holds the primitives, and
Verilator (:mod:`accel.flows.verilator`, and its lint) reads the models of
:data:`SIM_MODELS` beside it, which :func:`sim_models` names for any other simulator: what
they check is the core with its primitives as those models describe them.
"""

import os
import re

from amaranth import ClockSignal, Const, Instance, Signal

__all__ = ["Cells", "SIM_MODELS", "cells_for", "platform_cells", "registered_product", "sim_models"]

#: Simulation models of the primitives, by cell name (Verilog files beside this module).
SIM_MODELS = {"MULT18X18D": "mult18x18d.v"}


class Cells:
    """The primitives of one device family, passed to ``elaborate`` as the platform.

    Parameters
    ----------
    family : str
        The device family (``"ecp5"``, ``"xcup"``: :data:`accel.device.DEVICES`).
    """

    def __init__(self, family):
        self.family = family

    @property
    def mult18x18d(self):
        """Multipliers are ECP5 MULT18X18Ds with their input and output registers."""
        return self.family == "ecp5"

    def __repr__(self):
        return f"Cells({self.family!r})"


def cells_for(config):
    """The :class:`Cells` an :class:`~accel.config.AccelConfig`'s exported core uses, or
    ``None`` where it needs none (the XCVU9P: its netlist is the behavioural one)."""
    family = config.device_family
    return Cells(family) if family == "ecp5" else None


def platform_cells(platform):
    """``platform`` if it is a :class:`Cells`, else ``None`` (the simulator, a board)."""
    return platform if isinstance(platform, Cells) else None


def registered_product(m, a, b, *, name="mult"):
    """``a * b`` two cycles after ``a`` and ``b``, as an ECP5 MULT18X18D (submodule
    ``name`` of ``m``) with its input A, input B and output registers in use: the same
    cycles as a fabric register on each operand and one on the product, with the slice's
    own registers at both ends of the multiplier.

    Each operand is read with its own signedness (an unsigned one is zero-extended) and
    must fit the multiplier's 18 bits as a signed number. Every register is always
    enabled, on CE0: the four multipliers of an ECP5 DSP block share four CE nets, so an
    enable of each product's own would leave most of a block unusable. Returns the signed
    36-bit product (a ``Signal``).
    """
    operands = {}
    for port, value in (("A", a), ("B", b)):
        signed = value.shape().signed
        if len(value) + (0 if signed else 1) > 18:
            raise ValueError(f"a {len(value)}-bit {'signed' if signed else 'unsigned'} "
                             f"operand does not fit the MULT18X18D's 18 bits")
        for i in range(18):
            operands[f"i_{port}{i}"] = (value[i] if i < len(value) else
                                        value[-1] if signed else Const(0))
    product = Signal(36, name=f"{name}_p")
    m.submodules[name] = Instance(
        "MULT18X18D",
        p_REG_INPUTA_CLK="CLK0", p_REG_INPUTB_CLK="CLK0", p_REG_OUTPUT_CLK="CLK0",
        p_REG_INPUTC_CLK="NONE", p_REG_PIPELINE_CLK="NONE",
        p_GSR="DISABLED", p_RESETMODE="SYNC",
        **operands, i_SIGNEDA=Const(1), i_SIGNEDB=Const(1),
        i_CLK0=ClockSignal("sync"), i_CE0=Const(1), i_RST0=Const(0),
        **{f"o_P{i}": product[i] for i in range(36)},
    )
    return product.as_signed()


def sim_models(verilog):
    """``{file name: Verilog text}`` of the models the primitives in ``verilog`` need."""
    out = {}
    here = os.path.dirname(__file__)
    for cell, name in SIM_MODELS.items():
        if re.search(rf"^\s*{cell}\b", verilog, re.M):
            with open(os.path.join(here, name)) as f:
                out[name] = f.read()
    return out
