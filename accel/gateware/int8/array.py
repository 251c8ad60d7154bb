"""The INT8 systolic array: wide rows, packed DSP48E2 pairs and LUT columns."""

from amaranth import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from model.support.validate import positive_int

from ...plan import ArrayPlan
from .column import ColumnGroup

__all__ = ["Int8Array"]

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

    def __init__(self, *, rows, cols, wide_rows, lut_cols=0, packed=True, pumped=False):
        for name, v in (("rows", rows), ("cols", cols), ("wide rows", wide_rows)):
            positive_int(f"array {name}", v)
        if wide_rows > rows:
            raise ValueError(f"array wide rows must be at most the rows ({rows}), "
                             f"not {wide_rows!r}")
        if not isinstance(lut_cols, int) or not 0 <= lut_cols <= cols:
            raise ValueError(f"array LUT columns must be an integer from 0 to {cols}, "
                             f"not {lut_cols!r}")
        self.plan = ArrayPlan(rows=rows, cols=cols, wide_rows=wide_rows, lut_cols=lut_cols,
                              packed=bool(packed), pumped=bool(pumped))
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

        # What enters each column group from the left in every row: activation, swap.
        a = [self.a[r] for r in range(plan.rows)]
        swap = [self.swap[r] for r in range(plan.rows)]
        for kind, c0 in plan.groups:
            m.submodules[f"g{c0}"] = g = ColumnGroup(kind=kind, rows=plan.rows,
                                                     wide_rows=plan.wide_rows,
                                                     pumped=plan.pumped and plan.pairs > 0)
            for r in range(plan.rows):
                m.d.comb += [g.a[r].eq(a[r]), g.swap[r].eq(swap[r])]
            a = [g.a_out[r] for r in range(plan.rows)]
            swap = [g.swap_out[r] for r in range(plan.rows)]
            for j in range(g.width):
                m.d.comb += [g.w[j].eq(self.w[c0 + j]), g.w_shift[j].eq(self.w_shift[c0 + j]),
                             g.psum_top[j].eq(self.psum_top[c0 + j]),
                             self.psum_bottom[c0 + j].eq(g.psum_bottom[j])]
        return m
