# amaranth: UnusedElaboratable=no

"""ProcessingElement against a cycle model of its documented behaviour: shadow-weight chain,
swap (the swap cycle's product already uses the new weight), the activation pass-through
and the multiply-accumulate of each number format."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from accel.config import CLOCK_HZ
from accel.formats.fp32 import DualArithmetic, Fp32Arithmetic
from accel.formats.int8 import Int8Arithmetic
from accel.gateware.pe import ProcessingElement
from model.fp32ref import fadd, fmul, from_bits, to_bits


def _s(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _int8_mac(psum, a, w):
    return (_s(psum, 32) + _s(a, 16) * _s(w, 16)) & 0xFFFFFFFF


def _fp32_mac(psum, a, w):
    f = lambda v: from_bits(np.array([v], dtype=np.uint32))
    return int(to_bits(fadd(f(psum), fmul(f(a), f(w))))[0])


def _fp32_operand(rng, bits=32):
    return int(to_bits(np.array([rng.uniform(-4, 4)], dtype=np.float32))[0])


def run_pe(arith, mac, operand, *, mode=0, cycles=120, seed=0, latency=None):
    """Random inputs every cycle; every output compared with the model, cycle by cycle,
    ``latency`` (default: the arithmetic's) cycles after its operands."""
    rng = random.Random(seed)
    dut = ProcessingElement(arith=arith)
    L = arith.latency if latency is None else latency
    checked = {"psum": 0, "swaps": 0}

    async def bench(ctx):
        ctx.set(dut.mode, mode)
        shadow = active = 0
        history = []                                 # (psum_in, a, weight used) per cycle
        prev_a = prev_swap = 0
        for t in range(cycles):
            a, psum = operand(rng, arith.act_width), operand(rng, arith.acc_width)
            swap = rng.random() < 0.25
            shift = rng.random() < 0.5
            w_in = operand(rng, arith.weight_width)
            ctx.set(dut.a_in, a)
            ctx.set(dut.psum_in, psum)
            ctx.set(dut.swap_in, swap)
            ctx.set(dut.w_shift, shift)
            ctx.set(dut.w_in, w_in)
            # Outputs of this cycle: registered values from earlier cycles.
            assert ctx.get(dut.w_out) == shadow
            assert ctx.get(dut.a_out) == prev_a and ctx.get(dut.swap_out) == prev_swap
            if t >= L:
                p, x, w = history[t - L]
                assert ctx.get(dut.psum_out) == mac(p, x, w), f"cycle {t}"
                checked["psum"] += 1
            history.append((psum, a, shadow if swap else active))
            checked["swaps"] += swap
            if swap:
                active = shadow
            if shift:
                shadow = w_in
            prev_a, prev_swap = a, int(swap)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    sim.add_testbench(bench)
    sim.run()
    assert checked["psum"] == cycles - L and checked["swaps"] > 0


def test_int8():
    run_pe(Int8Arithmetic(), _int8_mac, lambda rng, bits: rng.getrandbits(bits))


def test_int8_extremes():
    def extreme(rng, bits):                      # -2**(bits-1), 2**(bits-1)-1, -127, 127, 0
        return rng.choice([1 << (bits - 1), (1 << (bits - 1)) - 1, (1 << bits) - 127, 127, 0])
    run_pe(Int8Arithmetic(), _int8_mac, extreme, seed=1, cycles=60)


@pytest.mark.parametrize("arith", [Fp32Arithmetic(), DualArithmetic()], ids=["fp32", "dual"])
def test_fp32(arith):
    run_pe(arith, _fp32_mac, _fp32_operand, mode=1, cycles=60, seed=2)


def test_dual_int8_mode_has_int8_latency():
    """A dual PE in INT8 mode: the INT8 result, after the INT8 latency (1): its INT8 jobs do
    not wait on the FP32 pipeline."""
    def mac(psum, a, w):
        return _int8_mac(psum, a & 0xFFFF, w & 0xFFFF)
    assert DualArithmetic.int8_latency == Int8Arithmetic.latency == 1
    run_pe(DualArithmetic(), mac, lambda rng, bits: rng.getrandbits(bits),
           mode=0, cycles=60, seed=3, latency=1)


def test_latency_property_and_type_check():
    assert ProcessingElement(arith=Int8Arithmetic()).latency == 1
    assert ProcessingElement(arith=Fp32Arithmetic()).latency == 6
    with pytest.raises(TypeError, match="arith must be an Arithmetic"):
        ProcessingElement(arith="int8")
