import numpy as np
import pytest
from amaranth.back import rtlil
from hypothesis import given, settings, strategies as st

from accel.flows.fp32_check import SPECIALS, check_operands, check_unit, make_operands
from accel.formats.arith import Arithmetic, MacSignature
from accel.formats.fp32 import DualArithmetic, DualMac, Fp32Arithmetic, Fp32Mac
from accel.formats.int8 import Int8Arithmetic
from tests.fp32_cases import float_bits


@pytest.mark.parametrize("arith, mac", [(Fp32Arithmetic(), Fp32Mac), (DualArithmetic(), DualMac)])
def test_strategy(arith, mac):
    assert isinstance(arith, Arithmetic)
    assert (arith.act_width, arith.weight_width, arith.acc_width) == (32, 32, 32)
    assert arith.latency == 6
    unit = arith.mac()
    assert isinstance(unit, mac)
    assert unit.latency == arith.latency
    want = MacSignature(act_width=32, weight_width=32, acc_width=32)
    assert unit.signature.members == want.members
    rtlil.convert(unit)


def test_names():
    names = {Fp32Arithmetic.name, DualArithmetic.name, Int8Arithmetic.name}
    assert names == {"fp32", "dual", "int8"}


def test_fp32_mac_specials():
    """Special values in every operand position; the partial sum must meet its own product."""
    a, w, p = (x.ravel() for x in np.meshgrid(SPECIALS[::2], SPECIALS[1::3], SPECIALS[::4]))
    result = check_operands("mac", {"a": a, "w": w, "psum_in": p})
    assert result.mismatches == 0, result.examples


def test_fp32_mac_random_stream():
    result = check_unit("mac", count=2000, seed=17)
    assert result.mismatches == 0, result.examples


def test_dual_mac_both_modes():
    """INT8 operands with junk in their unused bits, then FP32 operands, same latency."""
    result = check_unit("dual", count=2000, seed=18)
    assert result.mismatches == 0, result.examples


def test_dual_mac_int8_extremes():
    a = np.array([-32768, 32767, -1, 0, -32768, 32767]) & 0xFFFF
    w = np.array([-32768, 32767, -128, 5, 127, -32768]) & 0xFFFF
    p = np.array([0, -(1 << 31), 1, (1 << 31) - 1, (1 << 31) - 1, 0]) & 0xFFFFFFFF
    result = check_operands("dual", {"a": a, "w": w, "psum_in": p, "mode": np.zeros(6)})
    assert result.mismatches == 0, result.examples


def test_dual_mac_mode_switches():
    """Runs of each mode in turn, the pipeline drained between runs."""
    rng = np.random.default_rng(19)
    ops = make_operands("dual", rng, 120)
    order = np.concatenate([np.arange(0, 20), np.arange(60, 80), np.arange(20, 40),
                            np.arange(80, 120), np.arange(40, 60)])
    result = check_operands("dual", {k: v[order] for k, v in ops.items()})
    assert result.mismatches == 0, result.examples


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(float_bits(), float_bits(), float_bits()), min_size=1, max_size=60))
def test_fp32_mac_any_operands(triples):
    a, w, p = zip(*triples)
    result = check_operands("mac", {"a": a, "w": w, "psum_in": p})
    assert result.mismatches == 0, result.examples
