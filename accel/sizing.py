"""``--array auto``: the array, batch and LUT columns that do the most useful work per cycle
on the device, within its routing margins.

The search runs on figures known without elaborating anything: the DSP48E2 count of every
block (:mod:`accel.device`), the on-chip memory of the configuration, and a LUT budget
built from Yosys's cost of one PE of each kind and one lane (:data:`LUT_COST`, held to
Yosys by the tests); each candidate's speed is the validated cycle model's
(:mod:`accel.cycles`) on the largest frame of the build. The build's own Yosys estimate
then checks the choice.
"""

from dataclasses import dataclass

from model.support.errors import UserError

from .config import CLOCK_HZ, PIXELS_PER_BEAT, AccelConfig
from .cycles import frame_cycles, frame_cycles_floor, useful_macs
from .device import DSP_CONTROL, DSP_PER_LANE, dsp_count, get_device, margins, onchip_bits

__all__ = ["LUT_COST", "Choice", "auto_array", "throughput", "pixels_per_beat",
           "BEAT_TOLERANCE", "plan_budget", "lut_estimate", "FF_COST"]

#: LUTs of one block as Yosys 0.23 ``synth_xilinx -family xcup`` maps it, a DSP48E2's
#: registers and post-adder counted inside it (:func:`accel.flows.synth.estimate`): the
#: INT8 array's LUT PE, the fabric around a packed pair or a single-DSP PE below the wide
#: rows (per row of a column group: cascade splits, partial-sum delay lines, load tree),
#: the fabric of a double-pumped slice (its operand multiplexers and two partial-sum
#: adders, :class:`~accel.gateware.int8.pumped.PumpedPair`), the FP32 and dual PE, each
#: precision's lane; and what the rest of a core (control, buffers' logic) takes at most,
#: as a share of the device.
LUT_COST = {
    "int8_lut_pe": 132, "int8_pair_row": 19, "int8_dsp_row": 1, "int8_pumped": 119,
    "fp32_pe": 656,
    "dual_pe": 727, "lane_int8": 231, "lane_fp32": 654, "lane_dual": 994,
    "rest_share": 0.03,
}

#: Flip-flops of the INT8 array's blocks on the XCVU9P, from Yosys 0.70 ``synth_xilinx`` of
#: 128-row column groups (registers a DSP48E2 absorbs counted inside it): a wide-row PE, a
#: packed row of a pair group (its PE, delay lines and load pipeline), the same pumped
#: (two rows share a slice, each keeps weights and sum in fabric), a row of a single-DSP and
#: of a LUT column, the INT8 lane, and the rest of a core (memories' logic, control) as a
#: share of the device. A pumped array's registers, not its LUTs, are what bound it.
FF_COST = {"int8_wide_pe": 49, "int8_pair_row": 110, "int8_pumped_row": 240,
           "int8_dsp_row": 43, "int8_lut_row": 123, "lane_int8": 352, "rest_share": 0.01}

#: The same for the ECP5 as Yosys 0.70 ``synth_ecp5`` maps it, in LUT4s (a CCU2C carry cell
#: counted as the two LUT4s it holds): the LUT PE, the fabric of a single-multiplier PE
#: below the wide rows (its partial-sum adder), the INT8 lane, and the rest of the core.
LUT_COST_ECP5 = {"int8_lut_pe": 309, "int8_dsp_row": 47, "lane_int8": 411, "rest_share": 0.06}

#: Batches the search tries.
BATCHES = (64, 128, 256, 512, 1024, 2048, 4096)


def throughput(config, width, height, *, clock_hz=CLOCK_HZ, frames=1):
    """``(useful MACs per cycle, fps at clock_hz)`` of a ``width x height`` frame (a video
    build: of a clip of ``frames`` such frames, one job)."""
    n = config.model.patch
    cycles = frame_cycles(config, width, height, clock_hz=clock_hz, frames=frames)
    return (useful_macs(config, (width // n) * (height // n) * frames) / cycles["total"],
            cycles["fps"])


#: How close to the widest beat's speed a narrower beat must come to be chosen: the output
#: then keeps up with the array, and a wider beat buys nothing but wider multiplexers.
BEAT_TOLERANCE = 0.01


def pixels_per_beat(config, width, height, *, clock_hz=CLOCK_HZ, frames=1):
    """The fewest pixels per ``m_axis_pix`` beat (:data:`accel.config.PIXELS_PER_BEAT`,
    those ``config``'s patch size and columns allow) whose ``width x height`` frame is
    within :data:`~accel.sizing.BEAT_TOLERANCE` of the widest beat's MACs per cycle: one pixel per
    cycle bounds a frame at large patches (96 fps at 1080p and 200 MHz). A video build's
    ``frames``: the clip's length, rendered in one job."""
    return _beat(config, width, height, clock_hz=clock_hz, frames=frames)[0]


def _beat(config, width, height, *, clock_hz, frames):
    """:func:`pixels_per_beat` and that beat's :func:`throughput` (computed on the way)."""
    n, ch = config.model.patch, config.model.channels
    options = [k for k in PIXELS_PER_BEAT if n % k == 0 and k * ch <= config.cols]
    rates = {k: throughput(config.replace(pixels_per_beat=k), width, height,
                           clock_hz=clock_hz, frames=frames) for k in options}
    best = max(macs for macs, _ in rates.values())
    k = min(k for k in options if rates[k][0] >= (1 - BEAT_TOLERANCE) * best)
    return k, rates[k]


def lut_estimate(config):
    """LUTs of a build from :data:`LUT_COST` (``LUT_COST_ECP5`` on an ECP5): the
    search's budget; Yosys (or nextpnr) has the last word."""
    if config.array_plan is None:
        device = get_device(config.device)
        costs = LUT_COST_ECP5 if device["family"] == "ecp5" else LUT_COST
        return (config.rows * config.cols * LUT_COST[f"{config.precision}_pe"]
                + config.cols * costs[f"lane_{config.precision}"]
                + costs["rest_share"] * device["lut"])
    return plan_budget(config.array_plan, device=config.device)["lut"]


def plan_budget(plan, *, device="xcvu9p"):
    """``{"dsp", "lut"}`` (and ``"ff"`` on the XCVU9P) of an INT8 build whose array is
    ``plan`` (an :class:`~accel.plan.ArrayPlan`), from :data:`LUT_COST`, :data:`FF_COST`
    and the DSP counts of
    :mod:`accel.device`, without a configuration: what :func:`~accel.sizing.lut_estimate` and
    :func:`accel.device.dsp_count` give a build, for shapes a build may not take (the
    search's reasoning about arrays beyond the register map's 255 rows)."""
    C = plan.cols
    device = get_device(device)
    costs = LUT_COST_ECP5 if device["family"] == "ecp5" else LUT_COST
    rest = costs["rest_share"] * device["lut"]
    lane = C * costs["lane_int8"]
    dsp = plan.dsps + C * DSP_PER_LANE["int8"] + DSP_CONTROL
    array = (plan.lut_pes * costs["int8_lut_pe"]
             + plan.packed_rows * (plan.pairs * costs.get("int8_pair_row", 0)
                                   + (plan.single_cols + plan.lut_cols)
                                   * costs["int8_dsp_row"]))
    if plan.pumped:
        array += plan.pairs * plan.pair_dsp_rows * costs["int8_pumped"]
    out = {"dsp": dsp, "lut": array + lane + rest}
    if device["family"] == "xcup":
        f = FF_COST
        out["ff"] = (plan.wide_rows * C * f["int8_wide_pe"]
                     + plan.packed_rows * (plan.pairs * f["int8_pumped_row" if plan.pumped
                                                         else "int8_pair_row"]
                                           + plan.single_cols * f["int8_dsp_row"]
                                           + plan.lut_cols * f["int8_lut_row"])
                     + C * f["lane_int8"] + f["rest_share"] * device["ff"])
    return out


@dataclass(frozen=True)
class Choice:
    """What :func:`auto_array` picked, and why."""
    config: AccelConfig
    macs_per_cycle: float
    fps: float
    considered: int
    dsp: int
    lut: float
    onchip_bits: int
    clock_hz: int = CLOCK_HZ
    frames: int = 1

    def reason(self):
        c = self.config
        lut = f", {c.lut_cols} LUT columns" if c.lut_cols else ""
        if c.pixels_per_beat > 1:
            lut += f", {c.pixels_per_beat} pixels per beat"
        dsp = "MULT18X18D" if get_device(c.device)["family"] == "ecp5" else "DSP48E2"
        mg = margins(get_device(c.device))
        frame = (f"a {c.max_width}x{c.max_height} frame" if self.frames == 1 else
                 f"a clip of {self.frames} {c.max_width}x{c.max_height} frames")
        return (f"--array auto: {c.rows}x{c.cols}{lut}, batch {c.batch}: "
                f"{self.macs_per_cycle:,.0f} useful MACs/cycle on {frame} "
                f"({self.fps:.1f} fps at {self.clock_hz / 1e6:g} MHz), "
                f"the most of {self.considered} arrays that fit the {c.device.upper()} within "
                f"DSP {mg['dsp']:.0%}, LUT {mg['lut']:.0%} and memory "
                f"{mg['bram36']:.0%} ({self.dsp:,} {dsp}, ~{self.lut:,.0f} LUT, "
                f"{self.onchip_bits / 1e6:.1f} Mbit on chip)")


def _fits(config):
    device = get_device(config.device)
    dsp = dsp_count(config)
    lut = lut_estimate(config)
    bits = config.onchip_bits
    mg = margins(device)
    ok = (dsp <= mg["dsp"] * device["dsp"] and lut <= mg["lut"] * device["lut"]
          and bits <= mg["bram36"] * onchip_bits(device))
    # The INT8 array's registers (FP32 and dual builds are bound by their LUTs first).
    if config.array_plan is not None and device["family"] == "xcup":
        ok = ok and plan_budget(config.array_plan)["ff"] <= mg["ff"] * device["ff"]
    return ok, dsp, lut, bits


def auto_array(model, *, precision, max_frame, progress=None, device="xcvu9p",
               clock_hz=CLOCK_HZ, frames=1, dsp_clock=1):
    """The :class:`Choice` of array (rows a multiple of the columns, powers of two
    across), LUT columns (INT8) and batch with the most useful MACs per cycle on
    ``max_frame`` (rounded down to whole patches), within :func:`accel.device.margins` of
    ``device`` (a key of :data:`accel.device.DEVICES`), with the pixels per beat that
    let its output keep up (:func:`pixels_per_beat`). A video model's speed is that of a
    clip of ``frames`` frames in one job, as its build renders them. ``dsp_clock = 2``
    sizes arrays whose packed DSP48E2s run at twice the fabric clock."""
    w, h = max_frame
    w, h = w - w % model.patch, h - h % model.patch
    fitting = []
    cols_options = [c for c in (1 << k for k in range(12)) if model.channels <= c <= 512]
    for cols in cols_options:
        for rows in range(cols, 513, cols):
            for batch in BATCHES:
                config = _cheapest_fit(dict(model=model, rows=rows, cols=cols, batch=batch,
                                            precision=precision, max_width=w, max_height=h,
                                            device=device, dsp_clock=dsp_clock))
                if config is not None:
                    fitting.append(config)
    if not fitting:
        raise UserError(f"no {precision} array fits the {device.upper()} within its margins")
    # Largest arrays first: one whose every PE is busy every cycle cannot beat the best
    # found so far, so the cycle model runs on a few candidates only.
    fitting.sort(key=lambda c: (-c.rows * c.cols, c.batch))
    # Nor can one whose tiles alone take too long (frame_cycles_floor), or, on a device
    # that prefers small batches, come within its tolerance (_smallest_batch).
    keep = 1 - get_device(device).get("batch_tolerance", 0.0)
    best, evaluated, evaluated_choices = None, 0, []
    for config in fitting:
        if best is not None and config.rows * config.cols < best[0][0]:
            break
        if best is not None:
            floor = frame_cycles_floor(config, w, h, frames=frames)
            most = useful_macs(config, (w // model.patch) * (h // model.patch) * frames) / floor
            if round(most, 3) < best[0][0] and most < keep * best[1].macs_per_cycle:
                continue
        evaluated += 1
        # The output keeps up with the array: as many pixels per beat as that takes.
        beat, (macs, fps) = _beat(config, w, h, clock_hz=clock_hz, frames=frames)
        config = config.replace(pixels_per_beat=beat)
        _, dsp, lut, bits = _fits(config)
        key = (round(macs, 3), -dsp, -lut, -config.batch)
        if best is None or key > best[0]:
            best = (key, Choice(config=config, macs_per_cycle=macs, fps=fps,
                                considered=len(fitting), dsp=dsp, lut=lut, onchip_bits=bits,
                                clock_hz=clock_hz, frames=frames))
        if progress is not None:
            progress(f"auto: {config.rows}x{config.cols} batch {config.batch}: "
                     f"{macs:,.0f} MACs/cycle")
        evaluated_choices.append((macs, config))
    return _smallest_batch(best[1], evaluated_choices, clock_hz)


def _smallest_batch(choice, evaluated, clock_hz):
    """``choice``, or the same array with the smallest batch within the device's
    ``batch_tolerance`` of its MACs per cycle: on an ECP5 block RAM is the scarce resource,
    and a fuller one routes worse (the ULX3S 85F build with batch 512 did not converge in
    nextpnr's router where 128, 0.1 % slower, reached 67.8 MHz)."""
    c = choice.config
    tolerance = get_device(c.device).get("batch_tolerance", 0.0)
    if not tolerance:
        return choice
    same = [cfg for macs, cfg in evaluated
            if (cfg.rows, cfg.cols, cfg.lut_cols) == (c.rows, c.cols, c.lut_cols)
            and macs >= (1 - tolerance) * choice.macs_per_cycle]
    small = min(same, key=lambda cfg: cfg.batch)
    if small.batch == c.batch:
        return choice
    w, h = c.max_width, c.max_height
    macs, fps = throughput(small, w, h, clock_hz=clock_hz, frames=choice.frames)
    _, dsp, lut, bits = _fits(small)
    return Choice(config=small, macs_per_cycle=macs, fps=fps, considered=choice.considered,
                  dsp=dsp, lut=lut, onchip_bits=bits, clock_hz=clock_hz,
                  frames=choice.frames)


def _cheapest_fit(base):
    """The configuration of ``base`` with the fewest LUT columns whose DSP slices fit the
    margin (INT8; ``base`` itself otherwise), if it fits every margin; else ``None``.

    On an ECP5 the search takes no LUT columns: a LUT PE costs 309 LUT4s
    (:data:`LUT_COST_ECP5`) where a MULT18X18D PE costs 47 and one multiplier, and its
    product, two LUT6 levels per stage on the XCVU9P, is a deeper tree of LUT4s that the
    100 MHz ECP5 builds have not been timed with."""
    lut = 0
    if base["precision"] == "int8":
        from .plan import ArrayPlan
        rows, cols = base["rows"], base["cols"]
        wide = min(rows, base["model"].coords)
        device = get_device(base["device"])
        budget = margins(device)["dsp"] * device["dsp"] - cols * DSP_PER_LANE["int8"] - DSP_CONTROL
        packed = device["family"] == "xcup"
        most = cols if packed else 0
        while lut <= most and ArrayPlan(rows=rows, cols=cols, wide_rows=wide, lut_cols=lut,
                                        packed=packed,
                                        pumped=base["dsp_clock"] == 2).dsps > budget:
            lut += 1
        if lut > most:
            return None
    try:
        config = AccelConfig(**base, lut_cols=lut)
    except UserError:
        return None
    return config if _fits(config)[0] else None
