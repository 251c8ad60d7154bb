import numpy as np
from amaranth.back import rtlil
from hypothesis import given, settings, strategies as st

from accel.flows.fp32_check import SPECIALS, check_operands, check_unit
from accel.formats.float32.add import FpAdd
from tests.fp32_cases import carry_pairs, float_bits


def check(a, b):
    result = check_operands("add", {"a": a, "b": b})
    assert result.mismatches == 0, result.examples


def near_negation():
    """``(a, b)`` with ``b`` within a few ulps of ``-a``: cancellation of many leading bits."""
    return st.tuples(float_bits(), st.integers(-3, 3)).map(
        lambda p: (p[0], ((p[0] ^ 0x80000000) + p[1]) & 0xFFFFFFFF))


def test_converts_with_latency():
    dut = FpAdd()
    rtlil.convert(dut)
    assert dut.latency == FpAdd.LATENCY == 3


def test_specials_and_hard_cases():
    """Every pair of special values, sums that round into the next binade (up to overflow)
    and exact cancellations, streamed back to back."""
    a, b = (x.ravel().tolist() for x in np.meshgrid(SPECIALS, SPECIALS))
    hard = [(x, y) for op, x, y in carry_pairs() if op == "add"]
    hard += [(x, x ^ 0x80000000) for x in (0x3F800000, 0x00800000, 0x7F7FFFFF, 0x12345678)]
    hard += [(y, x) for x, y in hard]
    check(a + [x for x, _ in hard], b + [y for _, y in hard])


def test_every_alignment_distance():
    """Exponent differences 0..33, both signs: up to shifts that leave only the sticky bit."""
    rng = np.random.default_rng(12)
    n = 40 * 34
    a = (127 << 23) | rng.integers(0, 1 << 23, n)
    shift = np.repeat(np.arange(34), 40)
    b = ((127 - shift) << 23) | rng.integers(0, 1 << 23, n) | (rng.integers(0, 2, n) << 31)
    check(a, b)


def test_random_stream():
    result = check_unit("add", count=3000, seed=13)
    assert result.mismatches == 0, result.examples


@settings(max_examples=12, deadline=None)
@given(st.lists(st.one_of(st.tuples(float_bits(), float_bits()), near_negation()),
                min_size=1, max_size=80))
def test_any_operands(pairs):
    a, b = zip(*pairs)
    check(a, b)
