"""One product per DSP48E2: the INT8 array's wide PE."""

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import wiring

from model.support.validate import positive_int

from ..cells import platform_cells, registered_product
from . import pe_members

__all__ = ["WidePE"]


class WidePE(wiring.Component):
    """Weight-stationary PE with one ``a_width x w_width`` signed product, every stage
    registered as a DSP48E2's A, B, M and P registers (AREG = BREG = MREG = PREG = 1).

    The INT8 array uses it for the rows that multiply the first layer's int16 coordinates
    by its wider weights, and for a column left over when the DSP columns are paired.

    Ports
    -----
    a_in : In(a_width), signed
        Activation from the left; ``a_out`` repeats it 1 cycle later.
    swap_in : In(1)
        Tile start, with the tile's first activation: the active weight (the A register)
        takes the shadow weight in the same edge as the B register takes ``a_in``, so the
        first product already uses it. ``swap_out`` follows ``a_out``.
    w_shift : In(1), w_in : In(w_width), w_out : Out(w_width)
        Shadow-weight chain down the column (``w_out`` is the shadow register).
    pcin : In(acc_width), signed
        Partial sum from above, as the DSP48E2's PCIN (or C) port.
    pcout : Out(acc_width), signed
        ``P = pcin + A * B``: 3 cycles after ``a_in`` (B, M, P registers), 1 after ``pcin``.
    """

    def __init__(self, *, a_width=16, w_width=16, acc_width=48):
        for name, v in (("activation width", a_width), ("weight width", w_width),
                        ("accumulator width", acc_width)):
            positive_int(name, v)
        if a_width > 18 or w_width > 27:
            raise ValueError(f"a {a_width}-bit x {w_width}-bit product does not fit the "
                             f"DSP48E2's 18 x 27 multiplier")
        self.a_width, self.w_width, self.acc_width = a_width, w_width, acc_width
        super().__init__(pe_members(a_width=a_width, w_width=w_width, sum_in="pcin",
                                    sum_out="pcout", sum_width=acc_width))

    #: Registers between ``a_in`` and ``a_out`` (the columns the PE spans).
    PASS = 1

    #: Cycles from ``a_in`` to ``pcout`` (B, M and P registers).
    LATENCY = 3

    def elaborate(self, platform):
        m = Module()
        # Data registers have no reset: a DSP48E2 absorbs them only as plain registers,
        # and a reset net to every PE would be the array's largest fanout. What they hold
        # after a reset is overwritten before it is used (weights reload, sums restart).
        shadow = Signal(self.w_width, reset_less=True)
        areg = Signal(self.w_width, reset_less=True)
        breg = Signal(self.a_width, reset_less=True)
        mreg = Signal(self.a_width + self.w_width, reset_less=True)
        preg = Signal(self.acc_width, reset_less=True)
        with m.If(self.w_shift):
            m.d.sync += shadow.eq(self.w_in)
        cells = platform_cells(platform)
        if cells is not None and cells.mult18x18d and max(self.a_width, self.w_width) <= 18:
            self._mult18x18d(m, shadow, mreg)
            # The sum is a fabric adder on the ECP5, after a route from the DSP row: kept
            # to the 32 bits the array's columns deliver (a sum modulo 2**32 needs no
            # more), where the DSP48E2's 48-bit P adder costs nothing. The bits above are
            # the sign's, and nothing below uses them.
            preg = Signal(32, reset_less=True)
        else:
            with m.If(self.swap_in):
                m.d.sync += areg.eq(shadow)
            m.d.sync += [
                breg.eq(self.a_in),
                mreg.eq(areg.as_signed() * breg.as_signed()),
            ]
        m.d.sync += preg.eq(self.pcin[:len(preg)].as_signed() + mreg.as_signed())
        # The pass-through to the right is its own register chain, so that the B register
        # feeds the multiplier alone (as a DSP48E2's does).
        a, swap = self.a_in, self.swap_in
        for i in range(self.PASS):
            a_next = Signal(self.a_width, reset_less=True, name=f"a_pass{i}")
            swap_next = Signal(reset_less=True, name=f"swap_pass{i}")
            m.d.sync += [a_next.eq(a), swap_next.eq(swap)]
            a, swap = a_next, swap_next
        m.d.comb += [self.w_out.eq(shadow), self.pcout.eq(preg.as_signed()), self.a_out.eq(a),
                     self.swap_out.eq(swap)]
        return m

    def _mult18x18d(self, m, shadow, mreg):
        """The A, B and M registers as an ECP5 MULT18X18D's input and output registers
        (:func:`~accel.gateware.cells.registered_product`), the same cycle for cycle.

        The A register loads only on a swap, but the DSP block's CE nets are shared
        (:func:`~accel.gateware.cells.registered_product`): it loads every cycle
        instead, from ``swap ? shadow : A``, the A it holds kept in a fabric copy.
        """
        held = Signal(self.w_width, reset_less=True)
        a_next = Signal(signed(self.w_width))
        m.d.comb += a_next.eq(Mux(self.swap_in, shadow, held))
        m.d.sync += held.eq(a_next)
        product = registered_product(m, a_next, self.a_in.as_signed())
        m.d.comb += mreg.eq(product[:len(mreg)])
