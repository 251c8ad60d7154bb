"""Int8Array against numpy: wide rows, packed pairs (cascades up to the longest allowed),
single DSP and LUT columns, back-to-back tiles with signed corner operands."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from accel.gateware.int8.array import Int8Array
from accel.plan import MAX_CASCADE, ArrayPlan, segments

from ..array_bench import run_tiles

CORNERS = np.array([-128, 127, -127, -1, 0, 1])


def tile(rng, plan, queries, *, corners=0.5):
    """Random operands of the widths the array takes: int16 coordinates and 12-bit weights
    in the wide rows, int8 below; about ``corners`` of the int8 ones drawn from the signed
    corners."""
    R, C, Wr = plan.rows, plan.cols, plan.wide_rows
    W = rng.integers(-128, 128, size=(C, R))
    A = rng.integers(-128, 128, size=(queries, R))
    W = np.where(rng.random(W.shape) < corners, rng.choice(CORNERS, W.shape), W)
    A = np.where(rng.random(A.shape) < corners, rng.choice(CORNERS, A.shape), A)
    W[:, :Wr] = rng.integers(-2048, 2048, size=(C, Wr))
    A[:, :Wr] = rng.integers(-32768, 32768, size=(queries, Wr))
    P = rng.integers(-2 ** 28, 2 ** 28, size=(queries, C))
    return W, A, P


def check(rows, cols, wide_rows, lut_cols, tiles, *, pumped=False):
    dut = Int8Array(rows=rows, cols=cols, wide_rows=wide_rows, lut_cols=lut_cols,
                    pumped=pumped)
    for (W, A, P), got in zip(tiles, run_tiles(dut, tiles)):
        np.testing.assert_array_equal(got, P + A @ W.T)


# Shapes: one pair over the longest cascade; two cascades of the longest length; a pair
# beside a single DSP column and a LUT column; wide rows only (three coordinates).
@pytest.mark.parametrize("rows, cols, wide_rows, lut_cols", [
    (2 + MAX_CASCADE, 2, 2, 0),
    (2 + 2 * MAX_CASCADE, 3, 2, 1),
    (5, 4, 2, 1),
    (3, 3, 3, 0),
])
def test_shapes_match_numpy(rows, cols, wide_rows, lut_cols):
    rng = np.random.default_rng(rows * 100 + cols * 10 + lut_cols)
    plan = ArrayPlan(rows=rows, cols=cols, wide_rows=wide_rows, lut_cols=lut_cols)
    check(rows, cols, wide_rows, lut_cols, [tile(rng, plan, q) for q in (5, 1, 3)])


def test_longest_cascade_at_its_extremes():
    # Every product of one cascade at (-128)(-128) = 2**14, the low field's largest sum
    # (7 * 2**14 < 2**17), and at (-128)(127), its most negative; both columns of the pair.
    rows = 2 + MAX_CASCADE
    plan = ArrayPlan(rows=rows, cols=2, wide_rows=2, lut_cols=0)
    assert plan.pairs == 1 and segments(plan.packed_rows) == [MAX_CASCADE]
    tiles = []
    for wv, av in ((-128, -128), (127, -128), (-128, 127)):
        W = np.full((2, rows), wv)
        A = np.full((2, rows), av)
        W[:, :2], A[:, :2] = -2048, -32768
        tiles.append((W, A, np.array([[2 ** 30, -2 ** 30], [-2 ** 30, 2 ** 30]])))
    check(rows, 2, 2, 0, tiles)


@settings(max_examples=6, deadline=None)
@given(rows=st.integers(2, 12), cols=st.integers(2, 5), lut=st.integers(0, 2),
       queries=st.integers(1, 6), seed=st.integers(0, 2 ** 32 - 1))
def test_random_shapes_match_numpy(rows, cols, lut, queries, seed):
    rng = np.random.default_rng(seed)
    lut = min(lut, cols)
    plan = ArrayPlan(rows=rows, cols=cols, wide_rows=2, lut_cols=lut)
    check(rows, cols, 2, lut, [tile(rng, plan, queries) for _ in range(2)])


def test_segments_are_as_few_and_even_as_allowed():
    for n in range(0, 40):
        seg = segments(n)
        assert sum(seg) == n and all(1 <= s <= MAX_CASCADE for s in seg)
        assert len(seg) == -(-n // MAX_CASCADE) and (not seg or max(seg) - min(seg) <= 1)


def test_plan_counts():
    plan = ArrayPlan(rows=128, cols=128, wide_rows=2, lut_cols=33)
    assert [k for k, _ in plan.groups].count("pair") == 47
    assert plan.single_cols == 1 and plan.lut_pes == 126 * 33
    assert plan.dsps == 2 * 128 + 126 * 48


@pytest.mark.parametrize("kwargs, message", [
    (dict(rows=0, cols=2, wide_rows=1), "array rows must be a positive integer"),
    (dict(rows=2, cols=2, wide_rows=3), "wide rows must be at most the rows"),
    (dict(rows=2, cols=2, wide_rows=2, lut_cols=3), "LUT columns must be an integer from 0"),
])
def test_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Int8Array(**kwargs)


# Double-pumped pairs (two rows' packed pairs on one DSP48E2 at twice the clock), in a
# two-clock simulation: the longest cascade (an odd number of rows, so its last slice has
# one PE), two cascades, beside a single DSP column and a LUT column padded to the pumped
# latency, signed corners and extremes.
@pytest.mark.parametrize("rows, cols, wide_rows, lut_cols", [
    (2 + MAX_CASCADE, 2, 2, 0),
    (2 + 2 * MAX_CASCADE, 4, 2, 1),
    (6, 5, 2, 1),
])
def test_pumped_shapes_match_numpy(rows, cols, wide_rows, lut_cols):
    rng = np.random.default_rng(rows * 100 + cols * 10 + lut_cols + 7)
    plan = ArrayPlan(rows=rows, cols=cols, wide_rows=wide_rows, lut_cols=lut_cols,
                     pumped=True)
    assert plan.latency == rows + 5
    check(rows, cols, wide_rows, lut_cols, [tile(rng, plan, q) for q in (5, 1, 3)],
          pumped=True)


def test_pumped_longest_cascade_at_its_extremes():
    rows = 2 + MAX_CASCADE
    tiles = []
    for wv, av in ((-128, -128), (127, -128), (-128, 127)):
        W = np.full((2, rows), wv)
        A = np.full((3, rows), av)
        W[:, :2], A[:, :2] = -2048, -32768
        tiles.append((W, A, np.array([[2 ** 30, -2 ** 30], [-2 ** 30, 2 ** 30], [0, -1]])))
    check(rows, 2, 2, 0, tiles, pumped=True)


def test_pumped_plan_counts_a_slice_per_two_rows():
    plan = ArrayPlan(rows=2 + 7, cols=6, wide_rows=2, lut_cols=1, pumped=True)
    # 2 wide rows of 6 DSPs; 7 packed rows on 4 slices in each of 2 pairs; one single
    # column of 7 DSPs; one LUT column.
    assert (plan.pairs, plan.single_cols, plan.pair_dsp_rows) == (2, 1, 4)
    assert plan.dsps == 2 * 6 + 4 * 2 + 7 * 1
    with pytest.raises(ValueError, match="pumped needs packed"):
        ArrayPlan(rows=4, cols=2, wide_rows=2, lut_cols=0, packed=False, pumped=True)
