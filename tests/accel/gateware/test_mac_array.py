"""MacArray against numpy: skewed feeds, double-buffered weights, back-to-back tiles."""

import numpy as np
import pytest
from amaranth.sim import Simulator
from hypothesis import given, settings, strategies as st

from accel.formats.int8 import Int8Arithmetic
from accel.gateware.mac_array import MacArray


def run_tiles(rows, cols, tiles, *, gap=0):
    """Stream ``tiles`` = [(W [cols, rows] int8, A [q, rows] int16, P [q, cols] int32)]
    through the array back to back; return the bottom outputs per tile as [q, cols]."""
    arith = Int8Arithmetic()
    lat = arith.latency
    dut = MacArray(rows=rows, cols=cols, arith=arith)
    # Build a cycle-indexed schedule of every input, then play it.
    sched = {}

    def put(t, key, idx, value):
        sched.setdefault(t, []).append((key, idx, value))

    t0 = rows + cols + 2          # leave room to preload the first tile's weights
    starts = []
    for i, (W, A, P) in enumerate(tiles):
        starts.append(t0)
        # Shadow load: shift R words, the first ending in the bottom row, column c skewed by c;
        # it must follow the last swap of the previous tile in that column.
        load = t0 - rows - 1 if i == 0 else starts[i - 1] + (rows - 1) * lat + 1
        for j in range(rows):
            for c in range(cols):
                put(load + j + c, "w", c, int(W[c, rows - 1 - j]))
                put(load + j + c, "w_shift", c, 1)
        for q in range(A.shape[0]):
            for r in range(rows):
                put(t0 + q + r * lat, "a", r, int(A[q, r]))
                put(t0 + q + r * lat, "swap", r, int(q == 0))
            for c in range(cols):
                put(t0 + q + c, "psum_top", c, int(P[q, c]))
        t0 += max(A.shape[0], (rows - 1) * lat + rows + 1) + gap
    end = t0 + rows * lat + cols + 2
    outputs = {}

    async def bench(ctx):
        for t in range(end):
            for key, idx, value in sched.get(t, []):
                ctx.set(getattr(dut, key)[idx], value)
            for i, (W, A, P) in enumerate(tiles):
                for q in range(A.shape[0]):
                    for c in range(cols):
                        if t == starts[i] + q + c + rows * lat:
                            outputs[(i, q, c)] = ctx.get(dut.psum_bottom[c])
            await ctx.tick()
            for key, idx, value in sched.get(t, []):
                ctx.set(getattr(dut, key)[idx], 0)

    sim = Simulator(dut)
    sim.add_clock(1 / 200e6)
    sim.add_testbench(bench)
    sim.run()
    result = []
    for i, (W, A, P) in enumerate(tiles):
        out = np.array([[outputs[(i, q, c)] for c in range(cols)] for q in range(A.shape[0])],
                       dtype=np.int64)
        result.append(np.where(out >= 2 ** 31, out - 2 ** 32, out))
    return result


def random_tile(rng, rows, cols, queries):
    W = rng.integers(-127, 128, size=(cols, rows))
    A = rng.integers(-32767, 32768, size=(queries, rows))
    P = rng.integers(-2 ** 24, 2 ** 24, size=(queries, cols))
    return W, A, P


@settings(max_examples=12, deadline=None)
@given(rows=st.integers(1, 4), cols=st.integers(1, 4), queries=st.integers(1, 9),
       ntiles=st.integers(1, 3), seed=st.integers(0, 2 ** 32 - 1))
def test_tiles_match_numpy(rows, cols, queries, ntiles, seed):
    rng = np.random.default_rng(seed)
    tiles = [random_tile(rng, rows, cols, queries) for _ in range(ntiles)]
    for (W, A, P), got in zip(tiles, run_tiles(rows, cols, tiles)):
        np.testing.assert_array_equal(got, P + A @ W.T)


def test_extreme_operands_do_not_wrap():
    rows, cols = 4, 2
    W = np.full((cols, rows), -127)
    A = np.full((3, rows), -32768)
    P = np.full((3, cols), 2 ** 30)
    got, = run_tiles(rows, cols, [(W, A, P)])
    np.testing.assert_array_equal(got, P + A @ W.T)


def test_rejects_bad_shape():
    with pytest.raises(ValueError, match="rows must be a positive integer"):
        MacArray(rows=0, cols=2, arith=Int8Arithmetic())
