"""Post-processing of one array column: requantization, sine, output clamp."""

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from ..config import AccelConfig, Timing
from .cells import platform_cells, registered_product

__all__ = ["PostLane"]


class PostLane(wiring.Component):
    """Turns one column's finished sums into the next layer's activations or pixels.

    The bias is already in the sum (it seeds the column's partial sum), so this lane does
    what follows it in :mod:`model.quant`:

    * INT8 sine layer: ``p = (acc * m + 2**(s-1)) >> s``; activation ``LUT[p mod 2**k]``.
    * INT8 output layer: pixel ``clamp(p, 0, 255)``.
    * FP32 sine layer: ``sin(acc)``; FP32 output layer: ``clamp(round_half_even(acc), 0, 255)``
      (``omega0`` and the pixel scale are folded into the FP32 weights).

    Ports
    -----
    acc : In(32)
        The finished sum: int32, or FP32 bits.
    valid : In(1)
        ``acc`` carries data (only gates nothing here, it travels with the result).
    out_layer : In(1)
        1 for the output layer (pixel), 0 for a sine layer.
    m : In(16), s : In(6)
        INT8 requantization multiplier and shift of this output neuron.
    mode : In(1)
        0 INT8, 1 FP32 (only read when the build carries both).
    result : Out(config.elem_bits)
        :meth:`latency_for` the mode's precision cycles after ``acc``: the activation (int8 sign-extended, or FP32 bits)
        or the pixel in bits [7:0].
    lut_we : In(1), lut_addr : In(phase_bits), lut_data : In(8)
        Write port of this lane's copy of the sine table (loaded over the weight stream).
    """

    def __init__(self, *, config, lut_init=None):
        if not isinstance(config, AccelConfig):
            raise TypeError(f"config must be an AccelConfig, not {config!r}")
        self._config = config
        self._phase_bits = config.model.quant.phase_bits
        # Entries may come as int8 values or their byte patterns (the weight-stream image).
        self._lut_init = ([0] * (1 << self._phase_bits) if lut_init is None else
                          [((int(v) + 128) & 0xFF) - 128 for v in lut_init])
        if len(self._lut_init) != 1 << self._phase_bits:
            raise ValueError(f"sine table needs {1 << self._phase_bits} entries, "
                             f"not {len(self._lut_init)}")
        super().__init__({
            "acc":       In(32),
            "out_layer": In(1),
            "m":         In(16),
            "s":         In(6),
            "mode":      In(1),
            "result":    Out(config.elem_bits),
            "lut_we":    In(1),
            "lut_addr":  In(self._phase_bits),
            "lut_data":  In(8),
        })

    @property
    def latency(self):
        """Cycles from ``acc`` to ``result`` in the build's precision (FP32 on a dual
        build; :meth:`latency_for` gives each mode's)."""
        return self._config.timing.post

    def latency_for(self, precision):
        """Cycles from ``acc`` to ``result`` in ``precision`` (:attr:`accel.config.Timing.post`)."""
        return self._config.timing_for(precision).post

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        results = {}
        if cfg.has_int8:
            results["int8"], latency = self._elaborate_int8(m, platform_cells(platform))
            assert latency == self.latency_for("int8")
        if cfg.has_fp32:
            from ..formats.float32.post import Fp32Post
            m.submodules.fp32 = fp = Fp32Post()
            m.d.comb += [fp.acc.eq(self.acc), fp.out_layer.eq(self.out_layer)]
            assert Fp32Post.LATENCY == self.latency_for("fp32")
            results["fp32"] = fp.result
        # Each mode at its own latency: a dual build's datapath reads the lane at the job's
        # mode's (:mod:`accel.gateware.datapath`), and the mode changes only between jobs.
        if cfg.has_int8 and cfg.has_fp32:
            m.d.comb += self.result.eq(Mux(self.mode, results["fp32"], results["int8"]))
        else:
            m.d.comb += self.result.eq(next(iter(results.values())))
        return m

    def _elaborate_int8(self, m, cells):
        k = self._phase_bits
        m.submodules.lut = lut = memory.Memory(shape=signed(8), depth=1 << k, init=self._lut_init)
        wr = lut.write_port()
        rd = lut.read_port()
        m.d.comb += [wr.en.eq(self.lut_we), wr.addr.eq(self.lut_addr), wr.data.eq(self.lut_data)]

        # Every stage below is one register deep, so that no path between registers has
        # more than one carry chain or a few LUT levels (the timing goal of
        # accel.flows.build.TIMING_GOAL; on an ECP5 the 100 MHz clock). The control bits
        # (shift, output layer) travel beside the data in their own registers.
        def stage(value, name, shape=None):
            # Data only (what the lane computes travels with the datapath's valid bits):
            # no reset, so the reset net does not reach the lane.
            r = Signal(shape if shape is not None else value.shape(), name=name,
                       reset_less=True)
            m.d.sync += r.eq(value)
            return r

        # Stages 1-3: the 32 x 16 product as two 16 x 16 partial products (a multiplier
        # each: a DSP48E2, or an ECP5 MULT18X18D), registered at their inputs and outputs,
        # then their sum: acc * m = (hi * m << 16) + lo * m with lo the unsigned low half.
        if cells is not None and cells.mult18x18d:
            # On the ECP5, MULT18X18Ds with their own input and output registers in place
            # of stages 1 and 2 (synth_ecp5 would leave those in the fabric, a route away
            # on either side of the multiplier: cells.registered_product).
            acc = self.acc.as_signed()
            prod_lo, prod_hi = Signal(32), Signal(signed(33))
            m.d.comb += [
                prod_lo.eq(registered_product(m, acc[:16], self.m, name="mult_lo")),
                prod_hi.eq(registered_product(m, acc[16:].as_signed(), self.m,
                                              name="mult_hi")),
            ]
        else:
            acc0 = stage(self.acc.as_signed(), "acc0", signed(32))
            m0 = stage(self.m, "m0", 16)
            prod_lo = stage(acc0[:16] * m0, "prod_lo", 32)
            prod_hi = stage(acc0[16:].as_signed() * m0, "prod_hi", signed(33))
        prod = stage((prod_hi << 16) + prod_lo, "prod", signed(48))
        s0 = stage(self.s, "s0", 6)
        sh1 = stage((s0 - 1)[:6], "sh1", 6)     # the rounding shift s - 1, mod 64
        sh2 = stage(sh1, "sh2", 6)
        out_layer = self.out_layer
        for i in range(3):
            out_layer = stage(out_layer, f"out{i + 1}", 1)

        # Stages 4-5: round half up and shift, as floor((floor(x / 2**(s-1)) + 1) / 2),
        # which needs one variable shift instead of a variable rounding constant and a
        # shift; the shift by s - 1 split into its multiple of 8 and the rest (a barrel
        # shifter of three mux levels each).
        coarse = stage(prod >> (sh2 & 0b111000), "coarse", signed(48))
        sh4 = stage(sh2[:3], "sh4", 3)
        half = stage(coarse >> sh4, "half", signed(48))
        out_layer = stage(stage(out_layer, "out4", 1), "out5", 1)

        # Stage 6: the add of the rounding; stage 7: clamp and phase.
        p = stage((half + 1) >> 1, "p", signed(48))
        out6 = stage(out_layer, "out6", 1)
        pixel = stage(Mux(p < 0, 0, Mux(p[8:].any(), 255, p[:8])), "pixel", 8)
        phase = stage(p[:k], "phase", k)    # p mod 2**k: the phase wrapped into one period
        out7 = stage(out6, "out7", 1)

        # Stage 8: table lookup (synchronous read) beside the registered pixel; stage 9:
        # the lane's registered result.
        m.d.comb += rd.addr.eq(phase)
        pixel8 = stage(pixel, "pixel8", 8)
        out8 = stage(out7, "out8", 1)
        result = Signal(self._config.elem_bits, reset_less=True)
        m.d.sync += result.eq(Mux(out8, pixel8, rd.data.as_signed()))
        return result, Timing.INT8_POST
