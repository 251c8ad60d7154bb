"""FP32 post-processing of one column: the sine unit, or the pixel conversion."""

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ...config import Timing
from .sine import FpSine
from .to_pixel import FpToPixel

__all__ = ["Fp32Post"]


class Fp32Post(wiring.Component):
    """``sin(acc)`` for sine layers, ``clamp(round_half_even(acc), 0, 255)`` for the output layer.

    ``omega0`` and the [-1, 1] -> [0, 255] map are folded into the FP32 weights and biases
    (:func:`model.fp32ref.fold_weights`), so nothing else is left to do here.

    Ports
    -----
    acc : In(32)
        Finished binary32 sum.
    out_layer : In(1)
        1: output layer (pixel), 0: sine layer.
    result : Out(32)
        ``LATENCY`` cycles later: the sine's binary32 bits, or the pixel in bits [7:0].
    """

    LATENCY = Timing.FP32_POST

    acc: In(32)
    out_layer: In(1)
    result: Out(32)

    def elaborate(self, platform):
        m = Module()
        m.submodules.sine = sine = FpSine()
        m.submodules.pixel = pixel = FpToPixel()
        m.d.comb += [sine.x.eq(self.acc), pixel.x.eq(self.acc)]
        # Align the pixel with the sine's latency, and the layer kind with both.
        pix, kind = pixel.y, self.out_layer
        for i in range(self.LATENCY - FpToPixel.LATENCY):
            d = Signal(8, name=f"pixel_d{i}")
            m.d.sync += d.eq(pix)
            pix = d
        for i in range(self.LATENCY):
            d = Signal(name=f"kind_d{i}")
            m.d.sync += d.eq(kind)
            kind = d
        m.d.comb += self.result.eq(Mux(kind, pix, sine.y))
        return m
