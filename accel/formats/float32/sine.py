"""Pipelined binary32 sine unit."""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from model.fp32ref import (PHASE_BITS, SINE_FRAC_BITS, SINE_INDEX_BITS, SINE_OUT_BITS,
                           SINE_SLOPE_BITS, SINE_SMALL_EXP, SINE_VALUE_BITS, WINDOW_BITS,
                           phase_window, sine_table)

from ...config import Timing
from .bits import CANONICAL_NAN, EXP_SPECIAL, FLOAT32, normalize, round_pack, zero

__all__ = ["FpSine", "SINE_ENTRY"]

#: One word of the quarter-wave table: 35 bits, so the table fills one BRAM36 as 1K x 36.
SINE_ENTRY = data.StructLayout({"value": SINE_VALUE_BITS, "slope": SINE_SLOPE_BITS})

_HALF = WINDOW_BITS // 2


class FpSine(wiring.Component):
    """Binary32 sine: ``y = sin(x)``, one result per cycle, bit-exact to
    :func:`model.fp32ref.fsin`.

    The method (exact range reduction by an exponent-indexed window of ``1/(2*pi)``, a
    1024-entry quarter-wave table with linear interpolation, one final rounding) and its
    measured error (at most 4.23e-7 against float64 ``sin`` of the float32 input, over
    ``|x| <= 100`` and beyond) are described in :mod:`model.fp32ref`. ``|x| < 2**-12`` returns ``x``
    (subnormals as zeros of their sign); infinities and NaNs give the canonical NaN.

    Ports
    -----
    x : In(32)
        Argument in radians, binary32 bit pattern; a new one may enter every cycle.
    y : Out(32)
        ``sin(x)``, binary32, registered, :attr:`latency` (5) cycles after ``x``.

    Pipeline
    --------
    1. Read the window ``L[exponent]`` (256 x 52-bit ROM).
    2. Multiply the significand by the window as two 24 x 26-bit partial products; only the
       product's low 52 bits matter (higher ones are whole turns), so the upper partial
       product keeps only its low 26 bits.
    3. Add the partial products into the phase (28 bits of a turn); its quadrant bits pick
       the table direction, and the mirrored index addresses the table (1024 x 35-bit ROM).
    4. Interpolate: ``value * 2**16 + slope * weight`` (one 13 x 17-bit multiply-add).
    5. Normalise the 39-bit magnitude, round to binary32, apply the sign, and select the
       bypass and NaN results.
    """

    #: Cycles from ``x`` to ``y``.
    LATENCY = Timing.FP32_SINE

    x: In(32)
    y: Out(32)

    @property
    def latency(self):
        """Cycles from ``x`` to ``y``: 5."""
        return self.LATENCY

    def elaborate(self, platform):
        m = Module()
        x = data.View(FLOAT32, self.x)

        m.submodules.window = window = memory.Memory(
            shape=WINDOW_BITS, depth=1 << 8, init=[int(w) for w in phase_window()])
        value, slope = sine_table()
        m.submodules.table = table = memory.Memory(
            shape=SINE_ENTRY, depth=1 << SINE_INDEX_BITS,
            init=[{"value": int(v), "slope": int(s)} for v, s in zip(value, slope)])
        window_rd = window.read_port()
        table_rd = table.read_port()

        # What leaves the unit other than the table's result, decided in stage 1 and carried.
        flags = data.StructLayout({"sign": 1, "nan": 1, "bypass": 1})
        s1 = Signal(flags)
        s1_bypass = Signal(32)      # the result when |x| < 2**-12
        s1_mant = Signal(24)
        m.d.comb += window_rd.addr.eq(x.exp)
        m.d.sync += [
            s1.sign.eq(x.sign),
            s1.nan.eq(x.exp == EXP_SPECIAL),
            s1.bypass.eq(x.exp < SINE_SMALL_EXP),
            s1_bypass.eq(Mux(x.exp == 0, zero(x.sign), self.x)),
            s1_mant.eq(Cat(x.frac, 1)),
        ]

        s2 = Signal(flags)
        s2_bypass = Signal(32)
        s2_lo = Signal(24 + _HALF)
        s2_hi = Signal(_HALF)
        m.d.sync += [
            s2.eq(s1),
            s2_bypass.eq(s1_bypass),
            s2_lo.eq(s1_mant * window_rd.data[:_HALF]),
            s2_hi.eq(s1_mant * window_rd.data[_HALF:]),
        ]

        # Bits of lo + hi * 2**26 above 2**52 are whole turns: the slice drops them.
        phase = Signal(PHASE_BITS)
        m.d.comb += phase.eq((s2_lo + Cat(Const(0, _HALF), s2_hi))[WINDOW_BITS - PHASE_BITS:
                                                                   WINDOW_BITS])
        quadrant = phase[PHASE_BITS - 2:]
        index = phase[SINE_FRAC_BITS:PHASE_BITS - 2]
        weight = phase[:SINE_FRAC_BITS]
        # Quadrants 1 and 3 run the table backwards: index i becomes 1023 - i and the weight
        # w becomes 2**16 - w, which reaches the table's end value 1.0 through the last slope.
        mirror = quadrant[0]
        m.d.comb += table_rd.addr.eq(index ^ Mux(mirror, (1 << SINE_INDEX_BITS) - 1, 0))
        s3 = Signal(flags)
        s3_bypass = Signal(32)
        s3_weight = Signal(SINE_FRAC_BITS + 1)
        m.d.sync += [
            s3.eq(s2),
            s3.sign.eq(s2.sign ^ quadrant[1]),
            s3_bypass.eq(s2_bypass),
            s3_weight.eq(Mux(mirror, (1 << SINE_FRAC_BITS) - weight, weight)),
        ]

        s4 = Signal(flags)
        s4_bypass = Signal(32)
        s4_mag = Signal(SINE_OUT_BITS)
        m.d.sync += [
            s4.eq(s3),
            s4_bypass.eq(s3_bypass),
            s4_mag.eq(Cat(Const(0, SINE_FRAC_BITS), table_rd.data.value)
                      + table_rd.data.slope * s3_weight),
        ]

        # s4_mag's top bit has weight 1.0, biased exponent 127.
        norm, lead = normalize(m, s4_mag, name="sine")
        normal = round_pack(
            m, sign=s4.sign, name="sine",
            exp=127 - lead,
            mant=norm[SINE_OUT_BITS - 24:],
            guard=norm[SINE_OUT_BITS - 25],
            sticky=norm[:SINE_OUT_BITS - 25].any())
        with m.If(s4.nan):
            m.d.sync += self.y.eq(CANONICAL_NAN)
        with m.Elif(s4.bypass):
            m.d.sync += self.y.eq(s4_bypass)
        with m.Elif(s4_mag == 0):
            m.d.sync += self.y.eq(zero(s4.sign))
        with m.Else():
            m.d.sync += self.y.eq(normal)
        return m
