"""The exported Verilog in Icarus Verilog with SystemVerilog semantics (``-g2012``, what
cocotb's runner passes): every output is a defined 0 or 1 from the first cycles after reset.

Under ``-g2012`` a variable's declaration initialiser produces no time-zero event, so an
``always @*`` block that reads only such registers is never evaluated until one changes:
its output stays X. A ready or valid that is X in an idle core is a hang in a testbench
and a protocol violation on a bus.
"""

import os
import subprocess

import pytest

from accel.config import TOP_NAME, AccelConfig
from accel.flows.export import export_core, module_ports
from model.config import PatchINRConfig
from tests.tools import IVERILOG, needs_iverilog

pytestmark = needs_iverilog


def _testbench(ports):
    decls, conns, checks = [], [], []
    for name, (direction, width) in ports.items():
        vec = f"[{width - 1}:0] " if width > 1 else ""
        if direction == "input":
            decls.append(f"  reg {vec}{name} = 0;")
        else:
            decls.append(f"  wire {vec}{name};")
            checks.append(f'    if (^{name} === 1\'bx) begin $display("X %0d {name}", cycle); '
                          f'bad = 1; end')
        conns.append(f"    .{name}({name})")
    return "\n".join([
        "`timescale 1ns/1ps",
        "module tb;",
        *decls,
        "  integer cycle; reg bad = 0;",
        f"  {TOP_NAME} dut (",
        ",\n".join(conns),
        "  );",
        "  always #2.5 aclk = ~aclk;",
        "  initial begin",
        "    for (cycle = 0; cycle < 4; cycle = cycle + 1) @(posedge aclk);",
        "    aresetn = 1;",
        "    for (cycle = 0; cycle < 20; cycle = cycle + 1) begin",
        "      @(negedge aclk);",
        *checks,
        "    end",
        '    if (!bad) $display("CLEAN");',
        "    $finish;",
        "  end",
        "endmodule",
    ])


@pytest.mark.parametrize("precision", ["int8", "fp32", "dual"])
def test_no_x_on_any_output_after_reset(tmp_path, precision):
    model = PatchINRConfig(patch=2, channels=1, hidden=4, layers=1)
    config = AccelConfig(model=model, rows=2, cols=2, batch=4, precision=precision,
                         max_width=8, max_height=8)
    verilog = export_core(config, zero_init=False)
    ports = module_ports(verilog, TOP_NAME)
    assert "s_axis_coord_tready" in ports and "m_axis_pix_tvalid" in ports
    (tmp_path / "core.v").write_text(verilog)
    (tmp_path / "tb.v").write_text(_testbench(ports))
    build = subprocess.run([IVERILOG, "-g2012", "-o", str(tmp_path / "sim"),
                            str(tmp_path / "tb.v"), str(tmp_path / "core.v")],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    run = subprocess.run([os.path.join(os.path.dirname(IVERILOG), "vvp"), "-n", str(tmp_path / "sim")], capture_output=True, text=True,
                         timeout=300)
    assert "CLEAN" in run.stdout, run.stdout[-3000:]
