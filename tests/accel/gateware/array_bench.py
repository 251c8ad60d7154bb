"""Drive a systolic array (:class:`~accel.gateware.mac_array.MacArray` or
:class:`~accel.gateware.int8.array.Int8Array`) through back-to-back tiles, as the datapath
does, and collect what leaves its columns."""

import numpy as np
from amaranth import ClockDomain, Module
from amaranth.sim import Simulator

from accel.flows.simulation import add_clocks
from accel.gateware.int8.pumped import FAST_DOMAIN


def run_tiles(dut, tiles, *, row_skew=1, gap=0):
    """Stream ``tiles`` = [(W [cols, rows], A [q, rows], P [q, cols])] through ``dut``;
    return its bottom outputs per tile as int64 arrays [q, cols].

    Row ``r``'s activations enter ``r * row_skew`` cycles after row 0's, column ``c``'s
    weights, shifts and partial sums ``c`` cycles after column 0's; the next tile's
    weights shift in after this tile's last swap and at least ``dut.load_delay`` cycles
    (0 if it has none) before the next tile's first."""
    rows, cols = dut.rows, dut.cols
    latency, load_delay = dut.latency, getattr(dut, "load_delay", 0)
    sched = {}

    def put(t, key, idx, value):
        sched.setdefault(t, []).append((key, idx, value))

    t0 = rows + cols + 2 + load_delay       # room to preload the first tile's weights
    starts = []
    for i, (W, A, P) in enumerate(tiles):
        starts.append(t0)
        load = (t0 - rows - 1 - load_delay if i == 0
                else starts[i - 1] + (rows - 1) * row_skew + 1)
        for j in range(rows):
            for c in range(cols):
                put(load + j + c, "w", c, int(W[c, rows - 1 - j]))
                put(load + j + c, "w_shift", c, 1)
        for q in range(A.shape[0]):
            for r in range(rows):
                put(t0 + q + r * row_skew, "a", r, int(A[q, r]))
                put(t0 + q + r * row_skew, "swap", r, int(q == 0))
            for c in range(cols):
                put(t0 + q + c, "psum_top", c, int(P[q, c]))
        t0 += max(A.shape[0], (rows - 1) * row_skew + rows + 1 + load_delay) + gap
    end = t0 + latency + cols + 2
    outputs = {}

    async def bench(ctx):
        for t in range(end):
            for key, idx, value in sched.get(t, []):
                ctx.set(getattr(dut, key)[idx], value)
            for i, (W, A, P) in enumerate(tiles):
                for q in range(A.shape[0]):
                    for c in range(cols):
                        if t == starts[i] + q + c + latency:
                            outputs[(i, q, c)] = ctx.get(dut.psum_bottom[c])
            await ctx.tick()
            for key, idx, value in sched.get(t, []):
                ctx.set(getattr(dut, key)[idx], 0)

    top = dut
    pumped = getattr(getattr(dut, "plan", None), "pumped", False)
    if pumped:
        # The double-pumped slices' clock domain, for add_clocks to drive.
        top = Module()
        top.domains += ClockDomain(FAST_DOMAIN, reset_less=True)
        top.submodules.dut = dut
    sim = Simulator(top)
    add_clocks(sim, dsp_clock=2 if pumped else 1)
    sim.add_testbench(bench)
    sim.run()
    result = []
    for i, (W, A, P) in enumerate(tiles):
        out = np.array([[outputs[(i, q, c)] for c in range(cols)] for q in range(A.shape[0])],
                       dtype=np.int64)
        result.append(np.where(out >= 2 ** 31, out - 2 ** 32, out))
    return result
