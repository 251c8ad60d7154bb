"""Shared FP32 test material: hypothesis strategies, hand-built hard cases, and an exact
rational oracle of the hardware's rounding rules (independent of numpy's float arithmetic).
"""

import math
from fractions import Fraction

import numpy as np
from hypothesis import strategies as st

from accel.flows.fp32_check import SPECIALS

__all__ = ["float_bits", "oracle_mul", "oracle_add", "ftz_boundary_pairs", "carry_pairs"]

NAN = 0x7FC00000


def float_bits():
    """binary32 bit patterns, weighted towards the edges of the format."""
    fields = st.builds(
        lambda s, e, f: (s << 31) | (e << 23) | f,
        st.integers(0, 1),
        st.one_of(st.sampled_from([0, 1, 2, 125, 126, 127, 128, 253, 254, 255]),
                  st.integers(0, 255)),
        st.one_of(st.sampled_from([0, 1, 2, 0x400000, 0x7FFFFE, 0x7FFFFF]),
                  st.integers(0, 0x7FFFFF)))
    floats = st.floats(width=32).map(lambda v: int(np.float32(v).view(np.uint32)))
    return st.one_of(st.sampled_from(SPECIALS.tolist()), fields, floats,
                     st.integers(0, (1 << 32) - 1))


def _decode(bits):
    """``(sign, kind, value)``: kind is "nan", "inf" or "num" (zero and subnormals: value 0)."""
    sign, exp, frac = bits >> 31, (bits >> 23) & 0xFF, bits & 0x7FFFFF
    if exp == 0xFF:
        return sign, ("nan" if frac else "inf"), None
    if exp == 0:
        return sign, "num", Fraction(0)
    return sign, "num", Fraction((1 << 23) | frac) * Fraction(2) ** (exp - 150)


def _round(sign, mag):
    """Bits of ``(-1)**sign * mag`` (a positive Fraction): 24-bit round to nearest even with
    an unbounded exponent, then overflow to infinity and flush below 2**-126."""
    exp = mag.numerator.bit_length() - mag.denominator.bit_length()
    if Fraction(2) ** exp > mag:
        exp -= 1
    scaled = mag / Fraction(2) ** (exp - 23)            # in [2**23, 2**24)
    n = math.floor(scaled)
    rest = scaled - n
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and n & 1):
        n += 1
    if n == 1 << 24:
        n, exp = 1 << 23, exp + 1
    biased = exp + 127
    if biased >= 0xFF:
        return (sign << 31) | 0x7F800000
    if biased <= 0:
        return sign << 31
    return (sign << 31) | (biased << 23) | (n - (1 << 23))


def oracle_mul(a, b):
    """The hardware's ``a * b`` from exact rational arithmetic (bits in, bits out)."""
    (sa, ka, va), (sb, kb, vb) = _decode(a), _decode(b)
    sign = sa ^ sb
    if "nan" in (ka, kb) or (ka == "inf" and vb == 0) or (kb == "inf" and va == 0):
        return NAN
    if "inf" in (ka, kb):
        return (sign << 31) | 0x7F800000
    if va == 0 or vb == 0:
        return sign << 31
    return _round(sign, va * vb)


def oracle_add(a, b):
    """The hardware's ``a + b`` from exact rational arithmetic (bits in, bits out)."""
    (sa, ka, va), (sb, kb, vb) = _decode(a), _decode(b)
    if "nan" in (ka, kb) or (ka == kb == "inf" and sa != sb):
        return NAN
    if ka == "inf" or kb == "inf":
        return ((sa if ka == "inf" else sb) << 31) | 0x7F800000
    total = (-va if sa else va) + (-vb if sb else vb)
    if total == 0:
        return (sa & sb) << 31                          # round to nearest: -0 only for -0 + -0
    return _round(int(total < 0), abs(total))


def _pack(sign, exp, significand):
    return (sign << 31) | (exp << 23) | (significand - (1 << 23))


def ftz_boundary_pairs():
    """Products within an ulp of 2**-126, both signs: ``[(a, b)]``.

    With significands ``ma * mb = 2**47 - r`` and exponents adding to 127, the exact product
    is ``2**-126 * (1 - r * 2**-47)``. Rounded to 24 bits it reaches 2**-126 for
    ``r <= 2**22`` (``r = 2**22`` is a tie, to even); IEEE's gradual underflow would also round
    ``2**22 < r <= 2**23`` up, onto the subnormal grid, where the hardware flushes.
    """
    pairs = []
    # 2**47 - 2**22 = 2**22 * 31 * 601 * 1801: an exact tie.
    significands = [(9539072, 14753792)]
    for ma in (0x800001, 0x9E3779, 0xB504F3, 0xFFFFFF):
        for r in (1, 1 << 21, (1 << 22) - 5, (1 << 22) + 7, 3 << 21, (1 << 23) - 3, 1 << 24):
            mb = -(-((1 << 47) - r) // ma)
            if (1 << 23) <= mb < (1 << 24):
                significands.append((ma, mb))
    for ma, mb in significands:
        for sa, sb in ((0, 0), (1, 0)):
            pairs.append((_pack(sa, 64, ma), _pack(sb, 63, mb)))
    return pairs


def carry_pairs():
    """Additions and multiplications whose rounding carries into the next binade:
    ``[(op, a, b)]`` with ``op`` "add" or "mul"."""
    cases = []
    for exp in (1, 100, 127, 200, 254):
        top = _pack(0, exp, (1 << 24) - 1)                  # largest significand
        for ulp_frac in (Fraction(1, 2), Fraction(3, 4), Fraction(1, 4), Fraction(1)):
            small = Fraction(2) ** (exp - 150) * ulp_frac   # a fraction of top's ulp
            cases.append(("add", top, _round(0, small)))
    # (2 - 2**-23) * (1 + 2**-23) = 2 - 2**-46 - ...: just under 2; and squares near 2.
    cases += [("mul", 0x3FFFFFFF, 0x3F800001), ("mul", 0x3FB504F3, 0x3FB504F3),
              ("mul", 0x3FB504F4, 0x3FB504F3), ("mul", 0x7F7FFFFF, 0x3F800001),
              ("mul", 0x3F800001, 0x3F7FFFFF)]
    return cases
