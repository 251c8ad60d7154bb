"""Pipelined IEEE-754 binary32 multiplier."""

from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ...config import Timing
from .bits import CANONICAL_NAN, FLOAT32, classify, infinity, round_pack, zero

__all__ = ["FpMul"]


class FpMul(wiring.Component):
    """Binary32 multiplier: ``y = a * b``, one product per cycle, bit-exact to
    :func:`model.fp32ref.fmul`.

    Round to nearest even; subnormal operands read as zeros and products below 2**-126
    (after rounding) flush to zeros of the product's sign; overflow gives infinities; every
    NaN result is the canonical ``0x7FC00000``.

    Ports
    -----
    a, b : In(32)
        Operands, binary32 bit patterns; a new pair may enter every cycle.
    y : Out(32)
        Product, binary32, registered, :attr:`latency` (3) cycles after ``a`` and ``b``.

    Pipeline
    --------
    1. Classify the operands and add their exponents. The 24 x 24-bit significand product
       is formed as two partial products, 24 x 17 and 24 x 7 bits, each within one
       DSP48E2's 27 x 18 multiplier, whose M register is this stage's register.
    2. Add the partial products (the second DSP's post-adder, fed by the first one's cascade
       shifted by 17, as DSP48E2 provides).
    3. Normalise by at most one bit (the product of two significands in [1, 2) lies in
       [1, 4)), round, detect overflow and underflow, and select the special results.
    """

    #: Cycles from operands to ``y``.
    LATENCY = Timing.FP32_MUL

    a: In(32)
    b: In(32)
    y: Out(32)

    @property
    def latency(self):
        """Cycles from ``a``, ``b`` to ``y``: 3."""
        return self.LATENCY

    def elaborate(self, platform):
        m = Module()
        a = data.View(FLOAT32, self.a)
        b = data.View(FLOAT32, self.b)
        a_zero, a_inf, a_nan = classify(a)
        b_zero, b_inf, b_nan = classify(b)

        # Flags of the special results travel beside the significand pipeline.
        flags = data.StructLayout({"sign": 1, "nan": 1, "inf": 1, "zero": 1})
        s1 = Signal(flags)
        s1_exp = Signal(signed(10))         # biased exponent of the product's bit 46
        s1_lo = Signal(41)
        s1_hi = Signal(31)
        ma = Cat(a.frac, 1)
        mb = Cat(b.frac, 1)
        m.d.sync += [
            s1.sign.eq(a.sign ^ b.sign),
            s1.nan.eq(a_nan | b_nan | (a_inf & b_zero) | (a_zero & b_inf)),
            s1.inf.eq(a_inf | b_inf),
            s1.zero.eq(a_zero | b_zero),
            s1_exp.eq(a.exp + b.exp - 127),
            s1_lo.eq(ma * mb[:17]),
            s1_hi.eq(ma * mb[17:]),
        ]

        s2 = Signal(flags)
        s2_exp = Signal(signed(10))
        s2_prod = Signal(48)
        m.d.sync += [
            s2.eq(s1),
            s2_exp.eq(s1_exp),
            s2_prod.eq(s1_lo + (s1_hi << 17)),
        ]

        top = s2_prod[47]
        normal = round_pack(
            m, sign=s2.sign, name="mul",
            exp=s2_exp + top,
            mant=Mux(top, s2_prod[24:48], s2_prod[23:47]),
            guard=Mux(top, s2_prod[23], s2_prod[22]),
            sticky=Mux(top, s2_prod[:23].any(), s2_prod[:22].any()))
        with m.If(s2.nan):
            m.d.sync += self.y.eq(CANONICAL_NAN)
        with m.Elif(s2.inf):
            m.d.sync += self.y.eq(infinity(s2.sign))
        with m.Elif(s2.zero):
            m.d.sync += self.y.eq(zero(s2.sign))
        with m.Else():
            m.d.sync += self.y.eq(normal)
        return m
