import numpy as np
from amaranth.back import rtlil
from hypothesis import given, settings, strategies as st

from accel.flows.fp32_check import SPECIALS, check_operands, check_unit
from accel.formats.float32.to_pixel import FpToPixel
from model import fp32ref as ref
from tests.fp32_cases import float_bits


def check(x):
    result = check_operands("pixel", {"x": x})
    assert result.mismatches == 0, result.examples


def test_converts_with_latency():
    dut = FpToPixel()
    rtlil.convert(dut)
    assert dut.latency == FpToPixel.LATENCY == 1


def test_halves_and_limits():
    """Every k + 0.5 (ties to even) and its neighbours, the clamps and the special values."""
    halves = ref.to_bits((np.arange(-3, 260) + 0.5).astype(np.float32)).astype(np.int64)
    x = np.concatenate([SPECIALS, halves - 1, halves, halves + 1,
                        ref.to_bits(np.float32([255.5, 255.49998, 256.0, 0.49999997]))])
    check(x)


def test_random_stream():
    result = check_unit("pixel", count=2000, seed=15)
    assert result.mismatches == 0, result.examples


pixels = st.floats(-4, 260, width=32).map(lambda v: int(np.float32(v).view(np.uint32)))


@settings(max_examples=10, deadline=None)
@given(st.lists(st.one_of(float_bits(), pixels), min_size=1, max_size=80))
def test_any_value(x):
    check(x)
