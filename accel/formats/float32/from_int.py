"""Exact int16 to binary32 conversion."""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bits import normalize, zero

__all__ = ["IntToFp32"]


class IntToFp32(wiring.Component):
    """``y = float32(x)`` for a signed 16-bit ``x``: exact (16 bits fit a 24-bit significand).

    Feeds the first layer's int16 coordinates to the FP32 datapath.

    Ports
    -----
    x : In(16)
        Signed 16-bit integer.
    y : Out(32)
        Binary32 bit pattern, combinational (:attr:`latency` 0); 0 gives +0.
    """

    #: Cycles from ``x`` to ``y``.
    LATENCY = 0

    x: In(16)
    y: Out(32)

    @property
    def latency(self):
        """Cycles from ``x`` to ``y``: 0 (combinational)."""
        return self.LATENCY

    def elaborate(self, platform):
        m = Module()
        sign = self.x[15]
        magnitude = Signal(16)      # |-32768| = 2**15 still fits 16 unsigned bits
        m.d.comb += magnitude.eq(Mux(sign, -self.x.as_signed(), self.x))
        norm, lead = normalize(m, magnitude, name="i2f")
        exp = Signal(8)             # biased exponent of magnitude's top bit, 2**15
        m.d.comb += exp.eq(127 + 15 - lead)
        with m.If(magnitude == 0):
            m.d.comb += self.y.eq(zero(0))
        with m.Else():
            m.d.comb += self.y.eq(Cat(Const(0, 8), norm[:15], exp, sign))
        return m
