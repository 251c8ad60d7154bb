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

import numpy as np
from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from ..config import MEMORIES, AccelConfig

__all__ = ["memory_images", "write_layout", "WeightBuffer"]

def _tile_words(config, weights, elem_bits):
    """Weight-memory words (lists of per-lane element bit patterns) for ``weights`` =
    per-layer integer bit-pattern arrays ``[N, K]``."""
    R, C = config.rows, config.cols
    mask = (1 << elem_bits) - 1
    words = np.zeros((config.weight_depth, C), dtype=np.uint64)
    for geo, w in zip(config.layers, weights):
        padded = np.zeros((geo.nt * C, geo.kt * R), dtype=np.uint64)
        padded[:geo.n, :geo.k] = w.astype(np.int64).astype(np.uint64) & np.uint64(mask)
        for nt in range(geo.nt):
            for kt in range(geo.kt):
                base = geo.weight_base + (nt * geo.kt + kt) * R
                block = padded[nt * C:(nt + 1) * C, kt * R:(kt + 1) * R]   # [C, R]
                words[base:base + R] = block[:, ::-1].T                  # word j <- row R-1-j
    return words


def _pack(lanes, bits):
    """Per-lane bit patterns ``[depth, C]`` to one integer per word (lane 0 lowest)."""
    return [sum(int(v) << (c * bits) for c, v in enumerate(row)) for row in lanes]


def memory_images(config, model_file):
    """Initial contents ``{name: [word, ...]}`` of every memory, from a model file.

    Raises ``ValueError`` if the model file's configuration is not the build's.
    """
    if model_file.config != config.model:
        raise ValueError("the model file's configuration differs from the build's")
    images = {}
    C = config.cols
    q = model_file.quant
    param = np.zeros((config.param_depth, C), dtype=object)
    param[:] = 0
    if config.has_int8:
        first = config.first_words
        words = _tile_words(config, [l.w for l in q.layers], 16)
        images["weights_first"] = _pack(words[:first], 16)
        images["weights_int8"] = _pack(words[first:] & np.uint64(0xFF), 8)
        images["sine_lut"] = [int(v) & 0xFF for v in q.lut]
        for geo, layer in zip(config.layers, q.layers):
            for n in range(geo.n):
                word = (int(layer.b[n]) & 0xFFFF_FFFF) | (int(layer.m[n]) << 32) | (int(layer.s[n]) << 48)
                param[geo.param_base + n // C, n % C] = word
    if config.has_fp32:
        from model.fp32ref import fold_weights
        folded = fold_weights(model_file.fp32, model_file.config.omega0)
        bits = [np.asarray(w, dtype=np.float32).view(np.uint32) for w, _ in folded]
        images["weights_fp32"] = _pack(_tile_words(config, bits, 32), 32)
        shift = 64 if config.has_int8 else 0
        for geo, (_, b) in zip(config.layers, folded):
            bb = np.asarray(b, dtype=np.float32).view(np.uint32)
            for n in range(geo.n):
                param[geo.param_base + n // C, n % C] |= int(bb[n]) << shift
    images["params"] = _pack(param, config.param_bits)
    return images


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
        and ``w_fp32`` follow one cycle later.
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

        def weight_memory(name, addr):
            depth, bits = geo[name]
            mem = memory.Memory(shape=bits, depth=depth, init=self._images.get(name, []))
            m.submodules[name] = mem
            wp, rp = mem.write_port(), mem.read_port()
            m.d.comb += [
                wp.en.eq(self.wr.en & (self.wr.mem == MEMORIES[name])),
                wp.addr.eq(self.wr.addr), wp.data.eq(self.wr.data),
                rp.addr.eq(addr),
            ]
            return rp.data

        if cfg.has_int8:
            first = cfg.first_words
            in_first = Signal()
            m.d.sync += in_first.eq(self.w_addr < first)
            w16 = weight_memory("weights_first", self.w_addr)
            w8 = weight_memory("weights_int8", self.w_addr - first)
            for c in range(C):
                m.d.comb += self.w_int[c].eq(Mux(in_first, w16[16 * c:16 * (c + 1)].as_signed(),
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
