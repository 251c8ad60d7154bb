# amaranth: UnusedElaboratable=no

import random
from dataclasses import dataclass, field

import numpy as np
import pytest
from amaranth.sim import Simulator
from hypothesis import given, settings, strategies as st

from accel.config import CLOCK_HZ, AccelConfig
from accel.gateware.scatter import MODE_FRAME, MODE_QUERY, PatchScatter
from model.config import PatchINRConfig
from model.data import unpatchify
from tests.simutil import axis_get, axis_monitor


def _config(*, n, channels, lanes, batch, pw_max, ph_max, k=1):
    return AccelConfig(model=PatchINRConfig(patch=n, channels=channels, hidden=8, layers=1),
                       rows=lanes, cols=lanes, batch=batch, max_width=pw_max * n,
                       max_height=ph_max * n, pixels_per_beat=k)


@dataclass
class Job:
    """One job and what the unit must send for it."""
    mode: int
    queries: int
    pw: int = 0
    ph: int = 0
    late_total: bool = False        # query mode: total_valid only after the last commit
    values: np.ndarray = None       # [queries, n*n*channels] uint8
    received: list = field(default_factory=list)


def _pack(pixel):
    return sum(int(v) << (8 * ch) for ch, v in enumerate(pixel))


def _expected_beats(job, n, channels, k=1):
    """``(tdata, tlast, tuser)`` of every beat of ``k`` pixels: the reference unpatchify
    (frame mode, ``tlast`` on each line's last pixel) or each query's patch in raster order
    (query mode, ``tlast`` on the job's last pixel only; a job whose total comes only after
    its last pixel has left cannot mark it, and ends without ``tlast``: the core never does
    that, the last query's coordinate carries it), pixel ``p`` of a beat in its bits
    ``[8*channels*(p+1)-1 : 8*channels*p]``."""
    if job.mode == MODE_FRAME:
        width, height = job.pw * n, job.ph * n
        img = unpatchify(job.values, width, height, n, channels)
        pixels = [(_pack(img[y, x]), int(x == width - 1), int(x == 0 and y == 0))
                  for y in range(height) for x in range(width)]
    else:
        values = job.values.reshape(job.queries, n * n, channels)
        last = (job.queries - 1, n * n - 1)
        pixels = [(_pack(values[q, i]), int((q, i) == last and not job.late_total),
                   int(q == 0 and i == 0))
                  for q in range(job.queries) for i in range(n * n)]
    beats = []
    for i in range(0, len(pixels), k):
        group = pixels[i:i + k]
        assert not any(t for _, t, _ in group[:-1]), "a line ends inside a beat"
        beats.append((sum(d << (8 * channels * p) for p, (d, _, _) in enumerate(group)),
                      group[-1][1], group[0][2]))
    return beats


def _freed_after(job, sent, n):
    """Queries whose pixels are all among the first ``sent`` pixels."""
    if job.mode == MODE_FRAME:
        return (sent // (job.pw * n) // n) * job.pw
    return sent // (n * n)


def _run(cfg, jobs, *, seed, write_prob=0.6, stall_prob=0.3):
    """Run ``jobs`` back to back: a writer model fills the ring lane-wise in random order,
    a sink applies random back-pressure, a monitor checks the bookkeeping every cycle."""
    n, channels = cfg.model.patch, cfg.model.channels
    lanes, words, slots = cfg.cols, cfg.out_words, cfg.out_slots
    k = cfg.pixels_per_beat
    rng = random.Random(seed)
    for job in jobs:
        job.values = np.array([[rng.randrange(256) for _ in range(cfg.model.out_features)]
                               for _ in range(job.queries)], dtype=np.uint8)
    dut = PatchScatter(config=cfg)
    current = []        # the job being started, for the monitor

    async def writer(ctx, job):
        # pending[c][q]: words lane c still owes query q, padding words included (their
        # writes must be harmless).
        pending = [{q: rng.sample(range(words), words) for q in range(job.queries)}
                   for _ in range(lanes)]
        committed = 0
        while committed < job.queries:
            freed = ctx.get(dut.freed)
            assert committed >= freed
            window = range(committed, min(job.queries, freed + slots))
            for c in range(lanes):
                open_ = [q for q in window if pending[c][q]]
                if open_ and rng.random() < write_prob:
                    q = rng.choice(open_)
                    word = pending[c][q].pop()
                    o = word * lanes + c
                    padding = o >= cfg.model.out_features
                    value = rng.randrange(256) if padding else int(job.values[q, o])
                    ctx.set(dut.wr[c], {"valid": 1, "slot": q % slots, "word": word,
                                        "data": value})
                else:
                    ctx.set(dut.wr[c].valid, 0)
            # Commit in the same cycle as the last write: the tightest timing allowed.
            while committed < job.queries and not any(p[committed] for p in pending):
                committed += 1
            ctx.set(dut.committed, committed)
            await ctx.tick()
        for c in range(lanes):
            ctx.set(dut.wr[c].valid, 0)

    async def control(ctx):
        for job in jobs:
            current[:] = [job]
            ctx.set(dut.mode, job.mode)
            ctx.set(dut.pw, job.pw)
            ctx.set(dut.ph, job.ph)
            ctx.set(dut.committed, 0)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            ctx.set(dut.pw, 0)      # sampled with start only
            ctx.set(dut.ph, 0)
            if job.mode == MODE_QUERY:
                ctx.set(dut.total, job.queries)
                ctx.set(dut.total_valid, not job.late_total)
            await writer(ctx, job)
            if job.late_total:
                await ctx.tick().until(dut.pixels == job.queries * n * n)
                await ctx.tick().repeat(3)
                assert ctx.get(dut.busy) and not ctx.get(dut.done)
                ctx.set(dut.total_valid, 1)
            await ctx.tick().until(dut.done)
            ctx.set(dut.total_valid, 0)
            assert not ctx.get(dut.busy)
            assert job.received == _expected_beats(job, n, channels, k)
            assert ctx.get(dut.freed) == job.queries
            assert ctx.get(dut.pixels) == job.queries * n * n

    async def sink(ctx):
        for job in jobs:
            job.received += await axis_get(ctx, dut.m_axis_pix,
                                           count=job.queries * n * n // k,
                                           rng=rng, stall_prob=stall_prob, user=True)

    async def monitor(ctx):
        job = None
        async for _, _, start, busy, done, valid, ready, freed, pixels in ctx.tick().sample(
                dut.start, dut.busy, dut.done, dut.m_axis_pix.tvalid, dut.m_axis_pix.tready,
                dut.freed, dut.pixels):
            if start and not busy:
                job, sent, sent_before = current[0], 0, False
                continue
            if job is None or not busy and not done:
                continue
            assert pixels == sent
            assert freed == _freed_after(job, sent, n)      # never ahead of what was sent
            if done:
                assert sent == job.queries * n * n
                assert not busy
                if not job.late_total:
                    assert sent_before, "done in the cycle after the last pixel"
            sent_before = bool(valid and ready)
            sent += k * sent_before                          # pixels

    async def watchdog(ctx):
        # A wrong design may never finish a job: fail instead of hanging.
        for _ in range(sum(200 + 20 * job.queries * (n * n + words * lanes) for job in jobs)):
            await ctx.tick()
        raise AssertionError("the jobs did not finish in time")

    beats = []

    async def protocol(ctx):
        await axis_monitor(ctx, dut.m_axis_pix, beats, user=True)

    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    sim.add_testbench(control)
    sim.add_testbench(sink, background=True)
    sim.add_testbench(monitor, background=True)
    sim.add_testbench(protocol, background=True)
    sim.add_testbench(watchdog, background=True)
    sim.run()
    assert beats == [b for job in jobs for b in job.received]


# (n, channels, lanes C, pixels per beat k): every n in {1, 2, 3}, channels 1 and 3, C in
# {3, 4, 8}, with C not a multiple of the channels and patches that spill over several
# words; beats of 2 and 4 pixels, one that fills every bank (4 x 1 on 4 lanes), one that
# wraps past the last bank (2 x 3 on 8), several beats per patch line (n = 4, k = 2).
GEOMETRIES = [(1, 1, 3, 1), (1, 3, 4, 1), (2, 1, 4, 1), (2, 3, 3, 1), (2, 3, 8, 1),
              (3, 1, 8, 1), (3, 3, 4, 1), (3, 3, 3, 1), (2, 3, 8, 2), (4, 1, 4, 4),
              (4, 3, 8, 2)]


@pytest.mark.parametrize("n, channels, lanes, k", GEOMETRIES)
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), ph=st.integers(1, 3), narrow=st.integers(1, 2),
       queries=st.integers(1, 14))
def test_jobs(n, channels, lanes, k, seed, ph, narrow, queries):
    # batch 3 and at most 6 patches per row: a ring of 9 slots, which every frame of more
    # than 9 queries wraps. The first frame's rows are wider than a batch, the second's
    # shorter; then a query-mode job with total known early, one with it known late.
    cfg = _config(n=n, channels=channels, lanes=lanes, batch=3, pw_max=6, ph_max=4, k=k)
    jobs = [
        Job(MODE_FRAME, pw=6, ph=ph + 1, queries=6 * (ph + 1)),
        Job(MODE_FRAME, pw=narrow, ph=4, queries=narrow * 4),
        Job(MODE_QUERY, queries=queries),
        Job(MODE_QUERY, queries=queries, late_total=True),
    ]
    _run(cfg, jobs, seed=seed)


def test_single_patch_frame():
    cfg = _config(n=2, channels=3, lanes=4, batch=2, pw_max=4, ph_max=4)
    _run(cfg, [Job(MODE_FRAME, pw=1, ph=1, queries=1)], seed=3)


@pytest.mark.parametrize("n, k, lanes", [(2, 1, 4), (4, 2, 8), (4, 4, 12)])
def test_full_rate(n, k, lanes):
    """With the frame committed and the sink always ready: the first beat ``latency``
    cycles after ``committed``, then one beat of ``k`` pixels per cycle, ``done`` right
    after the last."""
    pw, ph = 3, 2
    cfg = _config(n=n, channels=3, lanes=lanes, batch=4, pw_max=4, ph_max=2, k=k)
    dut = PatchScatter(config=cfg)
    rng = random.Random(5)
    values = np.array([[rng.randrange(256) for _ in range(cfg.model.out_features)]
                       for _ in range(pw * ph)], dtype=np.uint8)
    job = Job(MODE_FRAME, pw=pw, ph=ph, queries=pw * ph, values=values)

    async def testbench(ctx):
        ctx.set(dut.pw, pw)
        ctx.set(dut.ph, ph)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        for q in range(pw * ph):           # the ring holds the whole frame
            for o in range(cfg.model.out_features):
                ctx.set(dut.wr[o % lanes], {"valid": 1, "slot": q, "word": o // lanes,
                                            "data": int(values[q, o])})
                await ctx.tick()
                ctx.set(dut.wr[o % lanes].valid, 0)
        ctx.set(dut.m_axis_pix.tready, 1)
        ctx.set(dut.committed, pw * ph)
        for _ in range(dut.latency):
            assert not ctx.get(dut.m_axis_pix.tvalid)
            await ctx.tick()
        for _ in range(pw * ph * n * n // k):
            *_, valid, beat = await ctx.tick().sample(dut.m_axis_pix.tvalid,
                                                      dut.m_axis_pix.tdata)
            assert valid
            job.received.append(beat)
        assert ctx.get(dut.done) and not ctx.get(dut.busy)
        await ctx.tick()
        assert not ctx.get(dut.done)
        assert job.received == [b[0] for b in _expected_beats(job, n, 3, k)]

    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    sim.add_testbench(testbench)
    sim.run()


def test_rejects_bad_config():
    with pytest.raises(TypeError, match="config must be an AccelConfig"):
        PatchScatter(config="4x4")
