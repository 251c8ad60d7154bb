"""The datapath on its own: the sequencer's issue stream in, output-bank writes out.

A batch of queries is written into the coordinate buffer and run by a
:class:`~accel.gateware.sequencer.Sequencer`; every write the datapath makes toward the
output unit is collected and compared with the reference of its datapath, and the commit
pulse with the schedule that :class:`accel.config.Timing` states.
"""

import numpy as np
import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from accel.config import CLOCK_HZ, AccelConfig
from accel.gateware.datapath import Datapath
from accel.gateware.sequencer import Sequencer
from accel.host.weights import memory_images
from model.config import COORD_SCALE
from model.fp32ref import fold_weights, fp32_forward
from model.quant import int_forward
from tests.accel.models import random_model


class _Pair(wiring.Component):
    """Sequencer and datapath joined as the core joins them; the batch handshake and the
    coordinate writes are the testbench's."""

    def __init__(self, config, images):
        self.seq = Sequencer(config=config)
        self.dp = Datapath(config=config, images=images)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.seq, m.submodules.dp = self.seq, self.dp
        m.d.comb += [self.dp.issue.eq(self.seq.issue), self.dp.w_addr.eq(self.seq.w_addr),
                     self.dp.w_load.eq(self.seq.w_load)]
        return m


def _run(cfg, mf, coords, precision):
    dut = _Pair(cfg, memory_images(cfg, mf))
    seq, dp = dut.seq, dut.dp
    q_count = len(coords)
    got = {}
    commits = []

    async def bench(ctx):
        ctx.set(dp.mode, precision == "fp32")
        ctx.set(seq.freed, 1 << 20)                 # the output unit never holds a batch back
        for q, (x, y) in enumerate(coords):         # half 0, query q
            ctx.set(dp.coord_wr, {"en": 1, "addr": q, "x": int(x) & 0xFFFF, "y": int(y) & 0xFFFF})
            await ctx.tick()
        ctx.set(dp.coord_wr.en, 0)
        ctx.set(seq.start, 1)
        await ctx.tick()
        ctx.set(seq.start, 0)
        ctx.set(seq.batch_valid, 1)
        ctx.set(seq.batch_len, q_count)
        ctx.set(seq.batch_last, 1)
        for cycle in range(20_000):
            taken = ctx.get(seq.batch_take)
            for c, lane in enumerate(ctx.get(dp.out_wr)):
                if lane.valid:
                    key = (lane.slot, lane.word * cfg.cols + c)
                    assert key not in got, f"output {key} written twice"
                    got[key] = lane.data
            if ctx.get(dp.commit):
                commits.append((cycle, ctx.get(dp.commit_count)))
            if ctx.get(seq.done):
                break
            await ctx.tick()
            if taken:                               # one batch: withdrawn once taken
                ctx.set(seq.batch_valid, 0)
        else:
            raise AssertionError("the sequencer never finished the batch")
        for _ in range(cfg.timing.depth + 2):      # the writes still in the pipeline
            await ctx.tick()
            if ctx.get(dp.commit):
                commits.append((None, ctx.get(dp.commit_count)))
            for c, lane in enumerate(ctx.get(dp.out_wr)):
                if lane.valid:
                    got[(lane.slot, lane.word * cfg.cols + c)] = lane.data

    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    sim.add_testbench(bench)
    sim.run()
    out = np.full((q_count, cfg.model.out_features), -1, dtype=np.int64)
    for (slot, feature), value in got.items():
        if feature < cfg.model.out_features:
            out[slot, feature] = value
    return out, commits


@pytest.mark.parametrize("precision,rows,cols,batch", [
    ("int8", 2, 2, 5),          # batch not a multiple of the array
    ("int8", 4, 2, 8),          # rows > cols: two banks per column
    ("fp32", 2, 2, 3),
])
def test_batch_outputs_match_reference(precision, rows, cols, batch):
    mf = random_model(patch=2, channels=1, hidden=6, layers=2, seed=rows * 10 + batch)
    cfg = AccelConfig(model=mf.config, rows=rows, cols=cols, batch=batch, precision=precision,
                      max_width=8, max_height=8)
    rng = np.random.default_rng(batch)
    coords = rng.integers(-COORD_SCALE, COORD_SCALE + 1, size=(batch, 2))
    out, commits = _run(cfg, mf, coords, precision)
    if precision == "int8":
        want = int_forward(mf.quant, coords)
    else:
        want = fp32_forward(fold_weights(mf.fp32, mf.config.omega0), coords, k_pad=rows)
    assert (out >= 0).all(), "some outputs were never written"
    np.testing.assert_array_equal(out, want)
    assert [count for _, count in commits] == [batch]
