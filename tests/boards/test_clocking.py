# amaranth: UnusedElaboratable=no
import pytest
from amaranth.hdl import ClockDomain, Elaboratable, Fragment, Instance, Module, ResetSignal, Signal
from amaranth.sim import Simulator
from amaranth_boards.arty_a7 import ArtyA7_35Platform
from hypothesis import given, settings, strategies as st

from accel.config import CLOCK_HZ
from boards.clocking import ACCEL_FREQ, AcceleratorClock, mmcm_settings
from boards.vcu118 import VCU118Platform

from .test_uart import ticks

# Divider arithmetic --------------------------------------------------------------------------

@pytest.mark.parametrize("f_in, d, mult, o, f_vco", [
    (300e6, 1, 4, 6, 1200e6),   # VCU118 system clock
    (125e6, 1, 8, 5, 1000e6),   # VCU118 125 MHz clock
])
def test_board_oscillators(f_in, d, mult, o, f_vco):
    s = mmcm_settings(f_in=f_in, f_out=ACCEL_FREQ)
    assert (s.divclk_divide, s.clkfbout_mult, s.clkout0_divide) == (d, mult, o)
    assert s.f_vco == f_vco and s.f_pfd == f_in / d
    assert f_in * mult / (d * o) == ACCEL_FREQ


def test_clkin1_period_has_three_decimals():
    assert mmcm_settings(f_in=300e6, f_out=ACCEL_FREQ).clkin1_period_ns == 3.333


@settings(max_examples=60, deadline=None)
@given(f_in=st.integers(10, 933), f_out=st.integers(7, 775))
def test_settings_match_a_brute_force_search(f_in, f_out):
    # Integer MHz, so every setting can be checked exactly with integers.
    candidates = [
        (d, mult, f_in * mult // (f_out * d))
        for d in range(1, 107) if 10 * d <= f_in <= 500 * d
        for mult in range(2, 129) if 800 * d <= f_in * mult <= 1600 * d
        if f_in * mult % (f_out * d) == 0 and 1 <= f_in * mult // (f_out * d) <= 128
    ]
    if not candidates:
        with pytest.raises(ValueError, match=r"^no integer MMCM setting makes"):
            mmcm_settings(f_in=f_in * 1e6, f_out=f_out * 1e6)
        return
    s = mmcm_settings(f_in=f_in * 1e6, f_out=f_out * 1e6)
    # Smallest D (fastest phase detector), then the highest VCO, that is the largest M.
    assert (s.divclk_divide, s.clkfbout_mult, s.clkout0_divide) == \
        min(candidates, key=lambda c: (c[0], -c[1]))


@pytest.mark.parametrize("kwargs, message", [
    ({"f_in": 5e6, "f_out": ACCEL_FREQ}, r"^MMCM input frequency must be within 10..933 MHz, "
                                    r"not 5 MHz$"),
    ({"f_in": 0, "f_out": ACCEL_FREQ}, r"^MMCM input frequency must be a positive number of Hz, "
                                  r"not 0$"),
    ({"f_in": 300e6, "f_out": None}, r"^MMCM output frequency must be a positive number of "
                                     r"Hz, not None$"),
    ({"f_in": 300e6, "f_out": 1e9}, r"^MMCM output frequency must be at most 775 MHz, "
                                    r"not 1000 MHz$"),
    # 199 is prime and divides neither 300 nor any M <= 128, nor any D <= 106.
    ({"f_in": 300e6, "f_out": 199e6}, r"^no integer MMCM setting makes 199 MHz from 300 MHz "
                                      r"with the VCO in 800..1600 MHz$"),
])
def test_bad_frequencies(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mmcm_settings(**kwargs)


def test_accelerator_clock_validates_at_construction():
    with pytest.raises(ValueError, match=r"^no integer MMCM setting makes 199 MHz"):
        AcceleratorClock(in_freq=300e6, freq=199e6)


# Hardware: MMCME4_ADV + BUFG ----------------------------------------------------------------

def _instances(fragment):
    for sub, _name, _src_loc in fragment.subfragments:
        if isinstance(sub, Instance):
            yield sub
        else:
            yield from _instances(sub)


def test_ultrascale_plus_uses_mmcm_and_bufg():
    dut = AcceleratorClock(in_freq=300e6)
    frag = Fragment.get(dut, VCU118Platform())
    instances = list(_instances(frag))
    types = sorted(inst.type for inst in instances)
    # The reset synchroniser's 2 stages are FDPEs, preset by "reset or not locked".
    assert types == ["BUFG", "FDPE", "FDPE", "MMCME4_ADV"]
    mmcm, = (inst for inst in instances if inst.type == "MMCME4_ADV")
    assert mmcm.parameters["DIVCLK_DIVIDE"] == 1
    assert mmcm.parameters["CLKFBOUT_MULT_F"] == 4.0
    assert mmcm.parameters["CLKOUT0_DIVIDE_F"] == 6.0
    assert mmcm.parameters["CLKIN1_PERIOD"] == 3.333


@pytest.mark.parametrize("in_freq", [300e6, 125e6])
def test_dsp_clock_comes_from_the_same_vco_at_half_the_divider(in_freq):
    # Both outputs of one MMCM at phase 0: synchronous, rising together; each on a BUFG.
    dut = AcceleratorClock(in_freq=in_freq, dsp_clock=2)
    instances = list(_instances(Fragment.get(dut, VCU118Platform())))
    assert sorted(inst.type for inst in instances) == ["BUFG", "BUFG", "FDPE", "FDPE",
                                                       "MMCME4_ADV"]
    mmcm, = (inst for inst in instances if inst.type == "MMCME4_ADV")
    p = mmcm.parameters
    f_vco = in_freq * p["CLKFBOUT_MULT_F"] / p["DIVCLK_DIVIDE"]
    assert f_vco / p["CLKOUT0_DIVIDE_F"] == 200e6
    assert f_vco / p["CLKOUT1_DIVIDE"] == 400e6
    assert p["CLKOUT0_PHASE"] == p["CLKOUT1_PHASE"] == 0.0
    assert 800e6 <= f_vco <= 1600e6
    with pytest.raises(ValueError, match="DSP clock must be 1, or 2 on an UltraScale"):
        AcceleratorClock(in_freq=25e6, freq=100e6, family="ecp5", dsp_clock=2)


def test_other_platforms_are_refused():
    with pytest.raises(NotImplementedError, match=r"needs an UltraScale\+ XilinxPlatform"):
        Fragment.get(AcceleratorClock(), ArtyA7_35Platform())


# Simulation: ideal MMCM ---------------------------------------------------------------------

class ClockedCounter(Elaboratable):
    """Defines ``sync``, lets :class:`AcceleratorClock` drive it, and counts in it."""

    def __init__(self):
        self.clock = AcceleratorClock()
        self.in_reset = Signal()
        self.count = Signal(8)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain()
        m.submodules.clock = self.clock
        m.d.comb += self.in_reset.eq(ResetSignal("sync"))
        m.d.sync += self.count.eq(self.count + 1)
        return m


def test_simulated_domain_runs_and_reset_releases():
    dut = ClockedCounter()

    async def tb(ctx):
        # Reset holds for the synchroniser's 2 stages after start-up, then the domain counts.
        assert ctx.get(dut.in_reset)
        await ticks(ctx, 2)
        assert not ctx.get(dut.in_reset)
        await ticks(ctx, 10)
        assert ctx.get(dut.count) == 10
        # rst_in asserts the domain's reset at once, without waiting for an edge.
        ctx.set(dut.clock.rst_in, 1)
        assert ctx.get(dut.in_reset)
        await ticks(ctx, 5)
        assert ctx.get(dut.count) == 0
        # Released 2 edges after rst_in falls.
        ctx.set(dut.clock.rst_in, 0)
        await ticks(ctx, 1)
        assert ctx.get(dut.in_reset)
        await ticks(ctx, 1)
        assert not ctx.get(dut.in_reset)
        await ticks(ctx, 3)
        assert ctx.get(dut.count) == 3

    sim = Simulator(dut)
    sim.add_clock(1 / ACCEL_FREQ)
    sim.add_testbench(tb)
    sim.run()
    assert dut.clock.freq == ACCEL_FREQ == CLOCK_HZ == 200_000_000
