"""LutPE against Python's product: every weight, the activations' signed corners and a
random sample, one operand per cycle through the pipeline."""

import numpy as np
from amaranth.sim import Simulator

from accel.config import CLOCK_HZ
from accel.gateware.int8.lut import LutPE

ACTS = [-128, -127, -2, -1, 0, 1, 2, 126, 127]


def test_every_weight_against_corner_and_random_activations():
    rng = np.random.default_rng(0)
    acts = ACTS + [int(a) for a in rng.integers(-128, 128, size=7)]
    dut = LutPE()
    lat = LutPE.LATENCY
    got, want = [], []

    async def bench(ctx):
        pending = []            # (cycle its sum appears, expected, cycle psum_in is due, psum)
        t = 0

        async def tick():
            nonlocal t, pending
            for _, _, due_in, psum in pending:
                if due_in == t:
                    ctx.set(dut.psum_in, psum & 0xFFFFFFFF)
            await ctx.tick()
            t += 1
            for _, expect, _, _ in [x for x in pending if x[0] == t]:
                v = ctx.get(dut.psum_out)
                got.append(v - (1 << 32) if v >= 1 << 31 else v)
                want.append(expect)
            pending = [x for x in pending if x[0] > t]

        for w in range(-128, 128):
            ctx.set(dut.w_shift, 1)
            ctx.set(dut.w_in, w & 0xFF)
            await tick()
            ctx.set(dut.w_shift, 0)
            for i, a in enumerate(acts):
                ctx.set(dut.a_in, a & 0xFF)
                ctx.set(dut.swap_in, i == 0)
                p = int(rng.integers(-2 ** 30, 2 ** 30))
                pending.append((t + lat, p + a * w, t + lat - 1, p))
                await tick()
            ctx.set(dut.swap_in, 0)
            for _ in range(lat):
                await tick()

    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    sim.add_testbench(bench)
    sim.run()
    assert len(got) == 256 * len(acts)
    np.testing.assert_array_equal(got, want)
