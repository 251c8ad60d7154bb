# amaranth: UnusedElaboratable=no

import pytest
from amaranth.sim import Simulator
from hypothesis import given, settings, strategies as st

from accel.config import CLOCK_HZ
from accel.gateware.divider import SequentialDivider


def _run(dut, testbench):
    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    sim.add_testbench(testbench)
    sim.run()


async def _divide(ctx, dut, dividend, divisor):
    """Pulse ``start``; return ``(quotient, remainder, cycles from start to done)``, checking
    that ``busy`` covers exactly the cycles in between and ``done`` lasts one cycle."""
    ctx.set(dut.dividend, dividend)
    ctx.set(dut.divisor, divisor)
    ctx.set(dut.start, 1)
    await ctx.tick()
    ctx.set(dut.start, 0)
    ctx.set(dut.dividend, 0)    # sampled with start; later values must not matter
    ctx.set(dut.divisor, 0)
    cycles = 1
    while not ctx.get(dut.done):
        assert ctx.get(dut.busy)
        await ctx.tick()
        cycles += 1
    assert not ctx.get(dut.busy)
    result = ctx.get(dut.quotient), ctx.get(dut.remainder)
    await ctx.tick()
    assert not ctx.get(dut.done)
    assert (ctx.get(dut.quotient), ctx.get(dut.remainder)) == result   # held after done
    return (*result, cycles)


def _expected(width, dividend, divisor):
    if divisor == 0:
        return 2 ** width - 1, dividend
    return divmod(dividend, divisor)


@settings(max_examples=12, deadline=None)
@given(st.integers(1, 20).flatmap(lambda w: st.tuples(
    st.just(w),
    st.lists(st.tuples(st.integers(0, 2 ** w - 1), st.integers(0, 2 ** w - 1)),
             min_size=1, max_size=12))))
def test_matches_divmod(case):
    width, pairs = case
    # Corners every width must get right: zero divisor, divisor 1, all-ones operands.
    top = 2 ** width - 1
    pairs = pairs + [(top, 0), (0, 0), (top, 1), (top, top), (top - 1 if top else 0, top)]
    dut = SequentialDivider(width=width)

    async def testbench(ctx):
        for dividend, divisor in pairs:
            q, r, cycles = await _divide(ctx, dut, dividend, divisor)
            assert (q, r) == _expected(width, dividend, divisor), (dividend, divisor)
            assert cycles == dut.latency

    _run(dut, testbench)


def test_start_while_busy_restarts():
    dut = SequentialDivider(width=16)

    async def testbench(ctx):
        ctx.set(dut.dividend, 50000)
        ctx.set(dut.divisor, 7)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        await ctx.tick().repeat(5)
        assert ctx.get(dut.busy) and not ctx.get(dut.done)
        q, r, cycles = await _divide(ctx, dut, 1000, 33)
        assert (q, r, cycles) == (30, 10, dut.latency)

    _run(dut, testbench)


@pytest.mark.parametrize("width", [0, -3, 2.0, True, None])
def test_rejects_bad_width(width):
    with pytest.raises(ValueError, match="divider width must be a positive integer"):
        SequentialDivider(width=width)
