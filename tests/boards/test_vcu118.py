# amaranth: UnusedElaboratable=no
import re

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import io

from boards.top import BoardTop
from boards.vcu118 import BOARDS, UltraScalePlusPlatform, VCU118Platform, get_board

from .test_top import tiny_core

# Expected pins, from the VCU118's public board files (DESIGN.md).
LEDS = "AT32 AV34 AY30 BB32 BF32 AU37 AV36 BA37".split()
BUTTONS = {"center": "BD23", "north": "BB24", "east": "BE23", "south": "BE22", "west": "BF22"}


def pin(port):
    """``(package pin, IOSTANDARD)`` of a one-bit single-ended port, as the platform has it."""
    meta, = port.io.metadata
    return meta.name, meta.attrs["IOSTANDARD"]


def test_part_and_family():
    platform = VCU118Platform()
    assert (platform.device, platform.package, platform.speed) == ("xcvu9p", "flga2104", "2L-e")
    assert platform.family == "ultrascaleplus"
    assert platform.toolchain == "Vivado"
    assert platform.default_clk_frequency == 300e6


def test_clocks():
    platform = VCU118Platform()
    for name, p, n, freq, standard in [("clk300", "G31", "F31", 300e6, "DIFF_SSTL12"),
                                       ("clk125", "AY24", "AY23", 125e6, "LVDS")]:
        assert platform.lookup(name, 0).clock.frequency == freq
        port = platform.request(name, 0, dir="-")
        assert isinstance(port, io.DifferentialPort) and port.direction is io.Direction.Input
        (p_meta,), (n_meta,) = port.p.metadata, port.n.metadata
        assert (p_meta.name, n_meta.name) == (p, n)
        assert p_meta.attrs["IOSTANDARD"] == n_meta.attrs["IOSTANDARD"] == standard
    assert platform.default_clk == "clk300"


def test_reset_leds_buttons():
    platform = VCU118Platform()
    reset = platform.request(platform.default_rst, 0, dir="-")
    assert pin(reset) == ("L19", "LVCMOS12")
    assert reset.direction is io.Direction.Input and reset.invert == (False,)   # active high
    for index, expected in enumerate(LEDS):
        led = platform.request("led", index, dir="-")
        assert pin(led) == (expected, "LVCMOS12") and led.direction is io.Direction.Output
    for name, expected in BUTTONS.items():
        button = platform.request(f"button_{name}", 0, dir="-")
        assert pin(button) == (expected, "LVCMOS18") and button.invert == (False,)


def test_uart():
    uart = VCU118Platform().request("uart", 0, dir="-")
    for name, expected, direction in [("tx", "BB21", io.Direction.Output),
                                      ("rx", "AW25", io.Direction.Input),
                                      ("rts", "BB22", io.Direction.Output),
                                      ("cts", "AY25", io.Direction.Input)]:
        port = getattr(uart, name)
        assert pin(port) == (expected, "LVCMOS18") and port.direction is direction


@pytest.fixture(scope="module")
def plan():
    return VCU118Platform().build(BoardTop(core=tiny_core(), channels=3), do_build=False)


def test_build_plan_files(plan):
    assert {"top.v", "top.xdc", "top.tcl", "build_top.sh"} <= set(plan.files)
    tcl = plan.files["top.tcl"]
    assert "create_project -force -name top -part xcvu9p-flga2104-2L-e" in tcl
    assert "read_xdc top.xdc" in tcl and "synth_design -top top" in tcl


def test_verilog_has_clocking_primitives(plan):
    verilog = plan.files["top.v"]
    assert re.search(r"^module top\(", verilog, re.M)
    mmcm = re.search(r"MMCME4_ADV #\((.*?)\) mmcm", verilog, re.S).group(1)
    for parameter in (".CLKFBOUT_MULT_F(4.0)", ".CLKOUT0_DIVIDE_F(6.0)",
                      ".DIVCLK_DIVIDE(32'd1)", ".CLKIN1_PERIOD(3.333)"):
        assert parameter in mmcm
    assert re.search(r"BUFG \w+ \(\s*\.I\(accel_clk\)", verilog)
    assert "IBUFDS" in verilog


def test_xdc_constrains_the_accelerator_clock(plan):
    xdc = plan.files["top.xdc"]
    clocks = {name: (float(period), net) for name, period, net in re.findall(
        r"^create_clock -name (\S+) -period (\S+) \[get_nets \"?([^\]\"]+)\"?\]$", xdc, re.M)}
    assert clocks["accel_clk"] == (5.0, "clocking/accel_clk")
    assert clocks["clk300_0__p"][0] == pytest.approx(3.333, abs=1e-3)


def test_xdc_locates_the_pins(plan):
    xdc = plan.files["top.xdc"]
    locs = {port: loc for loc, port in re.findall(
        r"^set_property LOC (\w+) \[get_ports \"(\w+)\"\]$", xdc, re.M)}
    standards = {port: standard for standard, port in re.findall(
        r"^set_property IOSTANDARD \"(\w+)\" \[get_ports \"(\w+)\"\]$", xdc, re.M)}
    expected = {
        "clk300_0__p": ("G31", "DIFF_SSTL12"), "clk300_0__n": ("F31", "DIFF_SSTL12"),
        "cpu_reset_0__io": ("L19", "LVCMOS12"),
        "button_center_0__io": ("BD23", "LVCMOS18"),
        "uart_0__tx__io": ("BB21", "LVCMOS18"),
        **{f"led_{i}__io": (LEDS[i], "LVCMOS12") for i in range(4)},
    }
    assert {port: (locs[port], standards[port]) for port in locs} == expected


def test_generic_platform():
    platform = get_board("generic", part="xcku5p-ffvb676-2-e")
    assert isinstance(platform, UltraScalePlusPlatform)
    assert (platform.device, platform.package, platform.speed) == ("xcku5p", "ffvb676", "2-e")
    assert platform.family == "ultrascaleplus" and platform.default_clk is None
    assert list(platform.resources) == []

    clocked = UltraScalePlusPlatform(part="xczu9eg-ffvb1156-2-e", clk_pin="AU21",
                                     clk_freq=100e6)
    assert clocked.default_clk == "clk" and clocked.default_clk_frequency == 100e6
    assert pin(clocked.request("clk", 0, dir="-")) == ("AU21", "LVCMOS18")


def test_generic_platform_builds_a_clocked_design():
    # A register in sync makes the platform build its default domain from the clock pin.
    m = Module()
    bit = Signal()
    m.d.sync += bit.eq(~bit)
    plan = UltraScalePlusPlatform(part="xcvu9p-flga2104-2L-e", clk_pin="AU21",
                                  clk_freq=100e6).build(m, do_build=False)
    assert "set_property LOC AU21" in plan.files["top.xdc"]
    assert "STARTUPE3" in plan.files["top.v"]


@pytest.mark.parametrize("kwargs, message", [
    ({"part": "xcvu9p"}, r"^part must be 'device-package-speed' \(for example "
                         r"'xcvu9p-flga2104-2L-e'\), not 'xcvu9p'$"),
    ({"part": "xc7a35t-csg324-1"}, r"^part 'xc7a35t-csg324-1' is not an UltraScale\+ device$"),
    ({"part": "xcku040-ffva1156-2-e"},
     r"^part 'xcku040-ffva1156-2-e' is not an UltraScale\+ device$"),
    ({"part": "xcvu9p-flga2104-2L-e", "clk_pin": "AU21"},
     r"^clock frequency must be a positive number of Hz, not None$"),
    ({"part": "xcvu9p-flga2104-2L-e", "clk_freq": 1e8},
     r"^clock frequency given without a clock pin$"),
])
def test_generic_platform_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        UltraScalePlusPlatform(**kwargs)


def test_registry():
    assert isinstance(get_board("vcu118"), VCU118Platform)
    assert BOARDS["vcu118"] is VCU118Platform
    with pytest.raises(ValueError, match=r"^unknown board 'zcu102' \(choose vcu118, ulx3s-85f, ecp5-evn, ulx3s-12f, generic\)$"):
        get_board("zcu102")
