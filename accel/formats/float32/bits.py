"""The binary32 format in gateware, and the steps the FP32 blocks share.

The FP32 blocks (:mod:`accel.formats.float32.mul`, :mod:`accel.formats.float32.add`, :mod:`accel.formats.float32.sine`,
:mod:`accel.formats.float32.to_pixel`, :mod:`accel.formats.float32.from_int`) take and give raw binary32 bit patterns
on 32-bit ports, as :class:`accel.formats.arith.MacSignature` carries them; inside, they read the
fields through the :data:`FLOAT32` layout. Rounding and the flush-to-zero and overflow rules
live here once (:func:`round_pack`), so every block rounds alike and the rules match
:mod:`model.fp32ref`.
"""

from amaranth import Cat, Const, Mux, Signal, signed
from amaranth.lib import data
from amaranth.utils import ceil_log2

from model.fp32ref import CANONICAL_NAN

__all__ = ["FLOAT32", "CANONICAL_NAN", "EXP_SPECIAL", "classify", "infinity", "zero",
           "normalize", "round_pack"]

#: Fields of a binary32 bit pattern, least significant first.
FLOAT32 = data.StructLayout({"frac": 23, "exp": 8, "sign": 1})

#: Biased exponent of infinities and NaNs.
EXP_SPECIAL = 0xFF


def classify(x):
    """``(zero, inf, nan)`` flags of a :data:`FLOAT32` view; subnormals count as zero (DAZ)."""
    special = x.exp == EXP_SPECIAL
    return x.exp == 0, special & (x.frac == 0), special & (x.frac != 0)


def infinity(sign):
    """The binary32 infinity of ``sign``."""
    return Cat(Const(0, 23), Const(EXP_SPECIAL, 8), sign)


def zero(sign):
    """The binary32 zero of ``sign``."""
    return Cat(Const(0, 31), sign)


def normalize(m, value, *, name):
    """Shift ``value`` left until its top bit is set (combinational).

    Returns ``(shifted, count)``: ``shifted`` has ``value``'s width, ``count`` is the number
    of leading zeros of a non-zero ``value`` (meaningless for zero, which callers test).
    A logarithmic shifter: each stage shifts by a power of two when that many top bits are
    zero, so the count falls out of the stage decisions with no separate leading-zero counter.
    """
    width = len(value)
    stages = ceil_log2(width)
    count = Signal(stages, name=f"{name}_lz")
    # Each stage's decision is its own signal: were they bits of `count`, every later stage
    # would read `count` to compute another bit of it, a false combinational loop at the
    # vector level that makes Verilator re-evaluate it iteratively (UNOPTFLAT).
    decisions = [None] * stages
    current = value
    for i in reversed(range(stages)):
        step = 1 << i
        decisions[i] = Signal(name=f"{name}_z{step}")
        shifted = Signal(width, name=f"{name}_n{step}")
        m.d.comb += [
            decisions[i].eq(current[width - step:] == 0),
            shifted.eq(Mux(decisions[i], current << step, current)),
        ]
        current = shifted
    m.d.comb += count.eq(Cat(*decisions))
    return current, count


def round_pack(m, *, sign, exp, mant, guard, sticky, name):
    """The binary32 pattern of ``(-1)**sign * mant * 2**(exp - 150)``, rounded (combinational).

    ``mant`` is a normalised 24-bit significand (top bit set), ``exp`` the signed biased
    exponent of that top bit, ``guard`` the next bit and ``sticky`` whether anything below
    it is set. Rounds to nearest even; a carry out of the significand moves to the next
    binade. Overflow gives an infinity; a rounded exponent below 1 gives a zero of ``sign``
    (tininess after rounding at 24 bits, as :func:`model.fp32ref.fmul` documents).
    """
    rounded = Signal(25, name=f"{name}_rounded")
    final_exp = Signal(signed(len(exp) + 1), name=f"{name}_exp")
    result = Signal(32, name=f"{name}_result")
    m.d.comb += [
        rounded.eq(mant + (guard & (sticky | mant[0]))),
        # A carry leaves the fraction bits zero: 1.11..1 + ulp = 10.00..0.
        final_exp.eq(exp + rounded[24]),
    ]
    with m.If(final_exp >= EXP_SPECIAL):
        m.d.comb += result.eq(infinity(sign))
    with m.Elif(final_exp <= 0):
        m.d.comb += result.eq(zero(sign))
    with m.Else():
        m.d.comb += result.eq(Cat(rounded[:23], final_exp[:8], sign))
    return result
