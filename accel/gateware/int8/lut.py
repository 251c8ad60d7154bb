"""One int8 product in fabric: the INT8 array's LUT PE (radix-4 Booth, stationary weight)."""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring

from . import pe_members

__all__ = ["LutPE", "booth_digits", "DIGIT"]

#: One radix-4 Booth digit of the weight, decoded once per tile: ``|d| = 1``, ``|d| = 2``,
#: ``d < 0`` (``neg`` with neither magnitude is the digit 0 of bits ``111``).
DIGIT = data.StructLayout({"one": 1, "two": 1, "neg": 1})


def booth_digits(w):
    """The four radix-4 Booth digits of a signed 8-bit weight ``w`` (a value), as
    :data:`DIGIT` values: ``w = sum(d[j] * 4**j)``, ``d[j]`` from bits ``2j+1, 2j, 2j-1``."""
    out = []
    for j in range(4):
        b2, b1, b0 = w[2 * j + 1], w[2 * j], (w[2 * j - 1] if j else Const(0, 1))
        out.append(Cat(b1 ^ b0, (b2 & ~b1 & ~b0) | (~b2 & b1 & b0), b2))
    return out


class LutPE(wiring.Component):
    """Weight-stationary PE with an int8 x int8 product in LUTs.

    Why Booth, and why this shape: Yosys maps a ``*`` in fabric to about 180 LUTs; here the
    weight's four radix-4 digits are decoded once per tile (at the swap), so each partial
    product bit is one LUT of the activation's two bits and its digit, and the four partial
    products are summed by two levels of two-input adders. A negative digit's partial
    product is the inverted magnitude plus one; those plus-ones (at weights 1, 4, 16 and
    64) ride in the adders' carry inputs and in the low bits that the shifted operands
    leave free, so no stage has more than one carry chain and no constant needs a term of
    its own. The stages are registered like a DSP48E2's, with one more for the second
    adder level.

    Ports
    -----
    a_in : In(8), signed; swap_in : In(1)
        Activation and tile start from the left; ``a_out``/``swap_out`` are the operand
        registers, 1 cycle later.
    w_shift : In(1), w_in : In(8), w_out : Out(8)
        Shadow-weight chain down the column.
    psum_in : In(32), signed
        Partial sum from above.
    psum_out : Out(32), signed
        ``psum_in + a * w``: :attr:`LATENCY` (4) cycles after ``a_in``, 1 after
        ``psum_in``.
    """

    #: Cycles from ``a_in`` to ``psum_out``.
    LATENCY = 4

    def __init__(self):
        super().__init__(pe_members(a_width=8, w_width=8, sum_in="psum_in",
                                    sum_out="psum_out", sum_width=32))

    def elaborate(self, platform):
        m = Module()
        # No resets on data registers (see WidePE).
        shadow = Signal(8, reset_less=True)
        digits = [Signal(DIGIT, reset_less=True, name=f"digit{j}") for j in range(4)]
        areg = Signal(8, reset_less=True)
        swap = Signal(reset_less=True)
        s01, s23 = Signal(13, reset_less=True), Signal(13, reset_less=True)
        prod = Signal(16, reset_less=True)
        acc = Signal(32, reset_less=True)
        neg0_1, neg2_1, neg0_2 = (Signal(reset_less=True, name=n)
                                  for n in ("neg0_1", "neg2_1", "neg0_2"))
        with m.If(self.w_shift):
            m.d.sync += shadow.eq(self.w_in)
        with m.If(self.swap_in):
            m.d.sync += [d.eq(v) for d, v in zip(digits, booth_digits(shadow))]

        a = areg.as_signed()
        pp = []             # inverted-if-negative magnitudes, 10 bits signed
        for d in digits:
            mag = Mux(d.one, a, Mux(d.two, a << 1, 0))
            pp.append(Signal(10, name=f"pp{len(pp)}"))
            m.d.comb += pp[-1].eq(mag ^ Mux(d.neg, 0x3FF, 0))
        n0, n1, n2, n3 = (d.neg for d in digits)
        m.d.sync += [
            areg.eq(self.a_in),
            swap.eq(self.swap_in),
            # pp0 + 4*PP1 and pp2 + 4*PP3 (PP = pp + neg): each +4*neg as +3 in the low
            # bits the shifted operand leaves free and +1 carried in.
            s01.eq(pp[0].as_signed() + Cat(n1, n1, pp[1]).as_signed() + n1),
            s23.eq(pp[2].as_signed() + Cat(n3, n3, pp[3]).as_signed() + n3),
            neg0_1.eq(n0), neg2_1.eq(n2),
            # + 16 * s23, and neg2's +16 as +15 in the free low bits and +1 carried in.
            prod.eq(s01.as_signed() + Cat(neg2_1, neg2_1, neg2_1, neg2_1, s23).as_signed()
                    + neg2_1),
            neg0_2.eq(neg0_1),
            # neg0's +1 carried into the accumulation.
            acc.eq(self.psum_in.as_signed() + prod.as_signed() + neg0_2),
        ]
        m.d.comb += [self.w_out.eq(shadow), self.psum_out.eq(acc), self.a_out.eq(areg),
                     self.swap_out.eq(swap)]
        return m
