"""MacArray against numpy: skewed feeds, double-buffered weights, back-to-back tiles."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from accel.formats.int8 import Int8Arithmetic
from accel.gateware.mac_array import MacArray

from . import array_bench


def run_tiles(rows, cols, tiles, *, gap=0):
    arith = Int8Arithmetic()
    dut = MacArray(rows=rows, cols=cols, arith=arith)
    return array_bench.run_tiles(dut, tiles, row_skew=arith.latency, gap=gap)


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
