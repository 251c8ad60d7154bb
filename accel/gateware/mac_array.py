"""The systolic multiply-accumulate array: rows x cols weight-stationary PEs."""

from amaranth import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from model.support.validate import positive_int

from ..formats.arith import Arithmetic
from .pe import ProcessingElement

__all__ = ["MacArray"]


class MacArray(wiring.Component):
    """``rows x cols`` :class:`~accel.gateware.pe.ProcessingElement` grid.

    PE ``(r, c)`` holds weight ``W[n0 + c, k0 + r]``. Activations enter each row on the left
    and move one PE right per cycle; partial sums enter each column on top and move one PE
    down per ``latency`` cycles. For one query, row ``r``'s activation must therefore enter
    ``r * latency`` cycles after row 0's, and column ``c``'s partial sum ``c`` cycles after
    column 0's: the feeds (:mod:`accel.gateware.datapath`) apply that skew. Column ``c`` then delivers
    ``psum_top[c] + sum_r a[r] * W[c, r]`` at ``psum_bottom[c]`` ``rows * latency`` cycles after
    ``psum_top[c]`` entered.
    ``latency`` is the arithmetic's in the current ``mode``: a dual array's INT8 mode moves
    sums one row per cycle (:attr:`~accel.formats.fp32.DualArithmetic.int8_latency`).

    Ports
    -----
    a : In(ArrayLayout(act_width, rows)), swap : In(rows)
        Activation and tile-start flag entering each row (already skewed).
    w : In(ArrayLayout(weight_width, cols)), w_shift : In(cols)
        Shadow-weight word entering the top of each column; ``rows`` shifts load a column,
        the first value shifted ending in the bottom row.
    psum_top : In(ArrayLayout(acc_width, cols))
        Initial partial sum of each column (bias or the previous input tile's sum).
    psum_bottom : Out(ArrayLayout(acc_width, cols))
        Completed partial sums, latency ``rows * latency`` from ``psum_top``.
    mode : In(1)
        Number format of a dual arithmetic (0 INT8, 1 FP32).
    """

    def __init__(self, *, rows, cols, arith):
        for name, v in (("rows", rows), ("cols", cols)):
            positive_int(f"array {name}", v)
        if not isinstance(arith, Arithmetic):
            raise TypeError(f"arith must be an Arithmetic, not {arith!r}")
        self.rows, self.cols, self._arith = rows, cols, arith
        super().__init__({
            "a":           In(data.ArrayLayout(arith.act_width, rows)),
            "swap":        In(rows),
            "w":           In(data.ArrayLayout(arith.weight_width, cols)),
            "w_shift":     In(cols),
            "psum_top":    In(data.ArrayLayout(arith.acc_width, cols)),
            "psum_bottom": Out(data.ArrayLayout(arith.acc_width, cols)),
            "mode":        In(1),
        })

    @property
    def latency(self):
        """Cycles from ``psum_top[c]`` to ``psum_bottom[c]``."""
        return self.rows * self._arith.latency

    def elaborate(self, platform):
        m = Module()
        pe = [[ProcessingElement(arith=self._arith) for _ in range(self.cols)]
              for _ in range(self.rows)]
        for r in range(self.rows):
            for c in range(self.cols):
                m.submodules[f"pe_{r}_{c}"] = p = pe[r][c]
                m.d.comb += [
                    p.mode.eq(self.mode),
                    p.w_shift.eq(self.w_shift[c]),
                    p.a_in.eq(self.a[r] if c == 0 else pe[r][c - 1].a_out),
                    p.swap_in.eq(self.swap[r] if c == 0 else pe[r][c - 1].swap_out),
                    p.w_in.eq(self.w[c] if r == 0 else pe[r - 1][c].w_out),
                    p.psum_in.eq(self.psum_top[c] if r == 0 else pe[r - 1][c].psum_out),
                ]
            if r == self.rows - 1:
                for c in range(self.cols):
                    m.d.comb += self.psum_bottom[c].eq(pe[r][c].psum_out)
        return m
