"""Plans the configuration needs before any block exists: where each INT8 PE sits
(:class:`ArrayPlan`) and how packed products cascade (:func:`segments`).

Plain arithmetic on the configuration, no Amaranth: the configuration, the cycle model, the
DSP count and the sizing search read these, and the gateware builds what they say.
"""

from dataclasses import dataclass

__all__ = ["ArrayPlan", "segments", "LOW_BITS", "MAX_CASCADE", "PE_LATENCY", "PUMPED_LATENCY"]

#: Bits of the low field: the odd column's weight sits at bit 0, the even column's at
#: bit ``LOW_BITS`` of the 27-bit A operand. 18 is the widest that keeps the packed weight
#: in 27 bits for every pair (``-128 << 18`` minus one more for a negative low weight).
LOW_BITS = 18

#: Longest cascade of packed products summed before the low field is split off. The low
#: field holds a signed 18-bit sum; one product is at most ``(-128)(-128) = 2**14``, so 7
#: products (114,688) fit and 8 (131,072 = 2**17) would carry into the high field.
MAX_CASCADE = ((1 << (LOW_BITS - 1)) - 1) // (1 << 14)


#: Cycles from a DSP PE's activation to its partial sum (B, M and P registers).
PE_LATENCY = 3

#: The same for a double-pumped packed PE
#: (:class:`~accel.gateware.int8.pumped.PumpedPair`): its fabric operand register, the
#: slice's registers at twice the clock, a capture register and the fabric adder.
PUMPED_LATENCY = 5


def segments(rows):
    """Lengths of the cascades ``rows`` packed rows are cut into: as few as
    :data:`MAX_CASCADE` allows, as equal as possible."""
    if rows <= 0:
        return []
    count = -(-rows // MAX_CASCADE)
    return [rows // count + (i < rows % count) for i in range(count)]


@dataclass(frozen=True)
class ArrayPlan:
    """Which PE sits where in a ``rows x cols`` INT8 array.

    Rows ``0 .. wide_rows-1`` are :class:`~accel.gateware.int8.wide.WidePE` in every
    column (they take the first layer's int16 coordinates). Below them, columns
    ``0 .. 2*pairs-1`` are :class:`~accel.gateware.int8.pair.PackedPair` columns two at a
    time, then one :class:`~accel.gateware.int8.wide.WidePE` column if the DSP columns are
    odd in number, then ``lut_cols`` :class:`~accel.gateware.int8.lut.LutPE` columns.
    Without ``packed`` (a device whose multipliers take one INT8 product each, the ECP5's
    MULT18X18D) every DSP column is a :class:`~accel.gateware.int8.wide.WidePE` column.
    With ``pumped`` the packed pairs of rows ``wide_rows + 2k`` and ``wide_rows + 2k + 1``
    share one DSP48E2 that runs at twice the fabric clock
    (:class:`~accel.gateware.int8.pumped.PumpedPair`).
    """

    rows: int
    cols: int
    wide_rows: int
    lut_cols: int
    packed: bool = True
    pumped: bool = False

    def __post_init__(self):
        if self.pumped and not self.packed:
            raise ValueError("a double-pumped array packs two products per DSP slice: "
                             "pumped needs packed")

    @property
    def packed_rows(self):
        return self.rows - self.wide_rows

    @property
    def pairs(self):
        return (self.cols - self.lut_cols) // 2 if self.packed_rows and self.packed else 0

    @property
    def single_cols(self):
        """DSP columns below the wide rows that take one product per DSP slice."""
        return self.cols - self.lut_cols - 2 * self.pairs

    @property
    def groups(self):
        """``(kind, first column)`` of every column group, left to right: ``"pair"``,
        ``"wide"`` (one DSP48E2 per PE all the way down) or ``"lut"``."""
        out = [("pair", 2 * p) for p in range(self.pairs)]
        out += [("wide", 2 * self.pairs + i) for i in range(self.single_cols)]
        out += [("lut", self.cols - self.lut_cols + i) for i in range(self.lut_cols)]
        return out

    @property
    def pair_dsp_rows(self):
        """DSP slices down each pair of columns below the wide rows: one per row, or one
        per two rows when pumped."""
        return -(-self.packed_rows // 2) if self.pumped else self.packed_rows

    @property
    def dsps(self):
        """DSP slices of the array (DSP48E2s, or MULT18X18Ds unpacked)."""
        return (self.wide_rows * self.cols + self.pair_dsp_rows * self.pairs
                + self.packed_rows * self.single_cols)

    @property
    def lut_pes(self):
        return self.packed_rows * self.lut_cols

    @property
    def load_delay(self):
        """Cycles from the end of a shift burst to row 0's shadow load (row ``r``'s is
        ``r`` later; a pair's even column waits one more cycle for its odd partner)."""
        return 1 + (1 if self.pairs else 0)

    @property
    def latency(self):
        """Cycles from ``psum_top[c]`` to ``psum_bottom[c]``: one per row, the operand,
        product and sum registers of the last row, and the register that adds a cascade's
        split-off sums (every column is padded to it); a pumped pair's two more (its
        product crosses into the fabric before it is added)."""
        return self.rows + self.pe_latency

    @property
    def pe_latency(self):
        """Cycles from a packed PE's activation to its partial sum (:data:`PE_LATENCY`,
        or :data:`PUMPED_LATENCY`)."""
        return PUMPED_LATENCY if self.pumped and self.pairs else PE_LATENCY
