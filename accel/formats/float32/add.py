"""Pipelined IEEE-754 binary32 adder."""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ...config import Timing
from .bits import CANONICAL_NAN, FLOAT32, classify, infinity, normalize, round_pack, zero

__all__ = ["FpAdd"]

#: Significands carry three bits below their last place through alignment: guard, round and
#: a sticky bit that ORs everything shifted further. That suffices for round to nearest even:
#: an effective subtraction that cancels more than one leading bit had an exponent difference
#: of 0 or 1 and so lost no bits to alignment.
_EXTRA = 3
_WIDTH = 24 + _EXTRA


class FpAdd(wiring.Component):
    """Binary32 adder: ``y = a + b``, one sum per cycle, bit-exact to
    :func:`model.fp32ref.fadd`.

    Round to nearest even; subnormal operands read as zeros and sums below 2**-126 flush to
    zeros of their sign; overflow gives infinities; ``x + (-x) = +0`` and
    ``(-0) + (-0) = -0``; every NaN result (a NaN operand, or ``inf - inf``) is the
    canonical ``0x7FC00000``.

    Ports
    -----
    a, b : In(32)
        Operands, binary32 bit patterns; a new pair may enter every cycle.
    y : Out(32)
        Sum, binary32, registered, :attr:`latency` (3) cycles after ``a`` and ``b``.

    Pipeline
    --------
    1. Classify the operands and order them by magnitude (one 31-bit comparison of the
       exponent-and-fraction fields), so the smaller one is the one aligned and an effective
       subtraction never goes negative; take the exponent difference.
    2. Shift the smaller significand right by the difference into guard, round and sticky
       bits, then add or subtract (a 28-bit carry chain).
    3. Normalise with a leading-zero shift, round, detect overflow and underflow, and
       select the special results.
    """

    #: Cycles from operands to ``y``.
    LATENCY = Timing.FP32_ADD

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

        # Flushed subnormals must order as zeros, or one could be taken for the larger.
        mag_a = Mux(a_zero, 0, self.a[:31])
        mag_b = Mux(b_zero, 0, self.b[:31])
        swap = mag_b > mag_a
        big = data.View(FLOAT32, Mux(swap, self.b, self.a))
        small = data.View(FLOAT32, Mux(swap, self.a, self.b))
        big_zero = Mux(swap, b_zero, a_zero)
        small_zero = Mux(swap, a_zero, b_zero)
        diff = big.exp - small.exp              # never negative: big >= small

        flags = data.StructLayout({
            "sign": 1,          # of a non-zero result: the larger operand's
            "zero_sign": 1,     # of an exact zero: -0 only for (-0) + (-0)
            "sub": 1,           # effective subtraction
            "nan": 1,
            "inf": 1,
            "inf_sign": 1,      # the infinite operand's (both agree unless the result is NaN)
        })
        s1 = Signal(flags)
        s1_exp = Signal(8)
        s1_big = Signal(24)
        s1_small = Signal(24)
        s1_shift = Signal(range(_WIDTH + 1))
        m.d.sync += [
            s1.sign.eq(big.sign),
            s1.zero_sign.eq(a.sign & b.sign),
            s1.sub.eq(a.sign ^ b.sign),
            s1.nan.eq(a_nan | b_nan | (a_inf & b_inf & (a.sign ^ b.sign))),
            s1.inf.eq(a_inf | b_inf),
            s1.inf_sign.eq(Mux(a_inf, a.sign, b.sign)),
            s1_exp.eq(big.exp),
            s1_big.eq(Mux(big_zero, 0, Cat(big.frac, 1))),
            s1_small.eq(Mux(small_zero, 0, Cat(small.frac, 1))),
            # Any shift of _WIDTH or more moves the whole significand into the sticky bit.
            s1_shift.eq(Mux(diff >= _WIDTH, _WIDTH, diff)),
        ]

        # Shifted-out bits land in the low half of `wide`; they only matter as the sticky bit.
        wide = Signal(2 * _WIDTH)
        m.d.comb += wide.eq(Cat(Const(0, _WIDTH), Const(0, _EXTRA), s1_small) >> s1_shift)
        aligned = Cat(wide[_WIDTH] | wide[:_WIDTH].any(), wide[_WIDTH + 1:])
        big_ext = Cat(Const(0, _EXTRA), s1_big)

        s2 = Signal(flags)
        s2_exp = Signal(8)
        s2_sum = Signal(_WIDTH + 1)
        m.d.sync += [
            s2.eq(s1),
            s2_exp.eq(s1_exp),
            s2_sum.eq(Mux(s1.sub, big_ext - aligned, big_ext + aligned)),
        ]

        # The sum's top bit has weight 2**(exp + 1); normalising puts the leading one there.
        norm, lead = normalize(m, s2_sum, name="add")
        normal = round_pack(
            m, sign=s2.sign, name="add",
            exp=s2_exp + 1 - lead,
            mant=norm[_EXTRA + 1:],
            guard=norm[_EXTRA],
            sticky=norm[:_EXTRA].any())
        with m.If(s2.nan):
            m.d.sync += self.y.eq(CANONICAL_NAN)
        with m.Elif(s2.inf):
            m.d.sync += self.y.eq(infinity(s2.inf_sign))
        with m.Elif(s2_sum == 0):
            m.d.sync += self.y.eq(zero(s2.zero_sign))
        with m.Else():
            m.d.sync += self.y.eq(normal)
        return m
