"""Two int8 products per DSP48E2: the INT8 array's packed PE pair (AMD WP486)."""

from amaranth import Cat

from ...plan import LOW_BITS
from .wide import WidePE

__all__ = ["PackedPair", "pack_weights", "split_sum", "ROUND"]

#: Constant added at the head of each cascade (the DSP48E2's C port or rounding constant):
#: with it, the high field is simply ``P >> LOW_BITS`` and the low field is ``P[17:0]``
#: with its top bit inverted, no adder needed to correct the high field for a negative low
#: sum.
ROUND = 1 << (LOW_BITS - 1)


def pack_weights(w_even, w_odd):
    """The 27-bit A operand of two int8 weights: ``(w_even << 18) + w_odd`` (a value
    expression on two signed 8-bit values)."""
    return (w_even.as_signed() << LOW_BITS) + w_odd.as_signed()


def split_sum(p):
    """``(high, low)`` of a cascade's result ``p`` (its head added :data:`ROUND`): the even
    column's sum ``p >> 18`` and the odd column's ``p[17:0] - 2**17``, both signed."""
    high = p[LOW_BITS:].as_signed()
    low = Cat(p[:LOW_BITS - 1], ~p[LOW_BITS - 1]).as_signed()
    return high, low


class PackedPair(WidePE):
    """Weight-stationary PE for two adjacent columns: one 27 x 8 signed product
    ``(w_even * 2**18 + w_odd) * a``, both columns' products against the shared activation,
    every stage registered as a DSP48E2's A, B, M and P registers (a
    :class:`~accel.gateware.int8.wide.WidePE` of those widths that spans two columns).

    Consecutive pairs in a column chain ``pcout`` into ``pcin`` (the DSP48E2's PCIN
    cascade); at most :data:`accel.plan.MAX_CASCADE` of them form one cascade, whose head adds
    :data:`ROUND` and whose tail's ``pcout`` is split with :func:`split_sum`.

    Ports
    -----
    a_in : In(8), signed
        Activation, at the even column's time; ``a_out`` repeats it 2 cycles later (two
        columns further on). The pair works at the odd column's time: its B register
        holds ``a_in`` one cycle later.
    swap_in : In(1)
        Tile start, with ``a_in``; ``swap_out`` follows ``a_out``.
    w_shift : In(1), w_in : In(27), w_out : Out(27)
        Shadow register of the packed weight (:func:`pack_weights`): loads ``w_in`` when
        ``w_shift``.
    pcin : In(48), signed
        Cascade input.
    pcout : Out(48), signed
        ``P = pcin + A * B``: 3 cycles after ``a_in`` (B, M, P registers), 1 after ``pcin``.
    """

    PASS = 2

    def __init__(self):
        super().__init__(a_width=8, w_width=27, acc_width=48)
