"""The INT8 systolic array: wide rows, packed DSP48E2 pairs and LUT columns."""

from dataclasses import dataclass

from amaranth import Const, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from model.validate import positive_int

from .lut import LutPE
from .pair import MAX_CASCADE, ROUND, PackedPair, pack_weights, split_sum
from .wide import WidePE

__all__ = ["Int8Array", "ArrayPlan", "segments"]

def segments(rows):
    """Lengths of the cascades ``rows`` packed rows are cut into: as few as
    :data:`~accel.gateware.int8.pair.MAX_CASCADE` allows, as equal as possible."""
    if rows <= 0:
        return []
    count = -(-rows // MAX_CASCADE)
    return [rows // count + (i < rows % count) for i in range(count)]


@dataclass(frozen=True)
class ArrayPlan:
    """Which PE sits where in a ``rows x cols`` INT8 array.

    Rows ``0 .. wide_rows-1`` are :class:`~.wide.WidePE` in every column (they take the
    first layer's int16 coordinates). Below them, columns ``0 .. 2*pairs-1`` are
    :class:`~.pair.PackedPair` columns two at a time, then one :class:`~.wide.WidePE`
    column if the DSP columns are odd in number, then ``lut_cols`` :class:`~.lut.LutPE`
    columns.
    """

    rows: int
    cols: int
    wide_rows: int
    lut_cols: int

    @property
    def packed_rows(self):
        return self.rows - self.wide_rows

    @property
    def pairs(self):
        return (self.cols - self.lut_cols) // 2 if self.packed_rows else 0

    @property
    def single_cols(self):
        """DSP columns below the wide rows that take one product per DSP48E2."""
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
    def dsps(self):
        """DSP48E2 slices of the array."""
        return self.wide_rows * self.cols + self.packed_rows * (self.pairs + self.single_cols)

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
        split-off sums (every column is padded to it)."""
        return self.rows + 3


class Int8Array(wiring.Component):
    """``rows x cols`` weight-stationary INT8 array, PE ``(r, c)`` holding ``W[c, r]`` of
    the tile, laid out by :class:`ArrayPlan`.

    The contract is :class:`~accel.gateware.mac_array.MacArray`'s, with two latencies
    of its own: row ``r``'s activation enters ``r`` cycles after row 0's and column
    ``c``'s ``w``, ``w_shift`` and ``psum_top`` ``c`` cycles after column 0's; column ``c``
    delivers ``psum_top[c] + sum_r a[r] * W[c, r]`` :attr:`latency` cycles after its
    ``psum_top``; and the ``rows`` words of a shift burst (``w_shift`` high ``rows``
    consecutive cycles) reach row ``r``'s shadow registers :attr:`load_delay` ``+ r``
    cycles after the burst's last cycle, so that row ``r``'s next swap may follow
    :attr:`load_delay` cycles after it, as row 0's.

    Ports
    -----
    a : In(ArrayLayout(16, rows)), swap : In(rows)
        Activation (int16 in the wide rows, int8 sign-extended below) and tile start.
    w : In(ArrayLayout(16, cols)), w_shift : In(cols)
        Shadow-weight word for the top of each column (int16 for the wide rows, int8
        below); ``rows`` shifts load a column, the first word ending in the bottom row.
    psum_top : In(ArrayLayout(32, cols)), psum_bottom : Out(ArrayLayout(32, cols))
        Partial sums, signed.
    """

    def __init__(self, *, rows, cols, wide_rows, lut_cols=0):
        for name, v in (("rows", rows), ("cols", cols), ("wide rows", wide_rows)):
            positive_int(f"array {name}", v)
        if wide_rows > rows:
            raise ValueError(f"array wide rows must be at most the rows ({rows}), "
                             f"not {wide_rows!r}")
        if not isinstance(lut_cols, int) or not 0 <= lut_cols <= cols:
            raise ValueError(f"array LUT columns must be an integer from 0 to {cols}, "
                             f"not {lut_cols!r}")
        self.plan = ArrayPlan(rows=rows, cols=cols, wide_rows=wide_rows, lut_cols=lut_cols)
        self.rows, self.cols = rows, cols
        super().__init__({
            "a":           In(data.ArrayLayout(16, rows)),
            "swap":        In(rows),
            "w":           In(data.ArrayLayout(16, cols)),
            "w_shift":     In(cols),
            "psum_top":    In(data.ArrayLayout(32, cols)),
            "psum_bottom": Out(data.ArrayLayout(32, cols)),
        })

    @property
    def latency(self):
        return self.plan.latency

    @property
    def load_delay(self):
        return self.plan.load_delay

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        R, W = plan.rows, plan.wide_rows

        # Nothing here is reset (see WidePE): the delay lines can then be shift-register
        # LUTs, and no reset net reaches across the array.
        def delay(value, cycles, name):
            for i in range(cycles):
                reg = Signal(len(value), name=f"{name}_d{i + 1}", reset_less=True)
                m.d.sync += reg.eq(value)
                value = reg
            return value

        def loads(w_shift, name):
            # The shadow registers load from a pipeline, not a chain with one shift
            # enable: words move down two registers per row and the "capture" token one,
            # so the word for row r meets the token there, r cycles after the burst, and
            # no net drives more than one PE. The token marks the cycle after the last
            # shift of a burst (its word, delayed one cycle, is row 0's).
            last = delay(w_shift, 1, f"{name}_last")
            token = Signal(name=f"{name}_tok0")
            m.d.comb += token.eq(last & ~w_shift)
            tokens = [token]
            for r in range(1, R):
                tokens.append(delay(tokens[-1], 1, f"{name}_tok{r}"))
            return tokens

        def words(first, rows, name):
            """What enters the shadow register of each of ``rows`` rows, from ``first``
            (the word entering the first of them): two registers per row."""
            out = [first]
            for r in range(1, rows):
                out.append(delay(out[-1], 2, f"{name}_{r}"))
            return out

        def wide_column(c, left, psum_top, tokens, w):
            """Column ``c``'s wide rows, taking each row's activation from ``left`` (and
            leaving their own there); returns the cascade's end and the word that enters
            the row below them."""
            pc, ws = psum_top, words(w, W + 1, f"w{c}")
            for r in range(W):
                m.submodules[f"wide_{r}_{c}"] = pe = WidePE()
                m.d.comb += [pe.a_in.eq(left[r][0]), pe.swap_in.eq(left[r][1]),
                             pe.w_shift.eq(tokens[r]), pe.w_in.eq(ws[r]), pe.pcin.eq(pc)]
                left[r] = (pe.a_out, pe.swap_out)
                pc = pe.pcout
            return pc, ws[W]

        # What enters each column group from the left in every row: activation, swap.
        left = [(self.a[r], self.swap[r]) for r in range(R)]
        for kind, c0 in plan.groups:
            if kind == "pair":
                # The pair works at its odd column's time: the even column's weights, shifts
                # and sums wait one cycle for the odd one's. Column c's partial sum enters
                # its first row's C port 2 cycles after psum_top (the B and M registers).
                c1 = c0 + 1
                tokens = loads(self.w_shift[c1], f"ld{c0}")
                pc_even, w_even = wide_column(
                    c0, left, delay(self.psum_top[c0], 2, f"pt{c0}").as_signed(),
                    tokens, delay(self.w[c0], 2, f"wi{c0}"))
                pc_odd, w_odd = wide_column(
                    c1, left, delay(self.psum_top[c1], 2, f"pt{c1}").as_signed(),
                    tokens, delay(self.w[c1], 1, f"wi{c1}"))
                # Packed rows: cascades cut by `segments`, each tail split into the two
                # columns' sums, which add into 32-bit running sums in fabric.
                sums = [pc_even[:32], pc_odd[:32]]
                ready = [W + 2, W + 3]      # when each is valid, from the even column's time
                packed = words(pack_weights(w_even[:8], w_odd[:8]), plan.packed_rows,
                               f"wp{c0}")
                r = W
                for length in segments(plan.packed_rows):
                    pc = Const(ROUND, 48)
                    for _ in range(length):
                        m.submodules[f"pair_{r}_{c0}"] = pe = PackedPair()
                        a_src, s_src = left[r]
                        m.d.comb += [pe.a_in.eq(a_src[:8]), pe.swap_in.eq(s_src),
                                     pe.w_shift.eq(tokens[r]), pe.w_in.eq(packed[r - W]),
                                     pe.pcin.eq(pc)]
                        left[r] = (pe.a_out, pe.swap_out)
                        pc = pe.pcout
                        r += 1
                    tail = r - 1           # its P is valid at tail + 3
                    parts = split_sum(pc)
                    for j in (0, 1):
                        before = delay(sums[j], tail + 3 - ready[j], f"ps{c0 + j}_{tail}")
                        after = Signal(32, name=f"ps{c0 + j}_{tail}", reset_less=True)
                        m.d.sync += after.eq(before.as_signed() + parts[j])
                        sums[j], ready[j] = after, tail + 4
                m.d.comb += [self.psum_bottom[c0].eq(sums[0]),
                             self.psum_bottom[c1].eq(delay(sums[1], 1, f"pb{c1}"))]
                continue
            # One column: wide rows, then DSP or LUT PEs, one cascade or running sum.
            c = c0
            tokens = loads(self.w_shift[c], f"ld{c}")
            pc, w = wide_column(c, left, delay(self.psum_top[c], 2, f"pt{c}").as_signed(),
                                tokens, delay(self.w[c], 1, f"wi{c}"))
            below = words(w, R - W, f"wb{c}") if W < R else []
            lut_pe = kind == "lut" and W < R
            if lut_pe:
                # A LUT PE takes its partial sum one cycle later than a DSP48E2's PCIN
                # (it has one more stage), and its last row then needs no padding.
                pc = delay(pc[:32], LutPE.LATENCY - WidePE.LATENCY, f"pl{c}")
            for r in range(W, R):
                a_src, s_src = left[r]
                if lut_pe:
                    m.submodules[f"lut_{r}_{c}"] = pe = LutPE()
                    m.d.comb += pe.psum_in.eq(pc[:32])
                    out = pe.psum_out
                else:
                    m.submodules[f"wide_{r}_{c}"] = pe = WidePE(a_width=8, w_width=8)
                    m.d.comb += pe.pcin.eq(pc)
                    out = pe.pcout
                m.d.comb += [pe.a_in.eq(a_src[:8]), pe.swap_in.eq(s_src),
                             pe.w_shift.eq(tokens[r]), pe.w_in.eq(below[r - W][:8])]
                left[r] = (pe.a_out, pe.swap_out)
                pc = out
            pad = 0 if lut_pe else 1
            m.d.comb += self.psum_bottom[c].eq(delay(pc[:32], pad, f"pb{c}"))
        return m
