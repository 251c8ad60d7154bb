"""FP32 and run-time selectable INT8/FP32 number formats of the processing element.

The strategies follow :class:`accel.formats.arith.Arithmetic`; their multiply-accumulate units
are built from :class:`~accel.formats.float32.mul.FpMul` and :class:`~accel.formats.float32.add.FpAdd`, and compute
``psum_out = fadd(psum_in, fmul(a, w))``, two roundings, bit-exact to
:func:`model.fp32ref.fadd` and :func:`model.fp32ref.fmul`.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring

from .arith import Arithmetic
from .float32.add import FpAdd
from .float32.mul import FpMul
from .int8 import Int8Arithmetic, Int8Mac

__all__ = ["Fp32Arithmetic", "Fp32Mac", "DualArithmetic", "DualMac"]


def _delay(m, value, cycles, *, name):
    """``value`` delayed by ``cycles`` registers in the sync domain."""
    for i in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{i + 1}")
        m.d.sync += reg.eq(value)
        value = reg
    return value


class Fp32Mac(wiring.Component):
    """FP32 multiply-accumulate: ``psum_out = psum_in + a * w``, rounded after the product
    and after the sum.

    Ports
    -----
    a, w : In(32)
        Activation and weight, binary32 bit patterns.
    psum_in : In(32)
        Partial sum, binary32, presented with ``a`` and ``w``; held in a 3-stage delay line
        until the product is ready, so the unit takes a new operand set every cycle.
    psum_out : Out(32)
        Binary32, registered, ``latency`` (6) cycles after the operands.
    mode : In(1)
        Ignored.
    """

    def __init__(self, arith):
        self._arith = arith
        super().__init__(arith.signature())

    @property
    def latency(self):
        """Cycles from the operands to ``psum_out``: 6."""
        return self._arith.latency

    def elaborate(self, platform):
        m = Module()
        m.submodules.mul = mul = FpMul()
        m.submodules.add = add = FpAdd()
        m.d.comb += [
            mul.a.eq(self.a),
            mul.b.eq(self.w),
            add.a.eq(_delay(m, self.psum_in, mul.latency, name="psum")),
            add.b.eq(mul.y),
            self.psum_out.eq(add.y),
        ]
        return m


class Fp32Arithmetic(Arithmetic):
    """IEEE-754 binary32 activations, weights and partial sums; MAC latency 6 (multiplier 3,
    adder 3)."""

    name = "fp32"
    act_width = 32
    weight_width = 32
    acc_width = 32
    latency = FpMul.LATENCY + FpAdd.LATENCY

    def mac(self):
        return Fp32Mac(self)


class DualMac(wiring.Component):
    """INT8 or FP32 multiply-accumulate, chosen by ``mode``, each with its own latency.

    Ports
    -----
    a, w, psum_in : In(32)
        ``mode = 1``: binary32 bit patterns, as :class:`Fp32Mac`. ``mode = 0``: as
        :class:`~accel.formats.int8.Int8Mac`: ``a[0:16]`` signed activation, ``w[0:16]`` signed
        weight, ``psum_in`` signed 32-bit; the other bits are ignored.
    mode : In(1)
        0: INT8, 1: FP32. Must not change while operands are in flight: the output
        multiplexer follows the current mode.
    psum_out : Out(32)
        Result, ``latency`` (6) cycles after the operands in FP32, ``int8_latency`` (1) in
        INT8: a systolic array of dual PEs skews its rows by the mode's latency, so an
        INT8 job does not wait on the FP32 pipeline (:mod:`accel.gateware.datapath`).
    """

    def __init__(self, arith):
        self._arith = arith
        super().__init__(arith.signature())

    @property
    def latency(self):
        """Cycles from the operands to ``psum_out`` in FP32: 6."""
        return self._arith.latency

    @property
    def int8_latency(self):
        """Cycles from the operands to ``psum_out`` in INT8: 1."""
        return self._arith.int8_latency

    def elaborate(self, platform):
        m = Module()
        m.submodules.int8 = int8 = Int8Mac(Int8Arithmetic())
        m.submodules.fp32 = fp32 = Fp32Mac(Fp32Arithmetic())
        for mac in (int8, fp32):
            m.d.comb += [
                mac.a.eq(self.a),           # Int8Mac's 16-bit ports take the low bits
                mac.w.eq(self.w),
                mac.psum_in.eq(self.psum_in),
            ]
        m.d.comb += self.psum_out.eq(Mux(self.mode, fp32.psum_out, int8.psum_out))
        return m


class DualArithmetic(Arithmetic):
    """INT8 or FP32 per the MAC's ``mode`` input, on 32-bit operands; latency 6 in FP32
    (:attr:`latency`), 1 in INT8 (:attr:`int8_latency`)."""

    name = "dual"
    act_width = 32
    weight_width = 32
    acc_width = 32
    latency = Fp32Arithmetic.latency
    int8_latency = Int8Arithmetic.latency

    def mac(self):
        return DualMac(self)
