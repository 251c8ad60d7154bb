# amaranth: UnusedElaboratable=no

"""Weight-buffer memory images against the model file, and the WeightBuffer's ports.

The images are decoded here with the layout documented in :mod:`accel.gateware.weight_buffer` (its
module docstring), never with its helpers, and compared with the model file's
:class:`~model.quant.QuantModel` and :func:`model.fp32ref.fold_weights`. A schedule
emulator then computes the network from the images alone, tile by tile, and must equal
:func:`model.quant.int_forward`.
"""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator
from hypothesis import given, settings, strategies as st

from accel.config import CLOCK_HZ, MEMORIES, AccelConfig
from accel.gateware.weight_buffer import WeightBuffer
from accel.host.weights import memory_images
from model.data import patch_centres_q
from model.fp32ref import fold_weights, to_bits
from model.quant import int_forward
from tests.accel.models import random_model

# Layout facts, written down from the module docstring.
MEM_IDS = {"weights_int8": 0, "params": 1, "sine_lut": 2, "weights_fp32": 3, "weights_first": 4}


def _lane(word, c, bits):
    return (word >> (c * bits)) & ((1 << bits) - 1)


def _signed(v, bits):
    return v - (1 << bits) if v >> (bits - 1) else v


def _ceil_div(a, b):
    return -(-a // b)


def _shapes(mf):
    cfg = mf.config
    widths = [2] + [cfg.hidden] * cfg.layers + [cfg.out_features]
    return [(widths[i + 1], widths[i]) for i in range(len(widths) - 1)]


def _tiles(cfg, shapes):
    """``(layer, nt, kt, first_word)`` in schedule order, from the documented addressing:
    layers back to back, ``nt`` outer, ``kt`` inner, ``rows`` words per tile."""
    R, C = cfg.rows, cfg.cols
    out, base = [], 0
    for l, (n, k) in enumerate(shapes):
        kt_n, nt_n = _ceil_div(k, R), _ceil_div(n, C)
        for nt in range(nt_n):
            for kt in range(kt_n):
                out.append((l, nt, kt, base + (nt * kt_n + kt) * R))
        base += kt_n * nt_n * R
    return out, base


def _first_words(cfg, shapes):
    """Words of the first layer: its tiles times ``rows``."""
    (n, k) = shapes[0]
    return _ceil_div(n, cfg.cols) * _ceil_div(k, cfg.rows) * cfg.rows


def _weight_word(images, cfg, first, addr):
    """Lane values (signed ints, or fp32 bit patterns) of weight word ``addr``."""
    C = cfg.cols
    if cfg.precision == "fp32":
        return [_lane(images["weights_fp32"][addr], c, 32) for c in range(C)]
    if addr < first:
        return [_signed(_lane(images["weights_first"][addr], c, 16), 16) for c in range(C)]
    return [_signed(_lane(images["weights_int8"][addr - first], c, 8), 8) for c in range(C)]


def decode_weights(images, cfg, shapes, *, fp32=False):
    """Per-layer weight matrices ``[N, K]`` rebuilt from the weight images; asserts padding
    lanes are zero."""
    R, C = cfg.rows, cfg.cols
    tiles, _ = _tiles(cfg, shapes)
    first = _first_words(cfg, shapes)
    mats = [np.zeros((_ceil_div(n, C) * C, _ceil_div(k, R) * R), dtype=np.int64)
            for n, k in shapes]
    for l, nt, kt, base in tiles:
        for j in range(R):
            if fp32:
                lanes = [_lane(images["weights_fp32"][base + j], c, 32) for c in range(C)]
            elif base + j < first:
                lanes = [_signed(_lane(images["weights_first"][base + j], c, 16), 16)
                         for c in range(C)]
            else:
                lanes = [_signed(_lane(images["weights_int8"][base + j - first], c, 8), 8)
                         for c in range(C)]
            for c in range(C):
                mats[l][nt * C + c, kt * R + R - 1 - j] = lanes[c]
    out = []
    for (n, k), m in zip(shapes, mats):
        assert not m[n:, :].any() and not m[:, k:].any(), "padding weights are not zero"
        out.append(m[:n, :k])
    return out


def decode_params(images, cfg, shapes):
    """Per-layer ``(b, m, s, fp32 bias bits)`` rebuilt from the parameter image."""
    C = cfg.cols
    int8, fp32 = cfg.precision in ("int8", "dual"), cfg.precision in ("fp32", "dual")
    bits = 64 * int8 + 32 * fp32
    out, pbase = [], 0
    for n, _ in shapes:
        nt_n = _ceil_div(n, C)
        b, m, s, fb = (np.zeros(n, dtype=np.int64) for _ in range(4))
        for j in range(nt_n * C):
            word = images["params"][pbase + j // C]
            lane = _lane(word, j % C, bits)
            if j >= n:
                assert lane == 0, "padding parameters are not zero"
                continue
            if int8:
                b[j] = _signed(lane & 0xFFFF_FFFF, 32)
                m[j] = (lane >> 32) & 0xFFFF
                s[j] = (lane >> 48) & 0x3F
                assert lane >> 54 & 0x3FF == 0, "bits 54..63 of a lane parameter are not zero"
            if fp32:
                fb[j] = (lane >> (64 if int8 else 0)) & 0xFFFF_FFFF
        out.append((b, m, s, fb))
        pbase += nt_n
    assert len(images["params"]) == pbase
    return out


def emulate(images, cfg, shapes, coords, phase_bits):
    """The INT8 network computed tile by tile from the images alone, in schedule order:
    each tile adds ``rows`` inputs' contribution to ``cols`` partial sums (seeded by the
    bias at ``kt = 0``); after the last input tile the lane post-processes."""
    R, C = cfg.rows, cfg.cols
    first = _first_words(cfg, shapes)
    params = decode_params(images, cfg, shapes)
    lut = np.array([_signed(v, 8) for v in images["sine_lut"]], dtype=np.int64)
    tiles, _ = _tiles(cfg, shapes)
    a = np.asarray(coords, dtype=np.int64)
    Q = a.shape[0]
    acc = None
    for l, nt, kt, base in tiles:
        n, k = shapes[l]
        kt_n = _ceil_div(k, R)
        if nt == 0 and kt == 0:
            a_pad = np.zeros((Q, kt_n * R), dtype=np.int64)
            a_pad[:, :k] = a
            acc = np.zeros((Q, _ceil_div(n, C) * C), dtype=np.int64)
        # Row r of the array holds input kt*R + r; word j of the tile reached row R-1-j.
        W = np.zeros((R, C), dtype=np.int64)
        for j in range(R):
            W[R - 1 - j] = _weight_word(images, cfg, first, base + j)
        cols = slice(nt * C, (nt + 1) * C)
        if kt == 0:
            acc[:, cols] = 0
            bias = params[l][0]
            for c in range(C):
                if nt * C + c < n:
                    acc[:, nt * C + c] = bias[nt * C + c]
        acc[:, cols] += a_pad[:, kt * R:(kt + 1) * R] @ W
        if kt == kt_n - 1 and nt == _ceil_div(n, C) - 1:
            # Layer complete: requantize every real neuron.
            _, m, s, _ = params[l]
            x = acc[:, :n]
            p = np.array([[(int(x[q, j]) * int(m[j]) + (1 << (int(s[j]) - 1))) >> int(s[j])
                           for j in range(n)] for q in range(Q)], dtype=np.int64)
            if l == len(shapes) - 1:
                return np.clip(p, 0, 255).astype(np.uint8)
            a = lut[p & ((1 << phase_bits) - 1)]
    raise AssertionError("no output layer")


def _build(*, patch, channels, hidden, layers, rows, cols, precision="int8", seed=0,
           phase_bits=6):
    mf = random_model(patch=patch, channels=channels, hidden=hidden, layers=layers, seed=seed,
                      phase_bits=phase_bits)
    cfg = AccelConfig(model=mf.config, rows=rows, cols=cols, batch=4, precision=precision,
                      max_width=8 * patch, max_height=8 * patch)
    return mf, cfg


# (patch, channels, hidden, layers, rows, cols): widths not multiples of rows/cols included
SHAPES = [
    (2, 1, 6, 2, 4, 2),     # hidden 6 over 4 rows, out 4
    (1, 3, 5, 1, 3, 3),     # out 3 = cols, hidden 5
    (2, 3, 7, 2, 6, 3),     # out 12 over 3 cols, hidden 7 over 6 rows
    (3, 1, 4, 3, 2, 1),     # single column, out 9
    (1, 1, 9, 2, 4, 4),     # out 1 of 4 lanes
]


@pytest.mark.parametrize("precision", ["int8", "fp32", "dual"])
@settings(max_examples=5, deadline=None)
@given(shape=st.sampled_from(SHAPES), seed=st.integers(0, 1000))
def test_images_decode_to_model(precision, shape, seed):
    patch, channels, hidden, layers, rows, cols = shape
    mf, cfg = _build(patch=patch, channels=channels, hidden=hidden, layers=layers, rows=rows,
                     cols=cols, precision=precision, seed=seed)
    images = memory_images(cfg, mf)
    shapes = _shapes(mf)
    params = decode_params(images, cfg, shapes)
    int8, fp32 = precision in ("int8", "dual"), precision in ("fp32", "dual")
    want_names = {"params"} | ({"weights_first", "weights_int8", "sine_lut"} if int8 else set()) \
        | ({"weights_fp32"} if fp32 else set())
    assert set(images) == want_names
    _, depth = _tiles(cfg, shapes)
    first = _first_words(cfg, shapes)
    if int8:
        assert len(images["weights_first"]) == first
        assert len(images["weights_int8"]) == depth - first
        assert all(0 <= w < 1 << (16 * cols) for w in images["weights_first"])
        assert all(0 <= w < 1 << (8 * cols) for w in images["weights_int8"])
        for got, layer in zip(decode_weights(images, cfg, shapes), mf.quant.layers):
            np.testing.assert_array_equal(got, layer.w.astype(np.int64))
        for (b, m, s, _), layer in zip(params, mf.quant.layers):
            np.testing.assert_array_equal(b, layer.b)
            np.testing.assert_array_equal(m, layer.m)
            np.testing.assert_array_equal(s, layer.s)
        assert len(images["sine_lut"]) == 1 << mf.config.quant.phase_bits
        np.testing.assert_array_equal([_signed(v, 8) for v in images["sine_lut"]], mf.quant.lut)
    if fp32:
        folded = fold_weights(mf.fp32, mf.config.omega0)
        assert len(images["weights_fp32"]) == depth
        for got, (w, _) in zip(decode_weights(images, cfg, shapes, fp32=True), folded):
            np.testing.assert_array_equal(got, to_bits(w).astype(np.int64))
        for (_, _, _, fb), (_, b) in zip(params, folded):
            np.testing.assert_array_equal(fb, to_bits(b).astype(np.int64))
    bits = 64 * int8 + 32 * fp32
    assert all(0 <= w < 1 << (bits * cols) for w in images["params"])


@settings(max_examples=8, deadline=None)
@given(shape=st.sampled_from(SHAPES), seed=st.integers(0, 1000))
def test_schedule_emulator_equals_int_forward(shape, seed):
    patch, channels, hidden, layers, rows, cols = shape
    mf, cfg = _build(patch=patch, channels=channels, hidden=hidden, layers=layers, rows=rows,
                     cols=cols, seed=seed)
    images = memory_images(cfg, mf)
    rng = np.random.default_rng(seed)
    coords = np.concatenate([patch_centres_q(5, 3),
                             rng.integers(-32768, 32768, size=(12, 2)),
                             [[32767, 32767], [-32768, -32768], [0, 0]]])
    got = emulate(images, cfg, _shapes(mf), coords, mf.config.quant.phase_bits)
    np.testing.assert_array_equal(got, int_forward(mf.quant, coords))


@pytest.mark.parametrize("precision", ["int8", "fp32", "dual"])
@pytest.mark.parametrize("shape", SHAPES[:3])
def test_geometry_and_bits(shape, precision):
    patch, channels, hidden, layers, rows, cols = shape
    mf, cfg = _build(patch=patch, channels=channels, hidden=hidden, layers=layers, rows=rows,
                     cols=cols, precision=precision)
    geo = cfg.memory_geometry
    images = memory_images(cfg, mf)
    assert set(geo) == set(images)
    for name, (depth, bits) in geo.items():
        assert len(images[name]) == depth, name
        assert all(0 <= w < 1 << bits for w in images[name]), name
    total = sum(d * b * (cols if name == "sine_lut" else 1) for name, (d, b) in geo.items())
    assert cfg.weight_bits == total == cfg.weight_bits
    # Independently: every weight word is cols lanes; lane parameters 64/32/96 bits.
    shapes = _shapes(mf)
    _, depth = _tiles(cfg, shapes)
    int8, fp32 = precision in ("int8", "dual"), precision in ("fp32", "dual")
    first = _first_words(cfg, shapes)
    pdepth = sum(_ceil_div(n, cols) for n, _ in shapes)
    want = pdepth * cols * (64 * int8 + 32 * fp32)
    if int8:
        want += first * cols * 16 + (depth - first) * cols * 8 + (1 << 6) * 8 * cols
    if fp32:
        want += depth * cols * 32
    assert total == want
    assert MEMORIES == MEM_IDS


def test_images_reject_other_model():
    mf, cfg = _build(patch=2, channels=1, hidden=6, layers=2, rows=4, cols=2)
    other, _ = _build(patch=2, channels=1, hidden=8, layers=2, rows=4, cols=2)
    with pytest.raises(ValueError, match="configuration differs"):
        memory_images(cfg, other)


# WeightBuffer simulation --------------------------------------------------------------------

def _run_buffer(cfg, *, writes, reads, images=None):
    """Write ``writes`` = [(mem_id, addr, data)] one per cycle, then present ``reads`` =
    [(w_addr, bias_addrs, post_addrs)] one per cycle; return the sampled trace."""
    dut = WeightBuffer(config=cfg, images=images)
    trace = []
    C = cfg.cols
    outs = [dut.bias, dut.post] + ([dut.w_int] if cfg.has_int8 else []) \
        + ([dut.w_fp32] if cfg.has_fp32 else [])

    async def producer(ctx):
        for mem, addr, data in writes:
            ctx.set(dut.wr, {"en": 1, "mem": mem, "addr": addr, "data": data})
            await ctx.tick()
        ctx.set(dut.wr.en, 0)
        await ctx.tick()
        for w_addr, b_addr, p_addr in reads:
            ctx.set(dut.w_addr, w_addr)
            for c in range(C):
                ctx.set(dut.bias_addr[c], b_addr[c])
                ctx.set(dut.post_addr[c], p_addr[c])
            await ctx.tick()
        await ctx.tick()

    async def monitor(ctx):
        async for _, _, wen, *values in ctx.tick().sample(dut.wr.en, dut.w_addr, dut.bias_addr,
                                                          dut.post_addr, *outs):
            if not wen:
                trace.append(values)

    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    sim.add_testbench(producer)
    sim.add_testbench(monitor, background=True)
    sim.run()
    return trace


def _check_reads(cfg, trace, contents):
    """Every read result equals ``contents`` at the address presented one cycle earlier."""
    C, bits = cfg.cols, cfg.param_bits
    first, depth = contents["first"], cfg.weight_depth
    checked = 0
    for prev, cur in zip(trace, trace[1:]):
        w_addr, b_addr, p_addr = int(prev[0]), prev[1], prev[2]
        bias, post = cur[3], cur[4]
        outs = cur[5:]
        for c in range(C):
            assert int(bias[c]) == _lane(contents["params"][int(b_addr[c])], c, bits)
            assert int(post[c]) == _lane(contents["params"][int(p_addr[c])], c, bits)
        if cfg.has_int8:
            w_int = outs[0]
            if w_addr < first:
                want = [_signed(_lane(contents["weights_first"][w_addr], c, 16), 16)
                        for c in range(C)]
            else:
                want = [_signed(_lane(contents["weights_int8"][w_addr - first], c, 8), 8)
                        for c in range(C)]
            assert [int(w_int[c]) for c in range(C)] == want, f"w_int at {w_addr}"
        if cfg.has_fp32:
            w_fp32 = outs[-1]
            want = [_lane(contents["weights_fp32"][w_addr], c, 32) for c in range(C)]
            assert [int(w_fp32[c]) for c in range(C)] == want, f"w_fp32 at {w_addr}"
        assert 0 <= w_addr < depth
        checked += 1
    return checked


def _random_reads(rng, cfg, n):
    C = cfg.cols
    reads = []
    # Every weight word once in order, then random ones, with random lane addresses.
    addrs = list(range(cfg.weight_depth)) + [rng.randrange(cfg.weight_depth) for _ in range(n)]
    for a in addrs:
        reads.append((a, [rng.randrange(cfg.param_depth) for _ in range(C)],
                      [rng.randrange(cfg.param_depth) for _ in range(C)]))
    return reads


@pytest.mark.parametrize("precision", ["int8", "fp32", "dual"])
def test_buffer_write_then_read(precision):
    """Random words written through ``wr`` into every memory (same addresses in different
    memories, so a write to one must not reach another), read back through every port."""
    mf, cfg = _build(patch=2, channels=1, hidden=6, layers=2, rows=4, cols=2,
                     precision=precision)
    rng = random.Random(f"wb-{precision}")
    geo = cfg.memory_geometry
    contents = {"first": _first_words(cfg, _shapes(mf))}
    writes = []
    for name, (depth, bits) in geo.items():
        if name == "sine_lut":
            continue        # lives in the post-processing lanes
        contents[name] = [rng.getrandbits(bits) for _ in range(depth)]
        order = list(range(depth))
        rng.shuffle(order)
        writes += [(MEM_IDS[name], a, contents[name][a]) for a in order]
    rng.shuffle(writes)
    # Overwrite a few words: the last write must win.
    for _ in range(5):
        mem, addr, _ = rng.choice(writes)
        name = next(k for k, v in MEM_IDS.items() if v == mem)
        contents[name][addr] = rng.getrandbits(geo[name][1])
        writes.append((mem, addr, contents[name][addr]))
    # Writes to an id the build lacks (and to the sine table id) must not land anywhere.
    absent = [i for n, i in MEM_IDS.items() if n not in geo] + [2, 5, 7]
    writes += [(rng.choice(absent), rng.randrange(4), rng.getrandbits(32)) for _ in range(6)]
    trace = _run_buffer(cfg, writes=writes, reads=_random_reads(rng, cfg, 20))
    assert _check_reads(cfg, trace, contents) >= cfg.weight_depth


@pytest.mark.parametrize("precision", ["int8", "dual"])
def test_buffer_initial_images(precision):
    """Built with the model's images, the ports read the model's weights without writes:
    first-layer words as 16-bit, the rest sign-extended int8."""
    mf, cfg = _build(patch=2, channels=3, hidden=7, layers=2, rows=6, cols=3,
                     precision=precision)
    images = memory_images(cfg, mf)
    contents = dict(images, first=_first_words(cfg, _shapes(mf)))
    rng = random.Random(5)
    trace = _run_buffer(cfg, writes=[], reads=_random_reads(rng, cfg, 10), images=images)
    assert _check_reads(cfg, trace, contents) >= cfg.weight_depth
    # The first layer really uses more than int8 (otherwise the 16-bit path is untested).
    assert np.abs(mf.quant.layers[0].w).max() > 127
