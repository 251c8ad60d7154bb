"""cocotb tests of the exported ``patchinr_core`` Verilog, driven the way docs/interface.md
says: AXI4-Lite registers at their documented offsets, weight packets on ``s_axis_wgt``,
coordinates on ``s_axis_coord``, pixels from ``m_axis_pix``, every stream under random
pauses (cocotbext-axi).

Run by ``tests/accel/flows/test_cocotb.py`` (cocotb's runner, Icarus Verilog or
Verilator). The expected data comes in a JSON file named by ``PATCHINR_COCOTB_CASE``: the
weight-stream beats, the frame the integer (or FP32) reference gives, query coordinates
and their pixels, and the build's geometry.
"""

import itertools
import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles
from cocotbext.axi import (AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamFrame, AxiStreamSink,
                           AxiStreamSource)

# docs/interface.md, "Registers"
ID, HWINFO, CTRL, STATUS, WIDTH, HEIGHT, CYCLES, QUERIES, PIXELS = (
    0x00, 0x04, 0x0C, 0x10, 0x14, 0x18, 0x1C, 0x20, 0x24)
START, MODE, PRECISION, CLEAR = 1, 2, 4, 8
BUSY, DONE, ERROR = 1, 2, 4
ERR_FRAME_SIZE, ERR_PRECISION, ERR_WGT_MEMORY = 1, 2, 3


def _case():
    with open(os.environ["PATCHINR_COCOTB_CASE"]) as f:
        return json.load(f)


def _pauses(seed, p):
    rng = random.Random(seed)
    return itertools.cycle([rng.random() < p for _ in range(997)])


class Host:
    def __init__(self, dut, case, *, seed=1, pause=0.3):
        self.dut, self.case = dut, case
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.aclk, dut.aresetn,
                                  reset_active_level=False)
        self.wgt = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_wgt"), dut.aclk,
                                   dut.aresetn, reset_active_level=False)
        self.coord = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_coord"), dut.aclk,
                                     dut.aresetn, reset_active_level=False)
        self.pix = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis_pix"), dut.aclk,
                                 dut.aresetn, reset_active_level=False)
        for i, port in enumerate((self.wgt, self.coord, self.pix)):
            port.set_pause_generator(_pauses(seed + i, pause))

    async def reset(self):
        self.dut.aresetn.value = 0
        self.dut.start.value = 0
        await ClockCycles(self.dut.aclk, 4)
        self.dut.aresetn.value = 1
        await ClockCycles(self.dut.aclk, 2)

    async def read(self, addr):
        return int.from_bytes((await self.axil.read(addr, 4)).data, "little")

    async def write(self, addr, value):
        await self.axil.write(addr, value.to_bytes(4, "little"))

    async def load_weights(self, beats):
        # One packet per tlast (docs: "tlast on the packet's last beat").
        packet = []
        for data, last in beats:
            packet.append(data)
            if last:
                await self.wgt.send(AxiStreamFrame(
                    b"".join(w.to_bytes(4, "little") for w in packet)))
                packet = []
        await self.wgt.wait()

    async def wait_idle(self, limit=2_000_000):
        for _ in range(limit // 64):
            status = await self.read(STATUS)
            if not status & BUSY:
                return status
            await ClockCycles(self.dut.aclk, 64)
        raise AssertionError("the core stayed busy")

    def pixels(self, frame):
        n = self.case["channels"]
        data = frame.tdata
        return [list(data[i:i + n]) for i in range(0, len(data), n)]


async def _start(dut):
    cocotb.start_soon(Clock(dut.aclk, 5, unit="ns").start())
    case = _case()
    host = Host(dut, case)
    await host.reset()
    return host, case


async def _frame(host, case, precision):
    w, h = case["width"], case["height"]
    await host.write(WIDTH, w)
    await host.write(HEIGHT, h)
    await host.write(CTRL, START | (PRECISION if precision == "fp32" else 0))
    rows = []
    for y in range(h):                               # tlast on each line's last pixel
        line = await host.pix.recv()
        assert len(line.tdata) == w * case["channels"], f"line {y}: {len(line.tdata)} bytes"
        user = line.tuser if isinstance(line.tuser, list) else [line.tuser]
        assert bool(user[0]) == (y == 0), f"tuser on line {y}: {user}"
        rows.append(host.pixels(line))
    status = await host.wait_idle()
    assert status & (DONE | ERROR) == DONE, hex(status)
    return rows


@cocotb.test(timeout_time=2, timeout_unit="ms")
async def frame_under_backpressure(dut):
    """Weights over the stream, one frame, every pixel against the reference; the
    counters; CLEAR."""
    host, case = await _start(dut)
    assert await host.read(ID) == 0x50494E52
    hw = await host.read(HWINFO)
    assert (hw & 0xFF, (hw >> 8) & 0xFF) == (case["rows"], case["cols"])
    # Pixels per beat: HWINFO[19:18] is its log2, and the beat is that many pixels wide.
    k = case["pixels_per_beat"]
    assert 1 << ((hw >> 18) & 3) == k
    assert len(dut.m_axis_pix_tdata) == 8 * case["channels"] * k
    await host.load_weights(case["weights"])
    precision = case["precisions"][0]
    assert await _frame(host, case, precision) == case["frames"][precision]
    assert await host.read(PIXELS) == case["width"] * case["height"]
    assert await host.read(QUERIES) == case["queries_per_frame"]
    assert await host.read(CYCLES) > 0
    await host.write(CTRL, CLEAR)
    assert [await host.read(r) for r in (STATUS, CYCLES, QUERIES, PIXELS)] == [0, 0, 0, 0]


@cocotb.test(timeout_time=2, timeout_unit="ms")
async def error_codes(dut):
    """A frame size the build cannot render; a precision it lacks; an unknown memory id.
    Each sets ERROR with its code and renders nothing; a good START clears it."""
    host, case = await _start(dut)
    await host.write(WIDTH, case["width"] + 1)
    await host.write(HEIGHT, case["height"])
    await host.write(CTRL, START)
    status = await host.wait_idle()
    assert status & ERROR and (status >> 8) & 0xFF == ERR_FRAME_SIZE
    if "fp32" not in case["precisions"]:
        await host.write(WIDTH, case["width"])
        await host.write(CTRL, START | PRECISION)
        status = await host.wait_idle()
        assert status & ERROR and (status >> 8) & 0xFF == ERR_PRECISION
    await host.wgt.send(AxiStreamFrame((7 << 28).to_bytes(4, "little") + bytes(4)))
    await host.wgt.wait()
    await ClockCycles(dut.aclk, 4)
    status = await host.read(STATUS)
    assert status & ERROR and (status >> 8) & 0xFF == ERR_WGT_MEMORY
    assert host.pix.empty()
    await host.load_weights(case["weights"])
    precision = case["precisions"][0]
    assert await _frame(host, case, precision) == case["frames"][precision]


@cocotb.test(timeout_time=2, timeout_unit="ms")
async def query_mode(dut):
    """Coordinates over s_axis_coord: each query's n*n pixels, tlast on the job's last."""
    host, case = await _start(dut)
    await host.load_weights(case["weights"])
    coords = case["queries"]
    beats = b"".join((((y & 0xFFFF) << 16) | (x & 0xFFFF)).to_bytes(4, "little")
                     for x, y in coords)
    await host.write(CTRL, START | MODE)
    await host.coord.send(AxiStreamFrame(beats))
    packet = await host.pix.recv()                   # one packet: tlast on the last pixel
    status = await host.wait_idle()
    assert status & (DONE | ERROR) == DONE
    assert host.pixels(packet) == case["query_pixels"]


@cocotb.test(timeout_time=2, timeout_unit="ms")
async def reset_mid_frame(dut):
    """aresetn during a frame: back to idle with the weights intact; the next START renders
    a whole frame."""
    host, case = await _start(dut)
    await host.load_weights(case["weights"])
    await host.write(WIDTH, case["width"])
    await host.write(HEIGHT, case["height"])
    await host.write(CTRL, START)
    await ClockCycles(dut.aclk, case["cycles"] // 2)
    await host.reset()
    host.pix.clear()
    assert await host.read(STATUS) & BUSY == 0
    precision = case["precisions"][0]
    assert await _frame(host, case, precision) == case["frames"][precision]


@cocotb.test(timeout_time=2, timeout_unit="ms")
async def every_precision_by_register(dut):
    """Each datapath the build carries, chosen by CTRL.PRECISION alone (a dual build: INT8,
    FP32, INT8)."""
    host, case = await _start(dut)
    await host.load_weights(case["weights"])
    order = case["precisions"] + case["precisions"][:1]
    for precision in order:
        assert await _frame(host, case, precision) == case["frames"][precision], precision
