"""Accelerator configuration: the model's geometry plus the hardware's parameters.

:class:`AccelConfig` is the one object every block elaborates from. It derives the layer
schedule (tiles, :attr:`AccelConfig.layers`), the memory geometries
(:attr:`AccelConfig.memory_geometry`) and the pipeline latencies (:class:`Timing`, as
:attr:`AccelConfig.timing`) without constructing a block, and rejects combinations the
hardware cannot build with a message that says why. The blocks read their latencies from
here; the cycle model (:mod:`accel.cycles`) does too.

Terms used throughout ``accel/``:

``R x C``
    The systolic array: ``rows`` processing elements down, ``cols`` across. It is
    weight-stationary: PE ``(r, c)`` holds weight ``W[n0 + c, k0 + r]`` of the current tile.
``batch`` (B)
    Queries in flight. A tile streams up to B queries through the array.
tile ``(layer, nt, kt)``
    Output columns ``nt*C .. nt*C + C-1`` and input rows ``kt*R .. kt*R + R-1`` of one layer.
    Tiles run layer by layer, ``nt`` outer, ``kt`` inner, so a column's partial sum for one
    query completes after ``kt_count`` consecutive tiles.
"""

from dataclasses import dataclass
from functools import cached_property

from model.config import PatchINRConfig
from model.support.errors import UserError
from model.support.validate import one_of, positive_int

__all__ = ["AccelConfig", "LayerGeometry", "Timing", "Preset", "BUILD", "SIMULATION",
           "MEMORIES", "WEIGHT_ADDRESS_BITS", "check_precision", "TOP_NAME", "CLOCK_HZ", "PRECISIONS", "MAX_FRAME", "address_bits",
           "FAN_IN", "read_latency", "read_tree_levels", "PIXELS_PER_BEAT",
           "check_pixels_per_beat", "check_dsp_clock", "check_frame_size"]

#: What ``--precision`` accepts: one datapath, or both selected at run time.
PRECISIONS = ("int8", "fp32", "dual")

#: Weight-stream memory ids (the header beat's ``[31:28]``, :mod:`accel.gateware.weight_loader`).
MEMORIES = {"weights_int8": 0, "params": 1, "sine_lut": 2, "weights_fp32": 3, "weights_first": 4}

#: The accelerator clock, in Hz: the frequency frame rates are reported at and the board top
#: makes (:mod:`boards.clocking`, with an MMCM from the VCU118's oscillator) and constrains.
#: A build's clock is its :attr:`accel.flows.build.BuildConfig.clock_hz`, which defaults to
#: this. The one place the number is written.
CLOCK_HZ = 200_000_000

#: The exported core's Verilog module name (and the IP's).
TOP_NAME = "patchinr_core"

#: Bits of a weight packet header's first-word address (``[27:0]``).
WEIGHT_ADDRESS_BITS = 28


def address_bits(depth):
    """Bits of an address into ``depth`` words (at least 1)."""
    return max(1, (depth - 1).bit_length())


def _ceil_div(a, b):
    return -(-a // b)


@dataclass(frozen=True, kw_only=True)
class Preset:
    """A named choice of array, batch and frames: where a job's defaults come from.

    Attributes
    ----------
    name : str
    rows, cols : int
        Systolic array shape.
    batch : int or None
        Queries in flight; ``None``: :meth:`batch_for` the array.
    frame : (int, int) or None
        ``(width, height)`` of the frame the job renders or reports; ``None``: the model
        file's.
    max_frame : (int, int) or None
        Largest frame of the build, rounded down to whole patches by
        :meth:`AccelConfig.fitting`; ``None``: the job's frame itself.
    """

    name: str
    rows: int
    cols: int
    batch: int | None = None
    frame: tuple | None = None
    max_frame: tuple | None = None

    @property
    def array(self):
        return self.rows, self.cols

    def batch_for(self, rows):
        """The preset's batch, or for ``batch=None`` the simulation rule: twice the rows,
        at least 8 (enough queries that a tile's weight reload hides behind them)."""
        return self.batch if self.batch is not None else max(2 * rows, 8)


#: The fixed-size build ``accel.bench`` reports and ``accel.build --array 32x32`` makes
#: (``accel.build``'s default is ``--array auto``): 1,024 PEs, a small build that all three
#: precisions fit with room for a host design. Every 256-wide
#: layer tiles it exactly (8 x 8 tiles); an INT8 build uses 608 of the XCVU9P's 6,840
#: DSP48E2s (two wide rows, then packed pairs: :class:`~accel.plan.ArrayPlan`;
#: FP32 2,208, dual 3,296; :func:`accel.device.dsp_count`). 256 queries in flight hide a
#: tile's weight reload. The largest frame is 1080p.
BUILD = Preset(name="build", rows=32, cols=32, batch=256, frame=(256, 256),
               max_frame=(1920, 1080))

#: ``accel.sim`` per backend. Amaranth simulates a 4x4 array at thousands of cycles a
#: second, enough for small frames only. Verilator's time per frame hardly depends on the
#: array (a larger one runs fewer, costlier cycles) but its compile time grows with it;
#: 16x16 renders a full-size frame of the default model in minutes (README). The build's
#: largest frame is the simulated frame.
SIMULATION = {
    "amaranth": Preset(name="amaranth", rows=4, cols=4),
    "verilator": Preset(name="verilator", rows=16, cols=16),
}

#: Largest frame a build accepts by default (:data:`BUILD`'s).
MAX_FRAME = BUILD.max_frame


@dataclass(frozen=True)
class LayerGeometry:
    """How one layer maps onto the array."""
    index: int
    k: int              # inputs
    n: int              # outputs
    kind: str           # "sine" or "out"
    kt: int             # input tiles, ceil(k / rows)
    nt: int             # output tiles, ceil(n / cols)
    weight_base: int    # first weight-memory word of the layer
    param_base: int     # first lane-parameter word of the layer

    @property
    def tiles(self):
        return self.kt * self.nt


def check_precision(precision, device):
    """Raise :class:`UserError` unless ``device`` (a key of :data:`accel.device.DEVICES`)
    runs ``precision`` builds: an ECP5 runs INT8 only."""
    one_of("precision", precision, PRECISIONS)
    from .device import get_device
    if get_device(device)["family"] == "ecp5" and precision != "int8":
        raise UserError(f"{precision} builds are for the XCVU9P: an ECP5's 18x18 "
                        f"multipliers run the INT8 datapath only")


#: Pixels per ``m_axis_pix`` beat a build may have (Xilinx video IP's choices).
PIXELS_PER_BEAT = (1, 2, 4, 8)


def check_pixels_per_beat(k, model, cols):
    """Raise :class:`UserError` unless ``k`` pixels per beat suit ``model`` on an array of
    ``cols`` columns (:class:`AccelConfig`'s ``pixels_per_beat``)."""
    if isinstance(k, bool) or k not in PIXELS_PER_BEAT:
        raise UserError(f"pixels per beat must be one of "
                        f"{', '.join(map(str, PIXELS_PER_BEAT))}, not {k!r}")
    if model.patch % k:
        raise UserError(f"{k} pixels per beat: must divide the patch size {model.patch} "
                        f"(a beat is part of one patch line)")
    if k * model.channels > cols:
        raise UserError(f"{k} pixels per beat of {model.channels} channels: needs at least "
                        f"{k * model.channels} array columns (one output bank per value of "
                        f"a beat), not {cols}")


def check_dsp_clock(dsp_clock, precision, device):
    """Raise :class:`UserError` unless a ``precision`` build on ``device`` can run its DSP
    slices at ``dsp_clock`` times the fabric clock (:class:`AccelConfig`'s ``dsp_clock``)."""
    if isinstance(dsp_clock, bool) or dsp_clock not in (1, 2):
        raise UserError(f"DSP clock must be 1 or 2 (times the fabric clock), not "
                        f"{dsp_clock!r}")
    from .device import get_device
    if dsp_clock == 2 and (precision != "int8" or get_device(device)["family"] != "xcup"):
        raise UserError(f"a DSP clock of twice the fabric's is for INT8 builds on the "
                        f"XCVU9P (its packed DSP48E2s), not {precision} on the "
                        f"{device.upper()}")


class AccelConfig:
    """Model plus hardware parameters.

    Parameters
    ----------
    model : PatchINRConfig
        Network geometry (from the model file, or the default configuration).
    rows, cols : int
        Systolic array shape. ``cols`` must divide ``rows``: the activation buffer has one
        bank per row (row ``r`` reads input element ``k`` with ``k % rows == r``), and column
        ``c`` then always writes banks ``b`` with ``b % cols == c``, so no two columns ever
        write one bank in the same cycle. ``cols`` must be at least the number of channels
        (one pixel's channels are read from distinct output banks in one cycle).
    batch : int
        Queries in flight per tile (and per batch of the layer schedule).
    precision : {"int8", "fp32", "dual"}
        Datapaths the build carries.
    lut_cols : int
        INT8 builds: array columns whose PEs below the wide rows multiply in LUTs rather
        than DSP48E2s (:class:`~accel.plan.ArrayPlan`); the rest pair up,
        two products per DSP48E2. 0 for FP32 and dual builds.
    max_width, max_height : int
        Largest frame the coordinate generator and the output buffer accept.
    device : str
        Target device (a key of :data:`accel.device.DEVICES`): its on-chip memory bounds
        the build, and it decides how the INT8 array uses its multipliers (two packed
        products per DSP48E2 on the XCVU9P, one per MULT18X18D on an ECP5), and whether
        deep memories read through a pipelined bank tree (:attr:`bank_words`). The core
        computes the same pixels on every device; the cycle model follows each device's
        read latencies.
    bank_words : int, optional
        Words per bank of the deep memories (a power of two; 0: not banked). Default: the
        device's (:func:`accel.device.bank_words`: on an ECP5 the deepest EBR configuration
        of the word's width, not banked on the XCVU9P).
    pixels_per_beat : {1, 2, 4, 8}
        Pixels per ``m_axis_pix`` beat (Xilinx video IP's "pixels per clock"): a divisor
        of the patch size, so that a beat is part of one patch line, whose
        ``pixels_per_beat * channels`` values sit in distinct output banks (at most
        ``cols`` of them). Lifts the output's one pixel per cycle, which bounds a frame
        at large patch sizes.
    dsp_clock : {1, 2}
        INT8 builds on the XCVU9P: the clock of the packed DSP48E2s as a multiple of the
        fabric clock. At 2 two rows' packed pairs share each slice, which runs in the
        ``fast`` domain (:class:`~accel.gateware.int8.pumped.PumpedPair`): twice the
        multiplies per DSP48E2 and fabric cycle.
    """

    def __init__(self, *, model, rows=4, cols=4, batch=16, precision="int8", lut_cols=0,
                 max_width=MAX_FRAME[0], max_height=MAX_FRAME[1], device="xcvu9p",
                 bank_words=None, pixels_per_beat=1, dsp_clock=1):
        if not isinstance(model, PatchINRConfig):
            raise TypeError(f"model must be a PatchINRConfig, not {model!r}")
        for name, v in (("array rows", rows), ("array columns", cols), ("batch", batch),
                        ("maximum width", max_width), ("maximum height", max_height)):
            positive_int(name, v)
        if rows % cols:
            raise UserError(f"array {rows}x{cols}: the column count must divide the row count")
        if cols < model.channels:
            raise UserError(f"array {rows}x{cols}: needs at least {model.channels} columns "
                            f"for {model.channels}-channel pixels")
        one_of("precision", precision, PRECISIONS)
        if not isinstance(lut_cols, int) or isinstance(lut_cols, bool) or lut_cols < 0:
            raise UserError(f"LUT columns must be a non-negative integer, not {lut_cols!r}")
        if lut_cols > cols:
            raise UserError(f"array {rows}x{cols}: {lut_cols} LUT columns is more than "
                            f"the {cols} columns")
        if lut_cols and precision != "int8":
            raise UserError(f"LUT columns are for INT8 builds; a {precision} build's PEs "
                            f"are all fabric and DSP48E2 already")
        if max_width % model.patch or max_height % model.patch:
            raise UserError(f"maximum frame {max_width}x{max_height} is not divisible by the "
                            f"patch size {model.patch}")
        if max_width > 32767 or max_height > 32767:
            raise UserError("maximum frame side is 32767 pixels")
        check_pixels_per_beat(pixels_per_beat, model, cols)
        self.pixels_per_beat = pixels_per_beat
        self.model = model
        self.rows, self.cols, self.batch = rows, cols, batch
        self.precision = precision
        self.lut_cols = lut_cols
        self.max_width, self.max_height = max_width, max_height
        from .device import get_device
        self.device = device
        self._device = get_device(device)
        check_dsp_clock(dsp_clock, precision, device)
        self.dsp_clock = dsp_clock
        if bank_words is not None and (
                not isinstance(bank_words, int) or isinstance(bank_words, bool)
                or bank_words < 0 or bank_words & (bank_words - 1)):
            raise UserError(f"bank words must be 0 or a power of two, not {bank_words!r}")
        self._bank_words = bank_words
        check_precision(precision, device)
        self._check_widths()

    def _check_widths(self):
        # What the host sees of a build must fit the fields that report it, and every memory
        # must be addressable by a weight packet's header: refuse here, with the limit,
        # rather than elaborate a core that reports or loads the wrong thing.
        from .host.registers import check_fits
        check_fits(HWINFO_ROWS=self.rows, HWINFO_COLS=self.cols,
                   HWINFO_CHANNELS=self.model.channels, LAYERS_SINE_LAYERS=self.model.layers,
                   LAYERS_HIDDEN=self.model.hidden)
        from .device import onchip_bits
        have = onchip_bits(self._device)
        if self.onchip_bits > have:
            raise UserError(
                f"this build needs {self.onchip_bits / 1e6:,.1f} Mbit of on-chip memory "
                f"(weights {self.weight_bits / 1e6:,.1f}, activation and output buffers "
                f"{(self.onchip_bits - self.weight_bits) / 1e6:,.1f}), more than the "
                f"{self.device.upper()}'s {have / 1e6:,.1f} Mbit of block RAM: use a smaller "
                f"model, batch, array or frame")
        for name, (depth, _) in self.memory_geometry.items():
            if depth > 1 << WEIGHT_ADDRESS_BITS:
                raise UserError(f"memory {name} would hold {depth:,} words, more than a weight "
                                f"packet's {WEIGHT_ADDRESS_BITS}-bit address reaches "
                                f"({1 << WEIGHT_ADDRESS_BITS:,}): use a larger array")

    @classmethod
    def fitting(cls, *, model, max_frame=MAX_FRAME, **kwargs):
        """The configuration whose largest frame is ``max_frame`` rounded down to whole
        patches (1920x1080 becomes 1920x1072 at n = 16); other keywords as the constructor."""
        w, h = max_frame
        return cls(model=model, max_width=w - w % model.patch, max_height=h - h % model.patch,
                   **kwargs)

    def replace(self, **changes):
        """This configuration with some constructor arguments changed (checked again)."""
        args = dict(model=self.model, rows=self.rows, cols=self.cols, batch=self.batch,
                    precision=self.precision, lut_cols=self.lut_cols,
                    max_width=self.max_width, max_height=self.max_height, device=self.device,
                    bank_words=self._bank_words, pixels_per_beat=self.pixels_per_beat,
                    dsp_clock=self.dsp_clock)
        unknown = set(changes) - set(args)
        if unknown:
            raise TypeError(f"unknown AccelConfig argument(s): {', '.join(sorted(unknown))}")
        return AccelConfig(**{**args, **changes})

    def __repr__(self):
        lut = f", lut_cols={self.lut_cols}" if self.lut_cols else ""
        dev = f", device={self.device!r}" if self.device != "xcvu9p" else ""
        if self._bank_words is not None:
            dev += f", bank_words={self._bank_words}"
        if self.pixels_per_beat != 1:
            dev += f", pixels_per_beat={self.pixels_per_beat}"
        if self.dsp_clock != 1:
            dev += f", dsp_clock={self.dsp_clock}"
        return (f"AccelConfig(rows={self.rows}, cols={self.cols}, batch={self.batch}, "
                f"precision={self.precision!r}{lut}, patch={self.model.patch}, "
                f"widths={self.model.widths}{dev})")

    # Datapaths -----------------------------------------------------------------------------

    @property
    def device_family(self):
        """The device's family (``"xcup"``, ``"ecp5"``): which primitives its core may use
        (:mod:`accel.gateware.cells`) and how its array is laid out."""
        return self._device["family"]

    @property
    def has_int8(self):
        return self.precision in ("int8", "dual")

    @property
    def has_fp32(self):
        return self.precision in ("fp32", "dual")

    @property
    def elem_bits(self):
        """Bits of one activation element (INT8 activations use the low 8 bits)."""
        return 32 if self.has_fp32 else 8

    @property
    def param_bits(self):
        """Bits of one lane parameter entry: INT8 ``bias[31:0] m[47:32] s[53:48]``, then the
        FP32 bias in the next 32 bits when the build carries FP32."""
        return (64 if self.has_int8 else 0) + (32 if self.has_fp32 else 0)

    @cached_property
    def int8_plan(self):
        """The :class:`~accel.plan.ArrayPlan` of this shape's INT8 array: :attr:`array_plan`
        for an INT8 build; for a dual build, whose generic array has none, the plan an
        INT8 build of the same shape has, whose schedule its INT8 jobs keep
        (:meth:`timing_for`). ``None`` for an FP32 build."""
        if not self.has_int8:
            return None
        from .plan import ArrayPlan
        return ArrayPlan(rows=self.rows, cols=self.cols,
                         wide_rows=min(self.rows, self.model.coords), lut_cols=self.lut_cols,
                         packed=self.device_family == "xcup", pumped=self.dsp_clock == 2)

    @cached_property
    def array_plan(self):
        """The INT8 array's :class:`~accel.plan.ArrayPlan` (which PE sits
        where), or ``None`` for FP32 and dual builds (one generic PE everywhere). Its wide
        rows are the ones that see the first layer's coordinates."""
        return self.int8_plan if self.precision == "int8" else None

    # Geometry ------------------------------------------------------------------------------

    @cached_property
    def layers(self):
        """:class:`LayerGeometry` of every layer, first to last."""
        out, wbase, pbase = [], 0, 0
        shapes = self.model.layer_shapes
        for i, (n, k) in enumerate(shapes):
            g = LayerGeometry(index=i, k=k, n=n, kind="out" if i == len(shapes) - 1 else "sine",
                              kt=_ceil_div(k, self.rows), nt=_ceil_div(n, self.cols),
                              weight_base=wbase, param_base=pbase)
            out.append(g)
            wbase += g.tiles * self.rows
            pbase += g.nt
        return tuple(out)

    @property
    def weight_depth(self):
        """Words of the weight memory (each word: one weight per column)."""
        last = self.layers[-1]
        return last.weight_base + last.tiles * self.rows

    @property
    def param_depth(self):
        """Words of the lane-parameter memory (bias, multiplier, shift per column)."""
        last = self.layers[-1]
        return last.param_base + last.nt

    @property
    def tiles_per_batch(self):
        return sum(g.tiles for g in self.layers)

    @property
    def act_words(self):
        """Words per query per activation bank: ``ceil(hidden / rows)``."""
        return _ceil_div(self.model.hidden, self.rows)

    @property
    def act_depth(self):
        """Depth of each activation bank: two halves (ping-pong) of ``batch * act_words``."""
        return 2 * self.batch * self.act_words

    @property
    def pix_bits(self):
        """Bits of an ``m_axis_pix`` beat: ``pixels_per_beat`` pixels of ``channels``
        bytes."""
        return 8 * self.model.channels * self.pixels_per_beat

    @property
    def patches_per_row_max(self):
        return self.max_width // self.model.patch

    @property
    def out_slots(self):
        """Capacity, in queries, of the output patch ring: two batches and two patch rows,
        so that a batch's results are written while the previous batch's patch rows are
        still being read out (with one batch and one row, the array would wait for the
        output after every batch whenever a batch takes longer to send than to compute)."""
        return 2 * (self.patches_per_row_max + self.batch)

    @property
    def out_words(self):
        """Words per query per output bank (``ceil(out_features / cols)``)."""
        return _ceil_div(self.model.out_features, self.cols)

    @property
    def out_stride(self):
        """Addresses per query slot in an output bank: :attr:`out_words` rounded up to a
        power of two, so that a slot's address is its number and the word side by side
        (no multiplier on the output unit's write path)."""
        return 1 << (self.out_words - 1).bit_length()

    @cached_property
    def memory_geometry(self):
        """``{name: (depth, word_bits)}`` of the weight-buffer memories this build carries
        (names as :data:`MEMORIES`)."""
        geo = {"params": (self.param_depth, self.cols * self.param_bits)}
        if self.has_int8:
            first = self.first_words
            geo["weights_first"] = (first, self.cols * 16)
            geo["weights_int8"] = (self.weight_depth - first, self.cols * 8)
            geo["sine_lut"] = (1 << self.model.quant.phase_bits, 8)
        if self.has_fp32:
            geo["weights_fp32"] = (self.weight_depth, self.cols * 32)
        return geo

    def bank_words(self, width):
        """Words per bank of a ``width``-bit memory deeper than the device's block RAMs hold
        side by side (:class:`~accel.gateware.banked_memory.BankedMemory`), or ``None``
        where memories are not banked (the XCVU9P by default)."""
        if self._bank_words is not None:
            return self._bank_words or None
        from .device import bank_words
        return bank_words(self._device, width)

    @property
    def weight_read_latency(self):
        """Cycles from a weight-buffer read address to its word (every weight memory's
        read lines up with the slowest one's)."""
        return max(read_latency(depth, self.bank_words(bits))
                   for name, (depth, bits) in self.memory_geometry.items()
                   if name.startswith("weights_"))

    @property
    def act_read_latency(self):
        """Cycles from an activation-bank read address to its element."""
        return read_latency(self.act_depth, self.bank_words(self.elem_bits))

    @property
    def psum_read_latency(self):
        """Cycles from a partial-sum read address to its word: 1, or 2 where the device's
        memories are banked (:meth:`bank_words`), whose block RAM read is then registered
        beside it (on the ULX3S 85F the read otherwise crossed the die to the array's top
        in the same cycle, the core's critical path)."""
        return 1 if self.bank_words(32) is None else 2

    @property
    def weight_addr_bits(self):
        """Bits of an address into the weight address space (``weight_depth`` words, the
        first layer's first): the sequencer's reload pointer and the buffers' read port."""
        return address_bits(self.weight_depth)

    @property
    def buffer_addr_bits(self):
        """Bits of a weight-buffer write address: the deepest memory of the build."""
        return address_bits(max(depth for depth, _ in self.memory_geometry.values()))

    @property
    def param_addr_bits(self):
        """Bits of a lane-parameter address (``param_depth`` words)."""
        return address_bits(self.param_depth)

    @property
    def first_words(self):
        """Weight words of the first layer (the start of the weight address space)."""
        return self.layers[1].weight_base

    @property
    def weight_bits(self):
        """Bits held by every weight buffer (weights, lane parameters and every lane's sine
        table)."""
        return sum(depth * bits * (self.cols if name == "sine_lut" else 1)
                   for name, (depth, bits) in self.memory_geometry.items())

    @property
    def buffer_bits(self):
        """Bits of the datapath's and the output unit's memories: activation banks,
        partial sums, coordinates and the output patch ring."""
        act = self.rows * self.act_depth * self.elem_bits
        psum = self.cols * self.batch * 32
        coords = 2 * self.batch * 16 * self.model.coords
        ring = self.cols * self.out_slots * self.out_stride * 8
        return act + psum + coords + ring

    @property
    def onchip_bits(self):
        """Every memory bit of the build: :attr:`weight_bits` and :attr:`buffer_bits`."""
        return self.weight_bits + self.buffer_bits

    @property
    def precisions(self):
        """The precisions a job on this build may ask for: ``("int8",)``, ``("fp32",)`` or,
        for a dual build, ``("int8", "fp32")``."""
        return tuple(p for p, has in (("int8", self.has_int8), ("fp32", self.has_fp32)) if has)

    @cached_property
    def timing(self):
        """The build's pipeline latencies and schedule constants (:class:`Timing`); a dual
        build's are its FP32 jobs' (the slower), :meth:`timing_for` gives each."""
        return self.timing_for(None)

    def timing_for(self, precision):
        """The :class:`Timing` of this build's jobs of ``precision`` (``None``: the build's
        own, FP32 for a dual build). A dual build runs each job on the schedule of the
        single-precision build of its shape (its INT8 jobs on the :attr:`int8_plan`'s), so
        that a job takes the same cycles on either build (where both read their memories
        in the same cycles: not banked, :meth:`bank_words`)."""
        if precision is None:
            precision = "fp32" if self.has_fp32 else "int8"
        if precision not in self.precisions:
            raise UserError(f"this {self.precision} build runs no {precision} jobs")
        cache = self.__dict__.setdefault("_timings", {})
        if precision not in cache:
            cache[precision] = Timing(self, precision)
        return cache[precision]

    def check_frame(self, width, height):
        """Raise :class:`UserError` unless a ``width x height`` frame can be rendered."""
        check_frame_size(width, height, patch=self.model.patch, max_width=self.max_width,
                         max_height=self.max_height)


def check_frame_size(width, height, *, patch, max_width, max_height):
    """Raise :class:`UserError` unless a ``width x height`` frame is whole ``patch x
    patch`` patches within a build's largest frame (:meth:`AccelConfig.check_frame`,
    also before a build's configuration exists)."""
    for name, v, vmax in (("width", width, max_width), ("height", height, max_height)):
        positive_int(f"frame {name}", v)
        if v > vmax:
            raise UserError(f"frame {name} {v} exceeds the build's maximum {vmax}")
    if width % patch or height % patch:
        raise UserError(f"frame size {width}x{height} is not divisible by the model's "
                        f"patch size {patch}")


#: Banks (or groups) a deep memory's read tree joins in one registered level
#: (:class:`~accel.gateware.banked_memory.BankedMemory`): a 4-input OR is one LUT4.
FAN_IN = 4


def read_tree_levels(banks):
    """Registered levels of a ``banks``-way read tree of :data:`FAN_IN`-way ORs."""
    levels, n = 0, banks
    while n > 1:
        n = -(-n // FAN_IN)
        levels += 1
    return levels


def read_latency(depth, bank_depth):
    """Cycles from a read address to its data in a memory of ``depth`` words banked by
    ``bank_depth`` (:class:`~accel.gateware.banked_memory.BankedMemory`): 1 unbanked
    (``bank_depth`` ``None`` or at least ``depth``), else the block RAM's read, the banks'
    output registers and one per level of the read tree."""
    if bank_depth is None or depth <= bank_depth:
        return 1
    return 2 + read_tree_levels(-(-depth // bank_depth))


class Timing:
    """Pipeline latencies and schedule constants of a build, in cycles.

    Derived from the configuration alone: the blocks read theirs from here
    (:attr:`AccelConfig.timing`), and so does the cycle model, so no number has to be asked
    of an elaborated block. See :mod:`accel.gateware.sequencer` for the schedule they set.
    """

    #: The sequencer's output register: its issue records, weight reads and batch
    #: releases reach the datapath and the batcher one cycle after the schedule decides
    #: them (:class:`~accel.gateware.sequencer.Sequencer`).
    ISSUE = 1

    #: INT8 post-processing of a lane (:class:`~accel.gateware.postproc.PostLane`): the
    #: requantization product with its input, product and output registers (3), the
    #: rounding shift in two steps (2), the rounding add (1), clamp and phase (1), the
    #: sine-table read (1) and the result register (1).
    INT8_POST = 9

    #: The output unit (:class:`~accel.gateware.scatter.PatchScatter`): ``committed``
    #: register, address register, memory read, the banks' value registers, the output
    #: FIFO's write and read (two), and the output register.
    SCATTER = 7

    #: Width of the coordinate generator's per-frame divisions (frame sides and the
    #: coordinate scale fit 16 bits).
    COORD_DIV_WIDTH = 16

    #: Cycles an axis of the coordinate generator spends after its division, deriving
    #: its step and first centre in registered steps.
    COORD_DERIVE = 2

    #: The datapath's activation write register: a layer's results reach the activation
    #: banks one cycle after the lanes deliver them.
    ACT_WRITE = 1

    #: The INT8 multiply-accumulate (:class:`~accel.formats.int8.Int8Mac`): one register.
    INT8_MAC = 1
    #: FP32 multiplier (:class:`~accel.formats.float32.mul.FpMul`) and adder
    #: (:class:`~accel.formats.float32.add.FpAdd`), operands to result.
    FP32_MUL = 3
    FP32_ADD = 3
    #: The FP32 multiply-accumulate: the product, then the sum.
    FP32_MAC = FP32_MUL + FP32_ADD
    #: FP32 sine unit (:class:`~accel.formats.float32.sine.FpSine`) and pixel converter
    #: (:class:`~accel.formats.float32.to_pixel.FpToPixel`).
    FP32_SINE = 5
    FP32_TO_PIXEL = 1
    #: FP32 post-processing of a lane (:class:`~accel.formats.float32.post.Fp32Post`): the
    #: slower of its two paths, the other delayed to match.
    FP32_POST = max(FP32_SINE, FP32_TO_PIXEL)

    @staticmethod
    def divider(width):
        """Cycles of a ``width``-bit :class:`~accel.gateware.divider.SequentialDivider`
        from its ``start`` cycle to its ``done`` cycle: one load, one per bit."""
        return width + 1

    def __init__(self, config, precision=None):
        self.config = config
        R, C = config.rows, config.cols
        if precision is None:
            precision = "fp32" if config.has_fp32 else "int8"
        #: The precision of the jobs this schedule is for (a dual build has one per mode).
        self.precision = precision
        int8 = precision == "int8"
        plan = config.int8_plan if int8 else None
        #: Issue to array input: the activation bank's read (:attr:`AccelConfig.act_read_latency`:
        #: 1, more where the device's memories are banked) and the feed register (1).
        self.FEED = config.act_read_latency + 1
        #: Row-to-row skew of the array: one cycle in INT8 (the INT8 array's partial sums
        #: cascade one row per cycle, and a dual PE's INT8 sum is registered once), the
        #: FP32 multiply-accumulate's latency in FP32.
        self.pe = self.INT8_MAC if int8 else self.FP32_MAC
        #: ``psum_top`` to ``psum_bottom`` of a column (a dual build's INT8 columns are padded
        #: to the INT8 array's, :class:`~accel.gateware.datapath.Datapath`).
        self.array = plan.latency if int8 else R * self.pe
        #: ``w_load`` to the shadow load it causes, beyond one cycle: the weight buffer's
        #: read past its first cycle, and the INT8 array's load-enable tree (a dual build's
        #: generic array loads sooner; its INT8 schedule keeps the INT8 array's margin).
        self.load_delay = (plan.load_delay if int8 else 0) + config.weight_read_latency - 1
        #: Lane post-processing latency of the precision.
        self.post = self.INT8_POST if int8 else self.FP32_POST
        # The reload of the next tile's weights starts after this tile's last swap (row
        # rows-1) and takes `rows` cycles (plus the load delay) inside this tile's period;
        # the partial sums of one input tile must be written before the next input tile
        # reads them (its read address goes out `psum_read_latency` cycles before the
        # column's top takes the word).
        self.tile_min = max(self.FEED + (R - 1) * self.pe - 1 + R + self.load_delay,
                            self.array + 1 + config.psum_read_latency)
        self.wload_start = self.FEED + (R - 1) * self.pe - 1
        #: Last issue of a layer to the first issue of the next (its reads follow the
        #: last activation write).
        self.drain = self.FEED + (C - 1) + self.array + self.post + self.ACT_WRITE
        #: Issue to the write of lane ``c``'s result: ``result_tap + c``.
        self.result_tap = self.FEED + self.array + self.post
        self.depth = self.result_tap + C
        #: Coordinate generator: one cycle to issue a division, then the divider.
        self.division = 1 + self.divider(self.COORD_DIV_WIDTH)
        n = config.model.patch
        #: ``log2(n)`` when the patch size is a power of two (patch counts are then a
        #: shift), else ``None`` (they take a division per axis).
        self.patch_shift = n.bit_length() - 1 if n & (n - 1) == 0 else None
        #: ``start`` to the patch counts (``info_valid``).
        self.coord_info = 1 if self.patch_shift is not None else 1 + 2 * self.division
        #: ``start`` to the first query: a division per axis, and one per axis for the
        #: patch counts unless ``n`` is a power of two.
        # A video build divides once more (the clip's t step) and spends one cycle
        # entering the first frame (plus one per skipped frame: FIRST_FRAME).
        divisions = (2 if self.patch_shift is not None else 4) + (1 if config.model.is_video
                                                                  else 0)
        axes = 3 if config.model.is_video else 2
        self.coord_setup = (1 + divisions * self.division + axes * self.COORD_DERIVE
                            + (1 if config.model.is_video else 0))
        #: ``committed`` covering a readable row or query to its first pixel.
        self.scatter = self.SCATTER

    def period(self, length, *, last_of_layer):
        """Cycles from a tile's first issue to the next tile's."""
        p = max(length, self.tile_min)
        return max(p, length + self.drain) if last_of_layer else p
