"""The INT8 number format: int8 weights and activations, int32 partial sums."""

from amaranth import Module
from amaranth.lib import wiring

from ..config import Timing
from .arith import Arithmetic

__all__ = ["Int8Arithmetic", "Int8Mac"]


class Int8Mac(wiring.Component):
    """INT8 multiply-accumulate: ``psum_out = psum_in + a * w``, one cycle.

    Ports
    -----
    a : In(16), signed activation; w : In(16), signed weight; psum_in : In(32), signed.
    psum_out : Out(32), signed, registered (latency 1). Maps to one DSP48E2 (27x18
    multiplier, 48-bit adder, P register). Past the first layer both operands are int8
    sign-extended; the wider ports serve the first layer's int16 coordinates and
    higher-precision weights (:class:`model.config.QuantSpec`). The sum never exceeds
    int32 (checked by :func:`model.quant.calibrate`), so 32 bits are kept.
    """

    def __init__(self, arith):
        self._arith = arith
        super().__init__(arith.signature())

    def elaborate(self, platform):
        m = Module()
        prod = self.a.as_signed() * self.w.as_signed()
        m.d.sync += self.psum_out.eq(self.psum_in.as_signed() + prod)
        return m


class Int8Arithmetic(Arithmetic):
    """int8 weights and activations (16-bit operands for the first layer), int32 partial
    sums, latency 1."""

    name = "int8"
    act_width = 16
    weight_width = 16
    acc_width = 32
    latency = Timing.INT8_MAC

    def mac(self):
        return Int8Mac(self)
