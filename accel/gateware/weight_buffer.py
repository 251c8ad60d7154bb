"""Weight buffers: on-chip memories for every layer's weights and per-neuron parameters.

Memories (``mem`` is the id the weight stream uses, see :mod:`accel.gateware.weight_loader`):

=====  =================  =========================  ==========================================
mem    name               word                       addressing
=====  =================  =========================  ==========================================
4      ``weights_first``  ``cols`` int16 weights     tile ``(l, nt, kt)`` is ``rows`` words at
0      ``weights_int8``   ``cols`` int8 weights      ``weight_base[l] + (nt*kt_l + kt)*rows``
3      ``weights_fp32``   ``cols`` FP32 weights      (``weights_int8``: minus the first layer's
                                                     ``first_words``); word ``j``, lane ``c``
                                                     holds ``W[nt*cols + c, kt*rows + rows-1-j]``
1      ``params``         ``cols`` lane parameters   ``param_base[l] + nt``; lane ``c`` is
                                                     neuron ``nt*cols + c``
2      ``sine_lut``       one int8 entry             phase code (every lane holds a copy)
=====  =================  =========================  ==========================================

The INT8 datapath keeps the first layer's weights (``first_weight_bits``, see
:class:`model.config.QuantSpec`) in their own 16-bit memory: it holds only ``2 x hidden``
weights, and every other layer's weights stay 8 bits wide.

Weight words are pushed into the array's shadow registers in address order, so the first
word of a tile ends in the bottom row: hence ``rows-1-j``. Weights and parameters outside a
layer's true shape are zero (a zero weight times a masked activation adds +0). A lane
parameter is INT8 ``bias[31:0] | m[47:32] | s[53:48]``, then the FP32 bias in the next 32 bits
in builds that carry FP32 (:attr:`accel.config.AccelConfig.param_bits`). Lane ``c`` of a word sits in bits
``[c*bits, (c+1)*bits)``.
"""

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from ..config import MEMORIES, AccelConfig
from .banked_memory import add_memory

__all__ = ["write_layout", "WeightBuffer"]

def write_layout(config):
    """One weight-buffer word write: ``en``, ``mem`` (a :data:`accel.config.MEMORIES` id), ``addr`` (as
    wide as the deepest memory needs), ``data`` (the widest word)."""
    return data.StructLayout({"en": 1, "mem": 3, "addr": config.buffer_addr_bits,
                              "data": max(bits for _, bits in config.memory_geometry.values())})


class WeightBuffer(wiring.Component):
    """The weight and lane-parameter memories, with the array-side read ports.

    Ports
    -----
    wr : In(:func:`write_layout`): ``en``, ``mem`` (3 bits, a :data:`accel.config.MEMORIES` id), ``addr``
        (:attr:`~accel.config.AccelConfig.buffer_addr_bits`), ``data`` (widest word). One
        word written per cycle (from the weight loader).
    w_addr : In(:attr:`~accel.config.AccelConfig.weight_addr_bits`)
        Weight word to read (the whole weight address space, first layer first);
        ``w_int`` (``cols`` signed 16-bit weights: the first layer's, or int8 sign-extended)
        and ``w_fp32`` follow :attr:`~accel.config.AccelConfig.weight_read_latency` cycles
        later (1, or more where the device's memories are banked).
    bias_addr, post_addr : In(ArrayLayout(param_addr_bits, cols))
        Per-lane parameter reads (two ports per lane: the column-top bias and the
        post-processing parameters are needed at different times); ``bias`` /
        ``post`` (lane parameter bit patterns, ``param_bits`` each) follow one cycle later.

    The sine tables live in the post-processing lanes (one read port each); the stream
    writes reach them through :class:`~accel.gateware.weight_loader.WeightLoader`'s ``lut`` port.
    """

    def __init__(self, *, config, images=None):
        if not isinstance(config, AccelConfig):
            raise TypeError(f"config must be an AccelConfig, not {config!r}")
        self._config = config
        self._images = images or {}
        members = {
            "wr": In(write_layout(config)),
            "w_addr": In(config.weight_addr_bits),
            "bias_addr": In(data.ArrayLayout(config.param_addr_bits, config.cols)),
            "post_addr": In(data.ArrayLayout(config.param_addr_bits, config.cols)),
            "bias": Out(data.ArrayLayout(config.param_bits, config.cols)),
            "post": Out(data.ArrayLayout(config.param_bits, config.cols)),
        }
        if config.has_int8:
            members["w_int"] = Out(data.ArrayLayout(signed(16), config.cols))
        if config.has_fp32:
            members["w_fp32"] = Out(data.ArrayLayout(32, config.cols))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        C = cfg.cols
        geo = cfg.memory_geometry

        lat = cfg.weight_read_latency

        def weight_memory(name, addr):
            depth, bits = geo[name]
            # Banked and pipelined on devices that ask for it (:mod:`.banked_memory`); every
            # weight memory presents the same latency, as they are read together.
            mem = add_memory(m, name, width=bits, depth=depth,
                             bank_depth=cfg.bank_words(bits), init=self._images.get(name, []),
                             latency=lat)
            m.d.comb += [
                mem.w_en.eq(self.wr.en & (self.wr.mem == MEMORIES[name])),
                mem.w_addr.eq(self.wr.addr), mem.w_data.eq(self.wr.data),
                mem.r_addr.eq(addr),
            ]
            return mem.r_data

        if cfg.has_int8:
            first = cfg.first_words
            # Which memory the word comes from travels with the read.
            in_first = [Signal(name="in_first0")]
            m.d.comb += in_first[0].eq(self.w_addr < first)
            for d in range(1, lat + 1):
                s = Signal(name=f"in_first{d}")
                m.d.sync += s.eq(in_first[-1])
                in_first.append(s)
            w16 = weight_memory("weights_first", self.w_addr)
            w8 = weight_memory("weights_int8", self.w_addr - first)
            for c in range(C):
                m.d.comb += self.w_int[c].eq(Mux(in_first[lat], w16[16 * c:16 * (c + 1)].as_signed(),
                                                 w8[8 * c:8 * (c + 1)].as_signed()))
        if cfg.has_fp32:
            m.d.comb += self.w_fp32.as_value().eq(weight_memory("weights_fp32", self.w_addr))

        # One memory per lane: each lane reads its own neuron's parameters at its own time.
        depth, bits = cfg.param_depth, cfg.param_bits
        init = self._images.get("params")
        for c in range(C):
            lane_init = [] if init is None else [(w >> (c * bits)) & ((1 << bits) - 1) for w in init]
            mem = memory.Memory(shape=bits, depth=depth, init=lane_init)
            m.submodules[f"params_{c}"] = mem
            wp = mem.write_port()
            rb, rq = mem.read_port(), mem.read_port()
            m.d.comb += [
                wp.en.eq(self.wr.en & (self.wr.mem == MEMORIES["params"])),
                wp.addr.eq(self.wr.addr), wp.data.eq(self.wr.data[c * bits:(c + 1) * bits]),
                rb.addr.eq(self.bias_addr[c]), self.bias[c].eq(rb.data),
                rq.addr.eq(self.post_addr[c]), self.post[c].eq(rq.data),
            ]
        return m
