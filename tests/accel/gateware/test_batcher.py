# amaranth: UnusedElaboratable=no

"""CoordinateBatcher: batches in alternating halves, the buffer writes, the hand-over to the
sequencer, back-pressure while both halves are busy, and ``start``.

A producer sends coordinates (random ``valid`` gaps); a sequencer model takes each batch,
reads it from a model of the coordinate buffer, frees it and moves to the other half after
random delays; a background monitor keeps the buffer model and checks every write against
the documented addressing and against the halves the sequencer still needs.
"""

import random

import pytest
from amaranth.sim import Simulator

from accel.config import CLOCK_HZ, AccelConfig
from accel.gateware.batcher import CoordinateBatcher
from model.config import PatchINRConfig
from tests.simutil import stream_put


def _s16(v):
    return ((v + 0x8000) & 0xFFFF) - 0x8000


def _config(batch):
    return AccelConfig(model=PatchINRConfig(patch=1, channels=1, hidden=4, layers=1),
                       rows=2, cols=2, batch=batch, max_width=8, max_height=8)


class Harness:
    """The DUT with a coordinate-buffer model and a sequencer model."""

    def __init__(self, cfg, seed):
        self.cfg = cfg
        self.B = cfg.batch
        self.dut = CoordinateBatcher(config=cfg)
        self.rng = random.Random(seed)
        self.buffer = [None] * (2 * self.B)
        self.job = None             # coordinates of the current job
        self.written = 0            # writes of the current job
        self.sealed = [False, False]
        self.queue = []             # jobs for the producer: (coords, send keywords)
        self.sent = 0               # coordinates the producer has handed over
        self.sent_jobs = 0

    # Producer -----------------------------------------------------------------------------

    async def send(self, ctx, coords, *, gap_prob=0.3, count=None):
        dut = self.dut
        for i, (x, y) in enumerate(coords[:count]):
            if self.rng.random() < gap_prob:
                await ctx.tick().repeat(self.rng.randint(1, 4))
            await stream_put(ctx, dut.coords,
                             {"x": x, "y": y, "last": int(i == len(coords) - 1)})
            self.sent += 1

    async def producer(self, ctx):
        """Background: sends the jobs the controlling testbench queues."""
        while True:
            if not self.queue:
                await ctx.tick()
                continue
            coords, kw = self.queue.pop(0)
            await self.send(ctx, coords, **kw)
            self.sent_jobs += 1

    async def pulse(self, ctx, sig):
        ctx.set(sig, 1)
        await ctx.tick()
        ctx.set(sig, 0)

    async def start(self, ctx, coords):
        self.job = coords
        await self.pulse(ctx, self.dut.start)

    # Sequencer model ----------------------------------------------------------------------

    async def take_batches(self, ctx, n_batches, *, max_delay=None):
        """Take ``n_batches`` in alternating halves from 0; return [(len, last, coords)]."""
        dut, B = self.dut, self.B
        max_delay = 2 * B if max_delay is None else max_delay
        got = []
        half = 0
        ctx.set(dut.half, 0)
        for i in range(n_batches):
            await ctx.tick().repeat(self.rng.randint(0, max_delay) + 1)
            length, last = await ctx.tick().sample(dut.batch_len, dut.batch_last) \
                .until(dut.batch_valid)
            length, last = int(length), int(last)
            # batch_valid means the batch is complete in the buffer.
            end = min((i + 1) * B, len(self.job))
            assert self.written >= end, f"batch {i} valid before its last write"
            assert self.sealed[half]
            ctx.set(dut.batch_take, 1)
            await ctx.tick()
            ctx.set(dut.batch_take, 0)
            assert not ctx.get(dut.batch_valid), "batch still offered after batch_take"
            contents = self.buffer[half * B:half * B + length]
            await ctx.tick().repeat(self.rng.randint(0, max_delay) + 1)
            # Nothing may have changed the half while the sequencer used it.
            assert self.buffer[half * B:half * B + length] == contents
            ctx.set(dut.batch_free, 1)
            await ctx.tick()
            ctx.set(dut.batch_free, 0)
            self.sealed[half] = False
            got.append((length, last, contents))
            # The sequencer moves to the other half when the batch's last layer is done.
            for _ in range(self.rng.randint(0, max_delay)):
                await ctx.tick()
            half ^= 1
            ctx.set(dut.half, half)
        return got

    # Buffer model and monitor -------------------------------------------------------------

    async def monitor(self, ctx):
        dut, B = self.dut, self.B
        wr = dut.coord_wr
        cycle = 0
        async for _, _, start, en, addr, x, y, count in ctx.tick().sample(
                dut.start, wr.en, wr.addr, wr.x, wr.y, dut.count):
            if en:
                k = self.written
                assert self.job is not None and k < len(self.job), "write beyond the job"
                want_addr = (k // B) % 2 * B + k % B
                assert int(addr) == want_addr, f"coordinate {k} written at {int(addr)}"
                h = want_addr // B
                assert not self.sealed[h], f"coordinate {k} overwrites half {h} in use"
                # The buffer holds the int16 coordinates' bit patterns.
                xy = (_s16(int(x)), _s16(int(y)))
                assert xy == self.job[k], f"coordinate {k}: {xy} != {self.job[k]}"
                self.buffer[int(addr)] = xy
                self.written += 1
                if k % B == B - 1 or k == len(self.job) - 1:
                    self.sealed[h] = True
            if start:
                self.written = 0
                self.sealed = [False, False]
            else:
                # count: coordinates accepted in this job (updated the cycle after each)
                assert int(count) == self.written - en, f"count {int(count)}"
            cycle += 1

    def run(self, testbench, *, max_cycles=20_000):
        # A testbench waiting for something the DUT never does fails instead of hanging.
        now = [0]

        async def clock(ctx):
            async for _ in ctx.tick():
                now[0] += 1

        sim = Simulator(self.dut)
        sim.add_clock(1 / CLOCK_HZ)
        sim.add_testbench(testbench)
        sim.add_testbench(self.producer, background=True)
        sim.add_testbench(self.monitor, background=True)
        sim.add_testbench(clock, background=True)
        while sim.advance():
            assert now[0] < max_cycles, f"testbench still running after {max_cycles} cycles"


def _coords(rng, n):
    return [(rng.randrange(-32768, 32768), rng.randrange(-32768, 32768)) for _ in range(n)]


def _expected_batches(coords, B):
    out = []
    for i in range(0, len(coords), B):
        chunk = coords[i:i + B]
        out.append((len(chunk), int(i + B >= len(coords)), chunk))
    return out


@pytest.mark.parametrize("batch, lengths, gap_prob, max_delay", [
    (4, [18], 0.3, None),           # partial last batch (2)
    (4, [16], 0.0, 0),              # last on a full batch, no gaps, an eager sequencer
    (5, [3], 0.5, None),            # one partial batch
    (1, [6], 0.2, None),            # batch of one
    (3, [1, 7, 9], 0.3, 12),        # jobs back to back, a slow sequencer
    (6, [40], 0.1, 2),
])
def test_batches(batch, lengths, gap_prob, max_delay):
    cfg = _config(batch)
    h = Harness(cfg, seed=batch * 100 + sum(lengths))
    jobs = [_coords(h.rng, n) for n in lengths]
    results = []

    async def bench(ctx):
        for coords in jobs:
            await h.start(ctx, coords)
            assert not ctx.get(h.dut.batch_valid)
            want = _expected_batches(coords, batch)
            # Producer and sequencer run concurrently.
            h.queue.append((coords, {"gap_prob": gap_prob}))
            got = await h.take_batches(ctx, len(want), max_delay=max_delay)
            assert h.sent_jobs == len(results) + 1
            results.append((got, want))
            # After the job's last coordinate nothing more is accepted.
            ctx.set(h.dut.coords.valid, 1)
            for _ in range(5):
                _, _, ready = await ctx.tick().sample(h.dut.coords.ready)
                assert not ready
            ctx.set(h.dut.coords.valid, 0)
            assert ctx.get(h.dut.count) == len(coords)

    h.run(bench)
    assert len(results) == len(jobs)
    for got, want in results:
        assert got == want


def test_start_resets_everything():
    """``start`` in the middle of a job (a batch taken and not freed, the other half
    partly filled) empties both halves: the next job fills from half 0, index 0."""
    B = 4
    cfg = _config(B)
    h = Harness(cfg, seed=7)
    job_a = _coords(h.rng, 3 * B)
    job_b = _coords(h.rng, 2 * B + 1)
    out = {}

    async def bench(ctx):
        dut = h.dut
        await h.start(ctx, job_a)
        h.queue.append((job_a, {"count": B + 2, "gap_prob": 0.0}))
        while h.sent_jobs < 1:
            await ctx.tick()
        # Take batch 0 (half 0) and keep it.
        ctx.set(dut.half, 0)
        await ctx.tick().until(dut.batch_valid)
        await h.pulse(ctx, dut.batch_take)
        await ctx.tick().repeat(2)
        assert ctx.get(dut.count) == B + 2
        # Restart.
        await h.start(ctx, job_b)
        for half in (0, 1):
            ctx.set(dut.half, half)
            assert not ctx.get(dut.batch_valid)
        assert ctx.get(dut.count) == 0
        ctx.set(dut.half, 0)
        h.queue.append((job_b, {}))
        out["got"] = await h.take_batches(ctx, 3)

    h.run(bench)
    assert out["got"] == _expected_batches(job_b, B)


def test_start_after_job_end_accepts_again():
    """A finished job holds ``ready`` low; ``start`` clears that."""
    B = 2
    h = Harness(_config(B), seed=8)
    job_a, job_b = _coords(h.rng, 3), _coords(h.rng, 2)

    async def bench(ctx):
        dut = h.dut
        for job in (job_a, job_b):
            await h.start(ctx, job)
            assert ctx.get(dut.coords.ready)
            h.queue.append((job, {"gap_prob": 0.0}))
            want = _expected_batches(job, B)       # 3 coordinates: 2 batches; 2: one
            got = await h.take_batches(ctx, len(want), max_delay=1)
            assert got == want
            assert not ctx.get(dut.coords.ready)

    h.run(bench)


def test_back_pressure_while_both_halves_busy():
    """With both halves holding batches (one taken, one ready) the producer waits; the
    first free lets exactly the next batch in."""
    B = 3
    h = Harness(_config(B), seed=9)
    job = _coords(h.rng, 4 * B)

    async def bench(ctx):
        dut = h.dut
        await h.start(ctx, job)
        h.queue.append((job, {"gap_prob": 0.0}))
        ctx.set(dut.half, 0)
        await ctx.tick().until(dut.batch_valid)
        await h.pulse(ctx, dut.batch_take)         # half 0 in use, half 1 fills
        await ctx.tick().repeat(3 * B)
        assert h.sent == 2 * B                     # both halves hold a batch
        for _ in range(5):
            _, _, ready = await ctx.tick().sample(dut.coords.ready)
            assert not ready
        await h.pulse(ctx, dut.batch_free)         # half 0 free: the third batch goes there
        h.sealed[0] = False
        await ctx.tick().repeat(3 * B)
        assert h.sent == 3 * B
        ctx.set(dut.half, 1)
        await h.pulse(ctx, dut.batch_take)
        await h.pulse(ctx, dut.batch_free)
        h.sealed[1] = False
        await ctx.tick().repeat(3 * B)
        assert h.sent == 4 * B

    h.run(bench)
