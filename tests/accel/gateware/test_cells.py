"""The ECP5 block RAM that :func:`accel.gateware.cells.registered_read` instantiates: its
initial contents laid out as Yosys lays out the same memory's, and, through Verilator and
the package's model of the DP16KD, reads and writes as the behavioural memory does."""

import json
import os
import random
import subprocess

import pytest
from amaranth import Elaboratable, Module, Signal
from amaranth.back import verilog
from amaranth.lib import memory
from amaranth.sim import Simulator

from accel.gateware.cells import Cells, ebr_mode, registered_read, sim_models
from tests.tools import VERILATOR, YOSYS, needs_verilator, needs_yosys

ECP5 = Cells("ecp5")


def test_modes():
    # The fewest EBRs side by side; the narrower configuration on a tie.
    assert ebr_mode(8, 2048) == (2048, 9)
    assert ebr_mode(8, 16) == (2048, 9)
    assert ebr_mode(128, 1024) == (1024, 18)        # 8 EBRs, not 15 at 9 bits
    assert ebr_mode(9, 1024) == (2048, 9)
    assert ebr_mode(12, 1024) == (1024, 18)
    assert ebr_mode(8, 4096) is None                # deeper than one DP16KD configuration


def _contents(rng, width, depth):
    return [rng.randrange(1 << width) for _ in range(depth)]


def _ours(width, depth, init):
    m = Module()
    registered_read(m, "mem", width=width, depth=depth, init=init, cells=ECP5)
    inst = m.submodules["mem_ebr0"]
    return {k: v.value for k, v in inst.parameters.items() if k.startswith("INITVAL_")}


class _Plain(Elaboratable):
    """A plain memory with a synchronous read, for Yosys to map on its own."""

    def __init__(self, width, depth, init):
        self.width, self.depth, self.init = width, depth, init
        abits = (depth - 1).bit_length()
        self.w_en, self.w_addr = Signal(), Signal(abits)
        self.w_data, self.r_addr = Signal(width), Signal(abits)
        self.r_data = Signal(width)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=self.width, depth=self.depth, init=self.init)
        wp, rp = mem.write_port(), mem.read_port()
        m.d.comb += [wp.en.eq(self.w_en), wp.addr.eq(self.w_addr), wp.data.eq(self.w_data),
                     rp.addr.eq(self.r_addr), self.r_data.eq(rp.data)]
        return m


@needs_yosys
@pytest.mark.parametrize("width, depth", [(18, 1024), (9, 2048)])
def test_initial_contents_as_yosys_maps_them(tmp_path, width, depth):
    # One DP16KD's worth (1,024 x 18 or 2,048 x 9): Yosys's own mapping of a plain memory
    # with these contents is one DP16KD whose INITVAL parameters must be ours, bit for bit
    # (the pad bits of each 20-bit row included).
    init = _contents(random.Random(width), width, depth)
    plain = _Plain(width, depth, init)
    text = verilog.convert(plain, name="top", ports=[plain.w_en, plain.w_addr, plain.w_data,
                                                     plain.r_addr, plain.r_data])
    (tmp_path / "top.v").write_text(text)
    proc = subprocess.run([*YOSYS.command, "-q", "-p",
                           "read_verilog top.v; synth_ecp5 -top top -json top.json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    cells = json.loads((tmp_path / "top.json").read_text())["modules"]["top"]["cells"]
    ebrs = [c for c in cells.values() if c["type"] == "DP16KD"]
    assert len(ebrs) == 1
    assert int(ebrs[0]["parameters"]["DATA_WIDTH_B"], 2) == width
    theirs = {k: int(v, 2) for k, v in ebrs[0]["parameters"].items() if k.startswith("INITVAL_")}
    ours = _ours(width, depth, init)
    assert len(ours) == 64 and any(ours.values())
    assert ours == theirs


def _behaviour(width, depth, init, steps):
    """What a plain memory with a register after its read gives for ``steps``."""
    m = Module()
    ports = registered_read(m, "mem", width=width, depth=depth, init=init, cells=None)
    seen = []

    async def bench(ctx):
        for w_en, w_addr, w_data, r_addr in steps:
            ctx.set(ports.w_en, w_en)
            ctx.set(ports.w_addr, w_addr)
            ctx.set(ports.w_data, w_data)
            ctx.set(ports.r_addr, r_addr)
            seen.append(ctx.get(ports.r_data))
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen, ports


_HARNESS = r"""
#include <cstdio>
#include "Vtop.h"
int main() {
    Vtop top;
    unsigned long long w_en, w_addr, w_data, r_addr;
    top.clk = 0; top.rst = 0; top.eval();
    while (std::scanf("%llu %llu %llu %llu", &w_en, &w_addr, &w_data, &r_addr) == 4) {
        top.mem_w_en = w_en; top.mem_w_addr = w_addr; top.mem_w_data = w_data; top.mem_r_addr = r_addr;
        top.eval();
        std::printf("%llu\n", (unsigned long long)top.mem_r_data);
        top.clk = 1; top.eval(); top.clk = 0; top.eval();
    }
    return 0;
}
"""


@needs_verilator
@pytest.mark.parametrize("width, depth", [(27, 300), (8, 1500)])
def test_dp16kd_reads_as_the_plain_memory(tmp_path, width, depth):
    # Two and one EBRs side by side (18-bit and 9-bit rows), initial contents, random
    # writes and reads (a read of the word written in its cycle included): through
    # Verilator and dp16kd.v, the exported DP16KDs give what the behavioural memory gives,
    # cycle for cycle.
    rng = random.Random(depth)
    init = _contents(rng, width, depth)
    steps = []
    for i in range(600):
        r_addr = rng.randrange(depth) if i < 300 else rng.randrange(4)
        w_addr = r_addr if rng.random() < 0.2 else rng.randrange(depth)
        steps.append((int(rng.random() < 0.3), w_addr, rng.randrange(1 << width), r_addr))
    expected, _ = _behaviour(width, depth, init, steps)

    m = Module()
    ports = registered_read(m, "mem", width=width, depth=depth, init=init, cells=ECP5)
    text = verilog.convert(m, name="top", ports=[ports.w_en, ports.w_addr, ports.w_data,
                                                 ports.r_addr, ports.r_data])
    assert text.count("DP16KD #(") == -(-width // ebr_mode(width, depth)[1])
    (tmp_path / "top.v").write_text(text)
    (tmp_path / "main.cpp").write_text(_HARNESS)
    models = sim_models(text)
    for name, body in models.items():
        (tmp_path / name).write_text(body)
    env = dict(os.environ)
    proc = subprocess.run([VERILATOR, "--cc", "--exe", "--build", "-Wno-fatal", "-Wno-lint",
                           "--top-module", "top", "top.v", *models, "main.cpp", "-o", "vtop"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    stimulus = "".join(f"{a} {b} {c} {d}\n" for a, b, c, d in steps)
    run = subprocess.run([str(tmp_path / "obj_dir" / "vtop")], input=stimulus,
                         capture_output=True, text=True, timeout=60)
    got = [int(x) for x in run.stdout.split()]
    # The first two outputs precede any read; from then on, every word.
    assert got[2:] == expected[2:]
    assert len(got) == len(steps)
