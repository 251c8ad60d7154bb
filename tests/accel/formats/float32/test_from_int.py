import numpy as np
from amaranth.back import rtlil

from accel.flows.fp32_check import check_operands, check_unit
from accel.formats.float32.from_int import IntToFp32


def test_converts_with_latency():
    dut = IntToFp32()
    rtlil.convert(dut)
    assert dut.latency == IntToFp32.LATENCY == 0


def test_extremes_and_powers_of_two():
    powers = [1 << k for k in range(15)]
    values = [0, -1, 1, -32768, 32767, -32767] + powers + [-p for p in powers] + \
             [p - 1 for p in powers] + [p + 1 for p in powers]
    result = check_operands("int2fp", {"x": np.array(values) & 0xFFFF})
    assert result.mismatches == 0, result.examples


def test_random_values():
    result = check_unit("int2fp", count=4000, seed=16)
    assert result.mismatches == 0, result.examples
