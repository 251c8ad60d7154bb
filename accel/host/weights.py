"""What a model file becomes on the way into a core: memory words and weight-stream packets.

:func:`memory_images` lays a model's weights and lane parameters out in the core's memories
(the layout :mod:`accel.gateware.weight_buffer` reads; a build made with ``--weights``
starts with them, and ``accel.build`` writes them as ``.mem`` files); :func:`weight_stream`
packs the same words into the packets of ``s_axis_wgt`` (the weight stream of ``docs/interface.md``;
:mod:`accel.gateware.weight_loader` parses them). Host software, no
gateware: the driver loads weights with these.
"""

import numpy as np

from ..config import MEMORIES

__all__ = ["memory_images", "weight_stream", "beats_per_word"]


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


def beats_per_word(bits):
    """32-bit beats of one ``bits``-wide memory word."""
    return -(-bits // 32)


def weight_stream(config, model_file, *, memories=None):
    """Beats ``[(tdata, tlast), ...]`` that load ``model_file`` into a build of ``config``:
    one packet per memory (all of them, or those named in ``memories``)."""
    images = memory_images(config, model_file)
    geo = config.memory_geometry
    beats = []
    for name, words in images.items():
        if memories is not None and name not in memories:
            continue
        n = beats_per_word(geo[name][1])
        packet = [(MEMORIES[name] << 28) | 0]
        for w in words:
            packet += [(w >> (32 * i)) & 0xFFFF_FFFF for i in range(n)]
        beats += [(b, i == len(packet) - 1) for i, b in enumerate(packet)]
    return beats
