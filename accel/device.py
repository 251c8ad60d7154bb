"""Facts of the target device and what the accelerator costs on it, in one place.

The XCVU9P's resources (the VCU118's part), the DSP48E2 slices each block of a build
takes, and the fit check that refuses an array the device cannot hold before anything is
elaborated. The per-block DSP counts are what Yosys ``synth_xilinx`` makes of each block
(:mod:`accel.flows.synth`); the tests hold these tables to it.
"""

from model.support.errors import UserError

__all__ = ["XCVU9P", "RESOURCES", "DSP_PER_PE", "DSP_PER_LANE", "DSP_CONTROL", "INT8_MACS_LIMIT",
           "MARGINS", "array_dsps", "dsp_count", "check_fit", "onchip_bits"]

#: Device facts of the VCU118's XCVU9P (-2L), for fit checks and utilisation percentages.
XCVU9P = {"part": "xcvu9p-flga2104-2L-e", "lut": 1_182_240, "ff": 2_364_480, "dsp": 6_840,
          "bram36": 2_160, "uram": 960}

#: Resource kinds of an estimate, in report order.
RESOURCES = ("lut", "ff", "dsp", "bram36", "uram")

#: DSP48E2 slices of one generic PE (:class:`~accel.gateware.pe.ProcessingElement`, the
#: FP32 and dual arrays): what ``synth_xilinx`` makes of it. FP32: the 24x24 significand
#: product needs two (24 bits exceed the 18-bit port); the adder is fabric. Dual: both
#: multipliers, as the INT8 product is not folded onto the FP32 one. The INT8 array mixes
#: PEs of one, a half and no DSP48E2 (:attr:`~accel.plan.ArrayPlan.dsps`).
DSP_PER_PE = {"fp32": 2, "dual": 3}

#: DSP48E2 slices of one :class:`~accel.gateware.postproc.PostLane` (one per array column),
#: per precision.
DSP_PER_LANE = {"int8": 2, "fp32": 5, "dual": 7}

#: DSP48E2 slices outside PEs and lanes (patch-size multiplies of the coordinate generator
#: and the output addressing): 4 with patches of 2 and more, none at ``n = 1``. The fit
#: check counts 4 in every build.
DSP_CONTROL = 4

#: INT8 multiplies per cycle the XCVU9P can do in DSP48E2s: two per slice, sharing one
#: operand (AMD WP486). What ``accel.build`` reports a build's throughput against.
INT8_MACS_LIMIT = 2 * XCVU9P["dsp"]

#: Routing margins ``accel.build --array auto`` leaves: the largest fraction of each
#: resource a build may use.
MARGINS = {"lut": 0.70, "ff": 0.70, "dsp": 0.95, "bram36": 0.80, "uram": 0.80}


def onchip_bits(device=XCVU9P):
    """Bits of block RAM (36 Kb each) and UltraRAM (288 Kb each) on ``device``."""
    return device["bram36"] * 36 * 1024 + device["uram"] * 288 * 1024


def array_dsps(config):
    """DSP48E2 slices of a build's array."""
    plan = config.array_plan
    if plan is not None:
        return plan.dsps
    return config.rows * config.cols * DSP_PER_PE[config.precision]


def dsp_count(config):
    """DSP48E2 slices of a build (array, lanes, control), known without synthesis: what
    :func:`accel.flows.synth.estimate` reports (at most)."""
    return array_dsps(config) + config.cols * DSP_PER_LANE[config.precision] + DSP_CONTROL


def check_fit(config, *, device=XCVU9P):
    """Raise :class:`UserError` unless a build's DSP48E2s (array, lanes, control) fit
    ``device``."""
    need = dsp_count(config)
    if need > device["dsp"]:
        lut = f", {config.lut_cols} of them LUT columns" if config.lut_cols else ""
        raise UserError(f"array {config.rows}x{config.cols} ({config.precision}{lut}) does "
                        f"not fit the XCVU9P: {array_dsps(config):,} DSP48E2s in the array + "
                        f"{config.cols} lanes x {DSP_PER_LANE[config.precision]} + "
                        f"{DSP_CONTROL} = {need:,}, the device has {device['dsp']:,} (try "
                        f"--array auto)")
