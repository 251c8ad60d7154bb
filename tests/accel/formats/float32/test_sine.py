import numpy as np
from amaranth.back import rtlil
from hypothesis import given, settings, strategies as st

from accel.flows.fp32_check import SPECIALS, check_operands, check_unit
from accel.formats.float32.sine import FpSine
from model import fp32ref as ref
from tests.fp32_cases import float_bits


def check(x):
    result = check_operands("sine", {"x": x})
    assert result.mismatches == 0, result.examples


def test_converts_with_latency():
    dut = FpSine()
    rtlil.convert(dut)
    assert dut.latency == FpSine.LATENCY == 5


def test_specials_and_boundaries():
    """Special values, the small-argument bypass threshold, and arguments next to every
    quadrant boundary of the first turns (where the table runs mirrored)."""
    threshold = [(ref.SINE_SMALL_EXP << 23) + d for d in (-2, -1, 0, 1)]
    quarters = ref.to_bits((np.pi / 2 * np.arange(1, 64)).astype(np.float32)).astype(np.int64)
    near = np.concatenate([quarters + d for d in (-1, 0, 1)])
    x = np.concatenate([SPECIALS, threshold, near])
    check(np.concatenate([x, x ^ 0x80000000]))


def test_random_stream():
    result = check_unit("sine", count=1500, seed=14)
    assert result.mismatches == 0, result.examples


radians = st.floats(-1e4, 1e4, width=32).map(lambda v: int(np.float32(v).view(np.uint32)))


@settings(max_examples=10, deadline=None)
@given(st.lists(st.one_of(float_bits(), radians), min_size=1, max_size=80))
def test_any_argument(x):
    check(x)
