"""Number formats of the processing element, as strategies.

A processing element is written once (:mod:`accel.pe`) over an :class:`Arithmetic`, which
says how wide its operands are and builds its multiply-accumulate unit. This module holds
the INT8 arithmetic; :mod:`accel.fp32_arith` adds FP32 and the run-time selectable dual
arithmetic behind the same interface.

Operand encodings (as raw bits on the ports)
--------------------------------------------
INT8
    activation: signed 16-bit (int8 activations sign-extended; the first layer's int16
    coordinates use all 16 bits), weight: signed 16-bit (int8 weights sign-extended; the
    first layer's use ``first_weight_bits``), partial sum: signed 32-bit.
FP32
    IEEE-754 binary32 bit patterns for all three.
"""

from amaranth import Module, Shape, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Arithmetic", "MacSignature", "Int8Arithmetic", "Int8Mac"]


class MacSignature(wiring.Signature):
    """Ports of a multiply-accumulate unit: ``psum_out = psum_in + a * w``.

    ``psum_out`` shows the result ``latency`` cycles after ``a``, ``w`` and ``psum_in``
    were presented; the unit is fully pipelined (one new operand set every cycle).
    ``mode`` selects the format in a dual unit (0: INT8, 1: FP32) and is ignored otherwise;
    it must be constant while operands are in flight.
    """

    def __init__(self, *, act_width, weight_width, acc_width):
        super().__init__({
            "a":        In(act_width),
            "w":        In(weight_width),
            "psum_in":  In(acc_width),
            "mode":     In(1),
            "psum_out": Out(acc_width),
        })


class Arithmetic:
    """Interface of a PE number format.

    Attributes
    ----------
    name : str
    act_width, weight_width, acc_width : int
        Raw bit widths of the activation, weight and partial-sum operands.
    latency : int
        Cycles from operands to ``psum_out`` of :meth:`mac`.
    """

    name = None
    act_width = weight_width = acc_width = latency = None

    def signature(self):
        return MacSignature(act_width=self.act_width, weight_width=self.weight_width,
                            acc_width=self.acc_width)

    def mac(self):
        """A fresh multiply-accumulate :class:`wiring.Component` with :meth:`signature`."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


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
    latency = 1

    def mac(self):
        return Int8Mac(self)
