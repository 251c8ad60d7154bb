"""Accelerator configuration: the model's geometry plus the hardware's parameters.

:class:`AccelConfig` is the one object every block elaborates from. It derives the layer
schedule (tiles), the memory geometries and the pipeline latencies, and rejects
combinations the hardware cannot build with a message that says why.

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
from model.errors import UserError

__all__ = ["AccelConfig", "LayerGeometry", "MAX_FRAME", "PRECISIONS", "XCVU9P"]

#: What ``--precision`` accepts: one datapath, or both selected at run time.
PRECISIONS = ("int8", "fp32", "dual")

#: Largest frame a build accepts by default (rounded down to whole patches by
#: :meth:`AccelConfig.fitting`).
MAX_FRAME = (1920, 1080)

#: Device facts of the VCU118's XCVU9P (-2L), for fit checks and utilisation percentages.
XCVU9P = {"part": "xcvu9p-flga2104-2L-e", "lut": 1_182_240, "ff": 2_364_480, "dsp": 6_840,
          "bram36": 2_160, "uram": 960}


def _ceil_div(a, b):
    return -(-a // b)


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
    max_width, max_height : int
        Largest frame the coordinate generator and the output buffer accept.
    """

    def __init__(self, *, model, rows=4, cols=4, batch=16, precision="int8",
                 max_width=MAX_FRAME[0], max_height=MAX_FRAME[1]):
        if not isinstance(model, PatchINRConfig):
            raise TypeError(f"model must be a PatchINRConfig, not {model!r}")
        for name, v in (("array rows", rows), ("array columns", cols), ("batch", batch),
                        ("maximum width", max_width), ("maximum height", max_height)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise UserError(f"{name} must be a positive integer, not {v!r}")
        if rows % cols:
            raise UserError(f"array {rows}x{cols}: the column count must divide the row count")
        if cols < model.channels:
            raise UserError(f"array {rows}x{cols}: needs at least {model.channels} columns "
                            f"for {model.channels}-channel pixels")
        if precision not in PRECISIONS:
            raise UserError(f"unknown precision {precision!r} (choose int8, fp32 or dual)")
        if max_width % model.patch or max_height % model.patch:
            raise UserError(f"maximum frame {max_width}x{max_height} is not divisible by the "
                            f"patch size {model.patch}")
        if max_width > 32767 or max_height > 32767:
            raise UserError("maximum frame side is 32767 pixels")
        self.model = model
        self.rows, self.cols, self.batch = rows, cols, batch
        self.precision = precision
        self.max_width, self.max_height = max_width, max_height

    @classmethod
    def fitting(cls, *, model, max_frame=MAX_FRAME, **kwargs):
        """The configuration whose largest frame is ``max_frame`` rounded down to whole
        patches (1920x1080 becomes 1920x1072 at n = 16); other keywords as the constructor."""
        w, h = max_frame
        return cls(model=model, max_width=w - w % model.patch, max_height=h - h % model.patch,
                   **kwargs)

    def __repr__(self):
        return (f"AccelConfig(rows={self.rows}, cols={self.cols}, batch={self.batch}, "
                f"precision={self.precision!r}, patch={self.model.patch}, "
                f"widths={self.model.widths})")

    # Datapaths -----------------------------------------------------------------------------

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

    @property
    def arith(self):
        """The processing element's :class:`~accel.arith.Arithmetic`."""
        from .arith import Int8Arithmetic
        if self.precision == "int8":
            return Int8Arithmetic()
        from .fp32_arith import DualArithmetic, Fp32Arithmetic
        return Fp32Arithmetic() if self.precision == "fp32" else DualArithmetic()

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
    def patches_per_row_max(self):
        return self.max_width // self.model.patch

    @property
    def out_slots(self):
        """Capacity, in queries, of the output patch ring: a full patch row being read out
        plus a batch being written, so the writer never waits on an incomplete row."""
        return self.patches_per_row_max + self.batch

    @property
    def out_words(self):
        """Words per query per output bank (``ceil(out_features / cols)``)."""
        return _ceil_div(self.model.out_features, self.cols)

    @property
    def weight_bits(self):
        """Bits held by every weight buffer (weights, lane parameters, sine tables)."""
        from .weight_buffer import buffer_bits
        return buffer_bits(self)

    def check_frame(self, width, height):
        """Raise :class:`UserError` unless a ``width x height`` frame can be rendered."""
        n = self.model.patch
        for name, v, vmax in (("width", width, self.max_width), ("height", height, self.max_height)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise UserError(f"frame {name} must be a positive integer, not {v!r}")
            if v > vmax:
                raise UserError(f"frame {name} {v} exceeds the build's maximum {vmax}")
        if width % n or height % n:
            raise UserError(f"frame size {width}x{height} is not divisible by the model's "
                            f"patch size {n}")
