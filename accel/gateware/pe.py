"""One processing element of the weight-stationary systolic array."""

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..formats.arith import Arithmetic

__all__ = ["ProcessingElement"]


class ProcessingElement(wiring.Component):
    """Weight-stationary PE: holds one weight, adds ``a * w`` to the partial sum passing down.

    The PE is written once for every number format: the multiply-accumulate comes from the
    :class:`~accel.formats.arith.Arithmetic` strategy.

    Why weight-stationary: a partial sum enters from above and leaves below, so the
    multiply-accumulate may be deeply pipelined (``latency`` cycles, which FP32 needs) and
    rows are simply skewed by that latency; an output-stationary PE would have to close
    the accumulation loop in one cycle. Weights change once per tile, while up to ``batch``
    queries stream through, and the next tile's weights shift in behind the current ones
    (double buffering), so reloading costs no cycles when ``batch`` is large enough.

    Ports
    -----
    a_in : In(act_width)
        Activation from the left; ``a_out`` repeats it one cycle later (latency 1).
    swap_in : In(1)
        Marks the first activation of a tile: this cycle's product already uses the
        shadow weight, which becomes the active weight. ``swap_out`` follows ``a_out``.
    w_shift : In(1), w_in : In(weight_width)
        Shadow-weight chain down the column: when ``w_shift``, the shadow register takes
        ``w_in``; ``w_out`` is the shadow register (to the PE below).
    psum_in : In(acc_width)
        Partial sum from above; ``psum_out = psum_in + a_in * w`` appears ``latency``
        cycles later.
    mode : In(1)
        Number format of a dual arithmetic (0 INT8, 1 FP32); ignored otherwise.
    """

    def __init__(self, *, arith):
        if not isinstance(arith, Arithmetic):
            raise TypeError(f"arith must be an Arithmetic, not {arith!r}")
        self._arith = arith
        super().__init__({
            "a_in":     In(arith.act_width),
            "swap_in":  In(1),
            "a_out":    Out(arith.act_width),
            "swap_out": Out(1),
            "w_shift":  In(1),
            "w_in":     In(arith.weight_width),
            "w_out":    Out(arith.weight_width),
            "psum_in":  In(arith.acc_width),
            "psum_out": Out(arith.acc_width),
            "mode":     In(1),
        })

    @property
    def latency(self):
        """Cycles from ``a_in``/``psum_in`` to ``psum_out``."""
        return self._arith.latency

    def elaborate(self, platform):
        m = Module()
        m.submodules.mac = mac = self._arith.mac()

        active = Signal.like(self.w_out)
        with m.If(self.w_shift):
            m.d.sync += self.w_out.eq(self.w_in)
        with m.If(self.swap_in):
            m.d.sync += active.eq(self.w_out)

        m.d.sync += [
            self.a_out.eq(self.a_in),
            self.swap_out.eq(self.swap_in),
        ]
        m.d.comb += [
            mac.a.eq(self.a_in),
            # The swap cycle's product must already use the new weight.
            mac.w.eq(Mux(self.swap_in, self.w_out, active)),
            mac.psum_in.eq(self.psum_in),
            mac.mode.eq(self.mode),
            self.psum_out.eq(mac.psum_out),
        ]
        return m
