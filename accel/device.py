"""Facts of the target device and what the accelerator costs on it, in one place.

The XCVU9P's resources (the VCU118's part), the DSP48E2 slices each block of a build
takes, and the fit check that refuses an array the device cannot hold before anything is
elaborated. The per-block DSP counts are what Yosys ``synth_xilinx`` makes of each block
(:mod:`accel.flows.synth`); the tests hold these tables to it.
"""

import math

from model.errors import UserError

__all__ = ["XCVU9P", "RESOURCES", "DSP_PER_PE", "DSP_PER_LANE", "DSP_CONTROL", "dsp_count",
           "check_fit", "onchip_bits"]

#: Device facts of the VCU118's XCVU9P (-2L), for fit checks and utilisation percentages.
XCVU9P = {"part": "xcvu9p-flga2104-2L-e", "lut": 1_182_240, "ff": 2_364_480, "dsp": 6_840,
          "bram36": 2_160, "uram": 960}

#: Resource kinds of an estimate, in report order.
RESOURCES = ("lut", "ff", "dsp", "bram36", "uram")

#: DSP48E2 slices of one PE, per precision: what ``synth_xilinx`` makes of
#: :class:`~accel.gateware.pe.ProcessingElement`. INT8: the int16 x int16 product in one
#: 27x18 multiplier. FP32: the 24x24 significand product needs two (24 bits exceed the
#: 18-bit port); the adder is fabric. Dual: both multipliers, as the INT8 product is not
#: folded onto the FP32 one.
DSP_PER_PE = {"int8": 1, "fp32": 2, "dual": 3}

#: DSP48E2 slices of one :class:`~accel.gateware.postproc.PostLane` (one per array column),
#: per precision.
DSP_PER_LANE = {"int8": 2, "fp32": 5, "dual": 7}

#: DSP48E2 slices outside PEs and lanes (patch-size multiplies of the coordinate generator
#: and the output addressing): 4 with patches of 2 and more, none at ``n = 1``. The fit
#: check counts 4 in every build.
DSP_CONTROL = 4


def onchip_bits(device=XCVU9P):
    """Bits of block RAM (36 Kb each) and UltraRAM (288 Kb each) on ``device``."""
    return device["bram36"] * 36 * 1024 + device["uram"] * 288 * 1024


def dsp_count(precision, rows, cols):
    """DSP48E2 slices of a ``rows x cols`` build, known without synthesis: what
    :func:`accel.flows.synth.estimate` reports (at most)."""
    return rows * cols * DSP_PER_PE[precision] + cols * DSP_PER_LANE[precision] + DSP_CONTROL


def check_fit(precision, rows, cols, *, device=XCVU9P):
    """Raise :class:`UserError` unless a ``rows x cols`` build's DSP48E2s (PEs, lanes,
    control) fit ``device``; the message names the largest square array that does."""
    need = dsp_count(precision, rows, cols)
    if need > device["dsp"]:
        side = math.isqrt(device["dsp"] // DSP_PER_PE[precision])
        while dsp_count(precision, side, side) > device["dsp"]:
            side -= 1
        raise UserError(f"array {rows}x{cols} does not fit the XCVU9P: {rows * cols:,} "
                        f"{precision} PEs x {DSP_PER_PE[precision]} DSP48E2 + {cols} lanes x "
                        f"{DSP_PER_LANE[precision]} + {DSP_CONTROL} = {need:,} DSPs, the device "
                        f"has {device['dsp']:,} (largest square array: {side}x{side})")
