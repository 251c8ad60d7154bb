import numpy as np
from amaranth.back import rtlil
from hypothesis import given, settings, strategies as st

from accel.flows.fp32_check import SPECIALS, check_operands, check_unit
from accel.formats.float32.mul import FpMul
from tests.fp32_cases import carry_pairs, float_bits, ftz_boundary_pairs


def check(a, b):
    result = check_operands("mul", {"a": a, "b": b})
    assert result.mismatches == 0, result.examples


def test_converts_with_latency():
    dut = FpMul()
    rtlil.convert(dut)
    assert dut.latency == FpMul.LATENCY == 3


def test_specials_and_hard_cases():
    """Every pair of special values, products at the flush-to-zero boundary and products
    that round into the next binade, streamed back to back."""
    a, b = (x.ravel().tolist() for x in np.meshgrid(SPECIALS, SPECIALS))
    hard = ftz_boundary_pairs() + [(x, y) for op, x, y in carry_pairs() if op == "mul"]
    hard += [(y, x) for x, y in hard]
    check(a + [x for x, _ in hard], b + [y for _, y in hard])


def test_random_stream():
    result = check_unit("mul", count=3000, seed=11)
    assert result.mismatches == 0, result.examples


@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(float_bits(), float_bits()), min_size=1, max_size=80))
def test_any_operands(pairs):
    a, b = zip(*pairs)
    check(a, b)
