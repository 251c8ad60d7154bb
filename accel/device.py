"""Facts of the target devices and what the accelerator costs on them, in one place.

The XCVU9P's resources (the VCU118's part) and the Lattice ECP5 LFE5U-85F's and -12F's (the
ULX3S boards' parts), the multipliers each block of a build takes, and the fit check that
refuses an array the device cannot hold before anything is elaborated. On the XCVU9P the
per-block DSP counts are what Yosys ``synth_xilinx`` makes of each block
(:mod:`accel.flows.synth`), on the ECP5 what ``synth_ecp5`` does (one MULT18X18D per INT8
product, no packing); the tests hold these tables to it.
"""

from model.support.errors import UserError

__all__ = ["XCVU9P", "LFE5U_85F", "LFE5UM5G_85F", "LFE5U_12F", "DEVICES", "get_device", "int8_macs_limit",
           "RESOURCES", "DSP_PER_PE", "DSP_PER_LANE", "DSP_CONTROL", "INT8_MACS_LIMIT",
           "MARGINS", "MARGINS_ECP5", "margins", "array_dsps", "dsp_count", "check_fit", "onchip_bits",
           "bank_words", "ecp5_bank_words", "EBR_CONFIGS"]

#: Device facts of the VCU118's XCVU9P (-2L), for fit checks and utilisation percentages.
#: ``dsp``: DSP48E2 slices; ``bram36``/``uram``: 36 Kb block RAMs and 288 Kb UltraRAMs.
XCVU9P = {"name": "xcvu9p", "family": "xcup", "part": "xcvu9p-flga2104-2L-e",
          "lut": 1_182_240, "ff": 2_364_480, "dsp": 6_840, "bram36": 2_160, "uram": 960}

#: The DP16KD's configurations, ``(words, data bits)``, deepest first (Lattice TN1264).
EBR_CONFIGS = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


def ecp5_bank_words(width):
    """Words per bank of a deep ``width``-bit memory on an ECP5: the deepest DP16KD
    configuration as wide as the word (1,024 x 18 slices side by side for wider words),
    so a bank is EBRs side by side with no read multiplexer of its own and the banks' read
    tree is pipelined (:mod:`accel.gateware.banked_memory`): the ECP5's EBRs lie in rows
    across the die, and an unpipelined deep read is a long route."""
    for words, bits in EBR_CONFIGS[:-1]:
        if width <= bits:
            return words
    return 1024


#: The ULX3S 85F's Lattice ECP5 (LFE5U-85F, speed grade 6, CABGA381): Lattice DS1044,
#: table 1.1. ``lut``: LUT4s (two per slice, 41,820 slices), ``dsp``: 18x18 multipliers
#: (MULT18X18D), ``ebr``: 18 Kb embedded block RAMs (DP16KD). ``banked``: deep memories
#: read through a pipelined bank tree (:func:`bank_words`); ``batch_tolerance``:
#: ``--array auto`` takes the smallest batch within this share of the fastest
#: (:func:`accel.sizing.auto_array`). No DSP packs two INT8
#: products, so the INT8 array takes one multiplier per PE (:class:`~accel.plan.ArrayPlan`).
LFE5U_85F = {"name": "lfe5u-85f", "family": "ecp5", "part": "LFE5U-85F-6BG381C",
             "lut": 83_640, "ff": 83_640, "dsp": 156, "ebr": 208, "banked": True,
             "batch_tolerance": 0.01}

#: The ULX3S 12F's ECP5 (LFE5U-12F, the smallest ULX3S): the suite's place-and-route check.
LFE5U_12F = {"name": "lfe5u-12f", "family": "ecp5", "part": "LFE5U-12F-6BG381C",
             "lut": 12_288, "ff": 12_288, "dsp": 28, "ebr": 32, "banked": True,
             "batch_tolerance": 0.01}

#: The ECP5-5G Evaluation Board's ECP5 (LFE5UM5G-85F): the 85F's fabric in speed grade 8, so
#: the same resources as :data:`LFE5U_85F`.
LFE5UM5G_85F = dict(LFE5U_85F, name="lfe5um5g-85f", part="LFE5UM5G-85F-8BG381C")

#: Devices by name (``AccelConfig(device=...)``, ``accel.sim --device``).
DEVICES = {d["name"]: d for d in (XCVU9P, LFE5U_85F, LFE5UM5G_85F, LFE5U_12F)}


def get_device(name):
    """The facts of device ``name`` (a key of :data:`DEVICES`); :class:`UserError` if none."""
    if name not in DEVICES:
        raise UserError(f"unknown device {name!r} (choose {', '.join(DEVICES)})")
    return DEVICES[name]

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

#: DSP slices outside PEs and lanes: none. The control forms every address with counters
#: (the sequencer's issue records) or by placing fields side by side (the output ring's
#: power-of-two slot stride), so no multiplier sits on a control path.
DSP_CONTROL = 0

#: INT8 multiplies per cycle the XCVU9P can do in DSP48E2s: two per slice, sharing one
#: operand (AMD WP486). What ``accel.build`` reports a build's throughput against.
INT8_MACS_LIMIT = 2 * XCVU9P["dsp"]


def int8_macs_limit(device=XCVU9P, *, dsp_clock=1):
    """INT8 multiplies per fabric cycle ``device``'s DSP slices can do: two per DSP48E2
    (:data:`INT8_MACS_LIMIT`), twice that when the slices run at ``dsp_clock = 2`` times
    the fabric clock; one per ECP5 MULT18X18D."""
    return device["dsp"] * (1 if device["family"] == "ecp5" else 2 * dsp_clock)

#: Routing margins ``accel.build --array auto`` leaves: the largest fraction of each
#: resource a build may use.
MARGINS = {"lut": 0.70, "ff": 0.70, "dsp": 0.95, "bram36": 0.80, "uram": 0.80}

#: The same on an ECP5 (:func:`margins`): multipliers at most 55 %. The MULT18X18Ds sit in
#: a few rows of the die and every PE's operands and sums are routed to them: a 16x8 array
#: with 144 of the LFE5U-85F's 156 placed, but nextpnr's router2 still had 3,200 wires
#: overused after 15 iterations (about 25 minutes); half of them route.
MARGINS_ECP5 = {**MARGINS, "dsp": 0.55}


def margins(device=XCVU9P):
    """The routing margins ``--array auto`` leaves on ``device``."""
    return MARGINS_ECP5 if device["family"] == "ecp5" else MARGINS


def bank_words(device, width):
    """Words per bank of a deep ``width``-bit memory on ``device``, or ``None`` where deep
    memories are not banked (the XCVU9P: its block RAMs and UltraRAMs cascade in columns)."""
    return ecp5_bank_words(width) if device.get("banked") else None


def onchip_bits(device=XCVU9P):
    """Bits of block RAM on ``device``: 36 Kb block RAMs and 288 Kb UltraRAMs, or 18 Kb
    EBRs."""
    if device["family"] == "ecp5":
        return device["ebr"] * 18 * 1024
    return device["bram36"] * 36 * 1024 + device["uram"] * 288 * 1024


def array_dsps(config):
    """DSP slices (DSP48E2s, or the ECP5's MULT18X18Ds) of a build's array."""
    plan = config.array_plan
    if plan is not None:
        return plan.dsps
    return config.rows * config.cols * DSP_PER_PE[config.precision]


def dsp_count(config):
    """DSP slices of a build (array, lanes, control), known without synthesis: what
    :func:`accel.flows.synth.estimate` reports (at most) on the XCVU9P, and what
    ``synth_ecp5`` maps on the ECP5 (a lane's 32 x 16 requantising product is two
    MULT18X18Ds there too)."""
    return array_dsps(config) + config.cols * DSP_PER_LANE[config.precision] + DSP_CONTROL


def check_fit(config, *, device=None):
    """Raise :class:`UserError` unless a build's DSP slices (array, lanes, control) fit
    ``device`` (default: the configuration's own)."""
    device = get_device(config.device) if device is None else device
    need = dsp_count(config)
    if need > device["dsp"]:
        lut = f", {config.lut_cols} of them LUT columns" if config.lut_cols else ""
        kind = "MULT18X18D" if device["family"] == "ecp5" else "DSP48E2"
        raise UserError(f"array {config.rows}x{config.cols} ({config.precision}{lut}) does "
                        f"not fit the {device['name'].upper()}: {array_dsps(config):,} {kind}s "
                        f"in the array + {config.cols} lanes x {DSP_PER_LANE[config.precision]}"
                        + (f" + {DSP_CONTROL}" if DSP_CONTROL else "")
                        + f" = {need:,}, the device has {device['dsp']:,} (try --array auto)")
