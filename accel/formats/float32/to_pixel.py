"""Binary32 to 8-bit pixel conversion."""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ...config import Timing
from .bits import EXP_SPECIAL, FLOAT32

__all__ = ["FpToPixel"]

# Exponents of the interesting range: below 0.5 everything rounds to 0, from 256 up it clamps.
_EXP_HALF = 126
_EXP_256 = 135


class FpToPixel(wiring.Component):
    """Output-layer conversion: ``y = clamp(round_half_even(x), 0, 255)``, NaN gives 0;
    bit-exact to :func:`model.fp32ref.f2pixel`.

    Ports
    -----
    x : In(32)
        Binary32 bit pattern; a new one may enter every cycle.
    y : Out(8)
        Unsigned pixel, registered, :attr:`latency` (1) cycle after ``x``.

    Only ``0.5 <= x < 256`` needs arithmetic: the significand shifted left by
    ``exponent - 126`` (0..8) is the value in 8.24 fixed point, whose integer part is rounded
    with the fraction's top bit and the rest as sticky.
    """

    #: Cycles from ``x`` to ``y``.
    LATENCY = Timing.FP32_TO_PIXEL

    x: In(32)
    y: Out(8)

    @property
    def latency(self):
        """Cycles from ``x`` to ``y``: 1."""
        return self.LATENCY

    def elaborate(self, platform):
        m = Module()
        x = data.View(FLOAT32, self.x)
        fixed = Signal(32)          # x in 8.24 fixed point, valid for 0.5 <= x < 256
        m.d.comb += fixed.eq(Cat(x.frac, 1) << (x.exp - _EXP_HALF)[:4])
        integer = fixed[24:]
        rounded = Signal(9)
        m.d.comb += rounded.eq(integer + (fixed[23] & (fixed[:23].any() | integer[0])))

        nan = (x.exp == EXP_SPECIAL) & (x.frac != 0)
        with m.If(nan | x.sign | (x.exp < _EXP_HALF)):
            m.d.sync += self.y.eq(0)
        with m.Elif(x.exp >= _EXP_256):
            m.d.sync += self.y.eq(255)
        with m.Else():
            # 255.5 and above round to 256.
            m.d.sync += self.y.eq(Mux(rounded[8], 255, rounded[:8]))
        return m
