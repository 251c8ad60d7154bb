# amaranth: UnusedElaboratable=no

"""PostLane: INT8 requantization, sine table and clamp; FP32 sine and pixel; dual builds.

Inputs stream one per cycle through one simulation; each result must appear exactly
``latency`` cycles after its input and equal a reference computed here: the integer formula
of :mod:`model.quant` (round half up, keep ``phase_bits`` bits, table lookup, clamp), or
:func:`model.fp32ref.fsin` / :func:`model.fp32ref.f2pixel`.
"""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator
from hypothesis import given, settings, strategies as st

from accel.config import CLOCK_HZ, AccelConfig
from accel.gateware.postproc import PostLane
from model.config import PatchINRConfig
from model.fp32ref import f2pixel, from_bits, fsin, to_bits
from tests.fp32_cases import float_bits

M_LO, M_HI = 1 << 14, (1 << 15) - 1         # multipliers of mult_bits = 16
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _config(precision, phase_bits=12):
    model = PatchINRConfig(patch=1, channels=1, hidden=4, layers=1,
                           quant={"phase_bits": phase_bits})
    return AccelConfig(model=model, rows=2, cols=2, batch=2, precision=precision,
                       max_width=4, max_height=4)


def ref_int8(acc, m, s, out_layer, lut, phase_bits):
    """``p = (acc*m + 2**(s-1)) >> s`` (Python's ``>>`` floors: round half up), then the
    table at ``p mod 2**phase_bits`` or ``clamp(p, 0, 255)``."""
    p = (acc * m + (1 << (s - 1))) >> s
    if out_layer:
        return min(max(p, 0), 255)
    return lut[p % (1 << phase_bits)]


def ref_fp32(bits, out_layer):
    x = from_bits(np.array([bits], dtype=np.uint32))
    if out_layer:
        return int(f2pixel(x)[0])
    return int(to_bits(fsin(x))[0])


def run_lane(cfg, samples, *, lut_init=None, lut_writes=(), raw=None):
    """Write ``lut_writes`` [(addr, value)] through the table port, then drive ``samples``
    (dicts: acc, m, s, out_layer, mode) one per cycle; return the result sampled its mode's
    latency (``latency_for``) cycles after each sample, as raw ``elem_bits`` integers.
    ``raw``, if a list, receives ``result`` of every cycle from the first sample's cycle
    on."""
    dut = PostLane(config=cfg, lut_init=lut_init)
    dual = cfg.precision == "dual"
    lats = [dut.latency_for(("int8", "fp32")[smp.get("mode", 0)]) if dual else dut.latency
            for smp in samples]
    lat = max(lats)
    start = len(lut_writes) + 2

    async def producer(ctx):
        for addr, value in lut_writes:
            ctx.set(dut.lut_we, 1)
            ctx.set(dut.lut_addr, addr)
            ctx.set(dut.lut_data, value & 0xFF)
            await ctx.tick()
        ctx.set(dut.lut_we, 0)
        await ctx.tick().repeat(start - len(lut_writes))
        for smp in samples:
            ctx.set(dut.acc, smp["acc"] & 0xFFFF_FFFF)
            ctx.set(dut.m, smp.get("m", 0))
            ctx.set(dut.s, smp.get("s", 0))
            ctx.set(dut.out_layer, smp["out_layer"])
            ctx.set(dut.mode, smp.get("mode", 0))
            await ctx.tick()
        # Keep the mode of the last sample while the pipeline drains.
        ctx.set(dut.acc, 0)
        await ctx.tick().repeat(lat + 1)

    # Sample i's result shows in cycle start + i + lats[i] (a dual lane's faster mode can
    # show two samples' in one cycle: the test's drain samples, whose results are not read).
    due = {}
    for i, d in enumerate(lats):
        due.setdefault(start + i + d, []).append(i)
    got = {}

    async def consumer(ctx):
        cycle = 0
        async for _, _, result in ctx.tick().sample(dut.result):
            for i in due.get(cycle, ()):
                got[i] = int(result)
            if raw is not None and cycle >= start:
                raw.append(int(result))
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    sim.add_testbench(producer)
    sim.add_testbench(consumer, background=True)
    sim.run()
    assert len(got) == len(samples)
    return [got[i] for i in range(len(samples))]


def _signed8(v):
    return ((v + 128) & 0xFF) - 128


def _targeted(draw_p, m, s):
    """An int32 accumulator whose requantized value lands near ``draw_p``."""
    acc = (draw_p << s) // m
    return min(max(acc, INT32_MIN), INT32_MAX)


int8_sample = st.builds(
    lambda acc, m, s, out, p, target: dict(
        acc=_targeted(p, m, s) + target if target is not None else acc, m=m, s=s, out_layer=out),
    acc=st.one_of(st.integers(INT32_MIN, INT32_MAX),
                  st.sampled_from([INT32_MIN, INT32_MAX, -1, 0, 1, INT32_MIN + 1])),
    m=st.one_of(st.integers(M_LO, M_HI), st.sampled_from([M_LO, M_HI])),
    s=st.one_of(st.integers(1, 47), st.sampled_from([1, 2, 47])),
    out=st.booleans(),
    p=st.integers(-300, 600),
    target=st.one_of(st.none(), st.integers(-2, 2)))


def _clip_int32(smp):
    smp["acc"] = min(max(smp["acc"], INT32_MIN), INT32_MAX)
    return smp


@settings(max_examples=8, deadline=None)
@given(samples=st.lists(int8_sample.map(_clip_int32), min_size=1, max_size=60),
       seed=st.integers(0, 2 ** 16))
def test_int8_matches_formula(samples, seed):
    cfg = _config("int8", phase_bits=12)
    rng = random.Random(seed)
    lut = [rng.randrange(-128, 128) for _ in range(1 << 12)]
    got = run_lane(cfg, samples, lut_init=lut)
    for smp, r in zip(samples, got):
        want = ref_int8(smp["acc"], smp["m"], smp["s"], smp["out_layer"], lut, 12)
        assert (r if smp["out_layer"] else _signed8(r)) == want, smp


def test_int8_rounding_and_extremes():
    """Ties round up (towards +inf, also for negative sums), shifts 1 and 47, the int32
    extremes with the largest multiplier, and every pixel clamp boundary."""
    phase_bits = 8
    cfg = _config("int8", phase_bits=phase_bits)
    lut = [(i * 37 + 11) % 256 - 128 for i in range(1 << phase_bits)]    # distinct-ish values
    samples = []
    # m = 2**14, s = 15: p = round_half_up(acc / 2)
    for acc in range(-7, 8):
        for out in (0, 1):
            samples.append(dict(acc=acc, m=M_LO, s=15, out_layer=out))
    for acc in (INT32_MIN, INT32_MAX, INT32_MIN + 1, -1, 0, 1):
        for m in (M_LO, M_HI):
            for s in (1, 2, 24, 46, 47):
                for out in (0, 1):
                    samples.append(dict(acc=acc, m=m, s=s, out_layer=out))
    # p = acc exactly (m = 2**14, s = 14): pixels -1, 0, 255, 256 and phases wrapping.
    for p in (-1, 0, 1, 254, 255, 256, 257, 1000, -1000, (1 << phase_bits) - 1, 1 << phase_bits):
        for out in (0, 1):
            samples.append(dict(acc=p, m=M_LO, s=14, out_layer=out))
    got = run_lane(cfg, samples, lut_init=[v & 0xFF for v in lut])    # byte patterns accepted
    for smp, r in zip(samples, got):
        want = ref_int8(smp["acc"], smp["m"], smp["s"], smp["out_layer"], lut, phase_bits)
        assert (r if smp["out_layer"] else _signed8(r)) == want, smp
    # Spot checks worked out by hand: -2.5 -> -2, 2.5 -> 3, p = 256 -> 255.
    byacc = {(s["acc"], s["out_layer"]): r for s, r in zip(samples[:30], got[:30])}
    assert _signed8(byacc[(-5, 0)]) == lut[(-2) % 256]
    assert _signed8(byacc[(5, 0)]) == lut[3]
    assert byacc[(7, 1)] == 4 and byacc[(-7, 1)] == 0


def test_lut_write_port():
    """Entries written through the table port replace the initial table; others remain."""
    phase_bits = 8
    n = 1 << phase_bits
    cfg = _config("int8", phase_bits=phase_bits)
    rng = random.Random(3)
    init = [rng.randrange(-128, 128) for _ in range(n)]
    written = rng.sample(range(n), n // 2)
    writes = [(a, rng.randrange(-128, 128)) for a in written]
    writes.append((written[0], -128))                   # the last write to an address wins
    table = list(init)
    for a, v in writes:
        table[a] = v
    # p = acc (m = 2**14, s = 14): read every entry once, in random order, plus wraps.
    phases = list(range(n))
    rng.shuffle(phases)
    samples = [dict(acc=p + n * rng.randrange(-3, 4), m=M_LO, s=14, out_layer=0) for p in phases]
    got = run_lane(cfg, samples, lut_init=init, lut_writes=writes)
    assert [_signed8(r) for r in got] == [table[p] for p in phases]


float_acc = st.one_of(float_bits(),
                      st.floats(-100, 100, width=32).map(lambda v: int(to_bits(np.float32(v)))),
                      st.floats(-20, 300, width=32).map(lambda v: int(to_bits(np.float32(v)))),
                      st.integers(-10, 600).map(lambda v: int(to_bits(np.float32(v / 2)))))


@settings(max_examples=5, deadline=None)
@given(st.lists(st.tuples(float_acc, st.booleans()), min_size=1, max_size=60))
def test_fp32_matches_reference(pairs):
    cfg = _config("fp32")
    samples = [dict(acc=a, out_layer=int(o)) for a, o in pairs]
    got = run_lane(cfg, samples)
    for (a, o), r in zip(pairs, got):
        want = ref_fp32(a, o)
        assert (r & 0xFF if o else r) == want, (hex(a), o, hex(r), hex(want))


def test_fp32_pixel_ties_and_specials():
    """Half-way pixels round to even; NaN, infinities and the clamp boundaries."""
    vals = [v / 2 for v in range(-4, 520)] + [255.49, 255.5, 256.0, 1e30, -1e30, -0.0]
    bits = [int(to_bits(np.float32(v))) for v in vals]
    bits += [0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0x00000001, 0x80000001]
    samples = [dict(acc=b, out_layer=1) for b in bits]
    got = run_lane(_config("fp32"), samples)
    want = f2pixel(from_bits(np.array(bits, dtype=np.uint32)))
    assert [r & 0xFF for r in got] == want.tolist()
    assert f2pixel(np.float32([2.5, 3.5]))[0] == 2      # the reference's ties go to even


def test_dual_each_mode_at_its_own_latency():
    """A dual build: an INT8 run, drained, then an FP32 run, each checked at the latency of
    its single-precision lane; INT8 activations come sign-extended to 32 bits."""
    phase_bits = 12
    cfg = _config("dual", phase_bits=phase_bits)
    lane = PostLane(config=cfg)
    assert lane.latency_for("int8") == PostLane(config=_config("int8")).latency == 9
    assert lane.latency_for("fp32") == PostLane(config=_config("fp32")).latency == 5
    dut_lat = max(lane.latency_for(p) for p in ("int8", "fp32"))
    rng = random.Random(11)
    lut = [rng.randrange(-128, 128) for _ in range(1 << phase_bits)]
    int8 = [dict(acc=rng.randrange(INT32_MIN, INT32_MAX + 1), m=rng.randrange(M_LO, M_HI + 1),
                 s=rng.randrange(1, 48), out_layer=rng.randrange(2), mode=0) for _ in range(40)]
    int8 += [dict(acc=rng.randrange(-300, 600), m=M_LO, s=14, out_layer=rng.randrange(2), mode=0)
             for _ in range(20)]
    fp32 = []
    for _ in range(60):
        v = np.float32(rng.uniform(-50, 300))
        fp32.append(dict(acc=int(to_bits(v)), out_layer=rng.randrange(2), mode=1,
                         m=rng.randrange(1 << 16), s=rng.randrange(64)))
    drain = [dict(acc=0, out_layer=0, mode=0)] * (dut_lat + 1)
    samples = int8 + drain + fp32
    got = run_lane(cfg, samples, lut_init=lut)
    for smp, r in zip(int8, got):
        want = ref_int8(smp["acc"], smp["m"], smp["s"], smp["out_layer"], lut, phase_bits)
        assert r == (want if smp["out_layer"] else want & 0xFFFF_FFFF), smp
    for smp, r in zip(fp32, got[len(int8) + len(drain):]):
        want = ref_fp32(smp["acc"], smp["out_layer"])
        assert (r & 0xFF if smp["out_layer"] else r) == want, smp


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_latency_measured(precision):
    """One distinctive input among neutral ones: its result shows exactly ``latency``
    cycles later, nowhere else."""
    cfg = _config(precision, phase_bits=8)
    if precision == "int8":
        lut = [0] * 256
        lut[77] = 55
        hit = dict(acc=77, m=M_LO, s=14, out_layer=0)
        zero = dict(acc=0, m=M_LO, s=14, out_layer=0)
        marker = 55
    else:
        lut = None
        hit = dict(acc=int(to_bits(np.float32(123.0))), out_layer=1)
        zero = dict(acc=0, out_layer=1)
        marker = 123
    samples = [zero] * 3 + [hit] + [zero] * 12
    raw = []
    run_lane(cfg, samples, lut_init=lut, raw=raw)
    seen = [t for t, r in enumerate(raw) if r & 0xFF == marker]
    assert seen == [3 + PostLane(config=cfg).latency]


def test_rejects_bad_table():
    with pytest.raises(ValueError, match="sine table needs 256 entries, not 3"):
        PostLane(config=_config("int8", phase_bits=8), lut_init=[1, 2, 3])
    with pytest.raises(TypeError, match="config must be an AccelConfig"):
        PostLane(config=None)
