# amaranth: UnusedElaboratable=no

import random

import numpy as np
import pytest
from amaranth.sim import Simulator
from hypothesis import given, settings, strategies as st

from accel.config import CLOCK_HZ, AccelConfig
from accel.gateware.coord_gen import CoordinateGenerator
from model.config import PatchINRConfig
from model.data import patch_centres_q
from tests.simutil import stream_get


def _config(n, max_width, max_height):
    return AccelConfig(model=PatchINRConfig(patch=n, channels=3, hidden=8, layers=1),
                       max_width=max_width, max_height=max_height)


async def _frame(ctx, dut, width, height):
    ctx.set(dut.width, width)
    ctx.set(dut.height, height)
    ctx.set(dut.start, 1)
    await ctx.tick()
    ctx.set(dut.start, 0)


async def _collect(ctx, dut, count, rng, stall_prob):
    """``count`` queries as ``(x, y, last)``, with ``ready`` low at random."""
    out = []
    for _ in range(count):
        if rng.random() < stall_prob:
            await ctx.tick().repeat(rng.randint(1, 4))
        p = await stream_get(ctx, dut.coords)
        out.append((p.x, p.y, p.last))
    return out


def _expected(pw, ph):
    ref = patch_centres_q(pw, ph).astype(np.int64)
    last = [0] * (pw * ph - 1) + [1]
    return [(int(x), int(y), l) for (x, y), l in zip(ref, last)]


def _run_frames(n, frames, *, seed, stall_prob, max_width, max_height):
    """Render ``frames`` (pixel sizes) back to back, compare each with the reference and
    return what was received."""
    dut = CoordinateGenerator(config=_config(n, max_width, max_height))
    rng = random.Random(seed)
    received = []

    async def testbench(ctx):
        for width, height in frames:
            pw, ph = width // n, height // n
            await _frame(ctx, dut, width, height)
            assert ctx.get(dut.busy)
            got = await _collect(ctx, dut, pw * ph, rng, stall_prob)
            assert got == _expected(pw, ph), (width, height)
            received.append(got)
            assert ctx.get(dut.info_valid)
            assert (ctx.get(dut.pw), ctx.get(dut.ph)) == (pw, ph)
            assert not ctx.get(dut.busy) and not ctx.get(dut.coords.valid)

    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    sim.add_testbench(testbench)
    sim.run()
    return received


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 16])
@settings(max_examples=5, deadline=None)
@given(frames=st.lists(st.tuples(st.integers(1, 24), st.integers(1, 24)), min_size=1, max_size=4),
       seed=st.integers(0, 2 ** 32 - 1))
def test_matches_reference(n, frames, seed):
    # P = 1 on either axis and non-square frames in every run, besides the drawn ones.
    frames = [(1, 1), (5, 1), (1, 3)] + frames
    _run_frames(n, [(pw * n, ph * n) for pw, ph in frames], seed=seed, stall_prob=0.3,
                max_width=24 * n, max_height=24 * n)


@pytest.mark.parametrize("axis, frame", [(0, (1920, 1)), (1, (1, 1080))])
def test_full_hd_axes_at_n1(axis, frame):
    # Each run sweeps one axis of a 1920x1080 frame at n = 1 in full: the finest grids the
    # build accepts, where neighbouring centres are closest (2 * 32767 / 1920 = 34 codes).
    got, = _run_frames(1, [frame], seed=1, stall_prob=0.05, max_width=1920, max_height=1080)
    q = np.array([beat[axis] for beat in got])
    assert len(q) == frame[axis]
    assert np.diff(q).min() >= 2 * 32767 // frame[axis]     # no two neighbours collapse
    assert -32767 < q[0] and q[-1] < 32767
    assert (q + q[::-1]).max() <= 1 and (q + q[::-1]).min() >= 0   # symmetric up to rounding


@pytest.mark.parametrize("n", [2, 3])
def test_timing(n):
    """Setup takes the documented cycles; then one query per cycle with ``ready`` high."""
    dut = CoordinateGenerator(config=_config(n, 64 * n, 64 * n))
    pw, ph = 7, 3

    async def testbench(ctx):
        ctx.set(dut.coords.ready, 1)
        await _frame(ctx, dut, pw * n, ph * n)
        cycles = 1
        while not ctx.get(dut.info_valid):
            await ctx.tick()
            cycles += 1
        assert cycles == dut.info_latency
        assert (ctx.get(dut.pw), ctx.get(dut.ph)) == (pw, ph)
        while not ctx.get(dut.coords.valid):
            await ctx.tick()
            cycles += 1
        assert cycles == dut.setup_latency
        got = []
        for _ in range(pw * ph):
            *_, valid, p = await ctx.tick().sample(dut.coords.valid, dut.coords.payload)
            assert valid
            got.append((p.x, p.y, p.last))
        assert got == _expected(pw, ph)
        assert not ctx.get(dut.coords.valid) and not ctx.get(dut.busy)

    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    sim.add_testbench(testbench)
    sim.run()


def test_start_while_busy_is_ignored():
    n, pw, ph = 3, 4, 5
    dut = CoordinateGenerator(config=_config(n, 30, 30))

    async def producer(ctx):
        await _frame(ctx, dut, pw * n, ph * n)
        await ctx.tick().repeat(dut.setup_latency + 3)
        await _frame(ctx, dut, 2 * n, 2 * n)      # mid-frame: must not disturb it

    async def consumer(ctx):
        got = await _collect(ctx, dut, pw * ph, random.Random(7), 0.5)
        assert got == _expected(pw, ph)
        assert (ctx.get(dut.pw), ctx.get(dut.ph)) == (pw, ph)
        await ctx.tick().repeat(5)
        assert not ctx.get(dut.busy) and not ctx.get(dut.coords.valid)

    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(consumer)
    sim.run()


def test_rejects_bad_config():
    with pytest.raises(TypeError, match="config must be an AccelConfig"):
        CoordinateGenerator(config=None)


@pytest.mark.parametrize("n, pw, ph, clip, first, count", [
    (2, 3, 2, 5, 1, 3), (1, 2, 3, 1, 0, 1), (3, 1, 1, 7, 6, 1), (4, 2, 1, 4, 0, 4)])
def test_video_frames_in_order_with_their_t(n, pw, ph, clip, first, count):
    # A video build: FRAME_COUNT frames from FIRST_FRAME, each frame's patch centres with
    # the t of that frame in a CLIP_FRAMES clip, `last` on the job's final query only; the
    # first query comes setup_latency + FIRST_FRAME cycles after start with ready high.
    from model.video import clip_coords_q
    cfg = AccelConfig(model=PatchINRConfig(patch=n, channels=1, hidden=4, layers=1, coords=3),
                      max_width=8 * n, max_height=8 * n)
    dut = CoordinateGenerator(config=cfg)
    want = clip_coords_q(pw, ph, clip)[first * pw * ph:(first + count) * pw * ph]

    async def testbench(ctx):
        ctx.set(dut.coords.ready, 1)
        ctx.set(dut.clip_frames, clip)
        ctx.set(dut.first_frame, first)
        ctx.set(dut.frame_count, count)
        await _frame(ctx, dut, pw * n, ph * n)
        cycles = 1
        while not ctx.get(dut.coords.valid):
            await ctx.tick()
            cycles += 1
        assert cycles == dut.setup_latency + first
        got = []
        for _ in range(len(want)):
            *_, valid, p = await ctx.tick().sample(dut.coords.valid, dut.coords.payload)
            assert valid
            got.append((p.x, p.y, p.t, p.last))
        assert [g[:3] for g in got] == [tuple(int(v) for v in w) for w in want]
        assert [g[3] for g in got] == [0] * (len(want) - 1) + [1]
        assert not ctx.get(dut.coords.valid) and not ctx.get(dut.busy)

    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    sim.add_testbench(testbench)
    sim.run()
