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
the Verilog simulations (Verilator, Icarus) read the models of :data:`SIM_MODELS` beside
it: what they check is the core with its primitives as those models describe them.
"""

import os

__all__ = ["Cells", "cells_for", "platform_cells", "sim_models"]

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


def sim_models(verilog):
    """``{file name: Verilog text}`` of the models the primitives in ``verilog`` need."""
    import re
    out = {}
    here = os.path.dirname(__file__)
    for cell, name in SIM_MODELS.items():
        if re.search(rf"^\s*{cell}\b", verilog, re.M):
            with open(os.path.join(here, name)) as f:
                out[name] = f.read()
    return out
