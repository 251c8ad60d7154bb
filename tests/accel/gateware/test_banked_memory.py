"""The banked memory reads what was written, exactly ``latency`` cycles after the address,
whatever the depth (banks, a short last bank, one to three levels of read tree)."""

import random

import pytest
from amaranth.sim import Simulator

from accel.gateware.banked_memory import BankedMemory, read_latency


@pytest.mark.parametrize("depth, bank, latency", [
    (10, None, 1),      # a plain memory
    (10, 16, 1),        # fits one bank: plain
    (12, 4, 3),         # 3 banks: one level
    (37, 4, 4),         # 10 banks, the last short: two levels
    (70, 4, 5),         # 18 banks: three levels
])
def test_read_latency(depth, bank, latency):
    assert read_latency(depth, bank) == latency


@pytest.mark.parametrize("depth, bank, extra", [(37, 4, 0), (70, 4, 2), (12, None, 1)])
def test_reads_follow_writes_after_the_latency(depth, bank, extra):
    rng = random.Random(depth)
    init = [rng.randrange(1 << 12) for _ in range(depth)]
    lat = read_latency(depth, bank) + extra
    dut = BankedMemory(width=12, depth=depth, bank_depth=bank, init=init, latency=lat)
    mem = list(init)
    seen = []

    async def bench(ctx):
        pending = []                                 # (cycle the data is due, word)
        for cycle in range(400):
            write = rng.random() < 0.4
            wa, wd, ra = rng.randrange(depth), rng.randrange(1 << 12), rng.randrange(depth)
            ctx.set(dut.w_en, write)
            ctx.set(dut.w_addr, wa)
            ctx.set(dut.w_data, wd)
            ctx.set(dut.r_addr, ra)
            pending.append((cycle + lat, mem[ra]))    # not transparent: the old word
            await ctx.tick()
            if write:
                mem[wa] = wd
            for due, word in [p for p in pending if p[0] == cycle + 1]:
                seen.append((ctx.get(dut.r_data), word))
            pending = [p for p in pending if p[0] > cycle + 1]

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert len(seen) > 390
    assert [a for a, _ in seen] == [b for _, b in seen]


def test_a_latency_below_the_least_is_refused():
    with pytest.raises(ValueError, match="below the least"):
        BankedMemory(width=8, depth=37, bank_depth=4, latency=3)
    with pytest.raises(ValueError, match="power of two"):
        BankedMemory(width=8, depth=37, bank_depth=6)
