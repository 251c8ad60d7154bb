"""The interface of a PE number format: :class:`Arithmetic` and its MAC signature.

A processing element is written once (:mod:`accel.gateware.pe`) over an :class:`Arithmetic`,
which says how wide its operands are and builds its multiply-accumulate unit;
:mod:`accel.formats.int8` and :mod:`accel.formats.fp32` are the implementations.

Operand encodings (as raw bits on the ports)
--------------------------------------------
INT8
    activation: signed 16-bit (int8 activations sign-extended; the first layer's int16
    coordinates use all 16 bits), weight: signed 16-bit (int8 weights sign-extended; the
    first layer's use ``first_weight_bits``), partial sum: signed 32-bit.
FP32
    IEEE-754 binary32 bit patterns for all three.
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Arithmetic", "MacSignature"]


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
        """A fresh multiply-accumulate :class:`wiring.Component` with ``signature``."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"
