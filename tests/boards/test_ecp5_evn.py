# amaranth: UnusedElaboratable=no
"""The ECP5-5G Evaluation Board: the 85F's resources in speed grade 8, and the board top's
build plan on it (pins, PLL from 12 MHz, nextpnr's device options) without running any tool."""

import re

from accel.device import DEVICES, LFE5U_85F
from accel.flows.pnr import nextpnr_device
from boards.top import BoardTop
from boards.vcu118 import get_board

from .test_top import tiny_core


def test_the_evn_is_the_85f_fabric_at_speed_grade_8():
    platform = get_board("ecp5-evn")
    facts = DEVICES[platform.device_name]
    assert facts["part"] == "LFE5UM5G-85F-8BG381C" and platform.speed == "8"
    # The ULX3S 85F's fabric: every resource the sizing search reads is the same.
    for key in ("lut", "ff", "dsp", "ebr", "banked", "family"):
        assert facts[key] == LFE5U_85F[key], key
    assert nextpnr_device(platform) == ["--um5g-85k", "--package", "CABGA381", "--speed", "8"]


def test_board_top_plan_on_the_evn():
    """12 MHz / 3 * 25 = 100 MHz (VCO 800 MHz); the button starts, ``rst`` resets, the
    FTDI UART's TX takes the frame, and the LPF constrains the PLL's output."""
    platform = get_board("ecp5-evn")
    assert platform.start_button == ("button", 0) and platform.default_clock_hz == 100e6
    top = BoardTop(core=tiny_core(), channels=3, clock_hz=100e6)
    plan = platform.build(top, name="top", do_build=False)
    lpf, il = plan.files["top.lpf"], plan.files["top.il"]
    for pin in ("A10", "P4", "G2", "P3"):                  # clock, button, reset, UART TX
        assert f'"{pin}"' in lpf
    assert re.search(r'FREQUENCY NET "[^"]*accel_clk[^"]*" 100000000(\.0+)? HZ;', lpf), lpf
    for param, value in (("CLKI_DIV", 3), ("CLKFB_DIV", 25), ("CLKOP_DIV", 8)):
        assert re.search(rf"parameter \\{param} {value}\b", il), param
