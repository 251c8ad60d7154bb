# amaranth: UnusedElaboratable=no

import random

import pytest
from amaranth.sim import Simulator
from hypothesis import given, settings, strategies as st

from accel.config import CLOCK_HZ, AccelConfig
from accel.gateware.csr import ControlRegisters
from accel.host.registers import ID_VALUE, REGISTERS, RESP_OKAY, RESP_SLVERR, register_map_markdown
from model.config import PatchINRConfig
from tests.simutil import axil_read, axil_write

A = {name: r.offset for name, r in REGISTERS.items()}


def _config(precision="int8", **kw):
    model = PatchINRConfig(patch=2, channels=3, hidden=48, layers=5)
    return AccelConfig(model=model, rows=8, cols=4, batch=16, precision=precision,
                       max_width=640, max_height=480, **kw)


def _simulate(dut, *testbenches):
    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    for i, tb in enumerate(testbenches):
        sim.add_testbench(tb, background=i > 0)
    sim.run()


def _pulse_monitor(dut, log):
    """Background testbench: appends ``(cycle, name)`` for every cycle ``start`` or
    ``clear`` is high."""
    async def monitor(ctx):
        cycle = 0
        async for _, _, start, clear in ctx.tick().sample(dut.start, dut.clear):
            for name, value in (("start", start), ("clear", clear)):
                if value:
                    log.append((cycle, name))
            cycle += 1
    return monitor


def test_read_only_registers():
    cfg = _config()
    dut = ControlRegisters(config=cfg, width_init=320, height_init=240)
    rng = random.Random(1)

    async def testbench(ctx):
        inputs = {"cycles": rng.getrandbits(32), "queries": rng.getrandbits(32),
                  "pixels": rng.getrandbits(32), "error_code": 0xA5}
        for name, value in inputs.items():
            ctx.set(getattr(dut, name), value)
        for busy, done, error in ((1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 1)):
            ctx.set(dut.busy, busy)
            ctx.set(dut.done, done)
            ctx.set(dut.error, error)
            assert await axil_read(ctx, dut.s_axil, A["STATUS"]) == \
                (busy | done << 1 | error << 2 | 0xA5 << 8, RESP_OKAY)
        expected = {
            "ID": ID_VALUE,
            "HWINFO": 8 | 4 << 8 | 1 << 16 | 0 << 17 | 3 << 20 | 2 << 24,
            "PATCH": 2,
            "CYCLES": inputs["cycles"],
            "QUERIES": inputs["queries"],
            "PIXELS": inputs["pixels"],
            "MAX_WIDTH": 640,
            "MAX_HEIGHT": 480,
            "BATCH": 16,
            "LAYERS": 5 | 48 << 8 | 2 << 24,
        }
        for name, value in expected.items():
            assert await axil_read(ctx, dut.s_axil, A[name]) == (value, RESP_OKAY), name
            # A write to a read-only register is acknowledged and changes nothing.
            assert await axil_write(ctx, dut.s_axil, A[name], ~value & 0xFFFFFFFF) == RESP_OKAY
            assert await axil_read(ctx, dut.s_axil, A[name]) == (value, RESP_OKAY), name
        # The two low address bits select nothing: registers are words.
        assert await axil_read(ctx, dut.s_axil, A["ID"] + 3) == (ID_VALUE, RESP_OKAY)

    _simulate(dut, testbench)


def test_reset_values():
    dut = ControlRegisters(config=_config("fp32"), width_init=64, height_init=32)

    async def testbench(ctx):
        assert (ctx.get(dut.width), ctx.get(dut.height)) == (64, 32)
        assert (ctx.get(dut.mode), ctx.get(dut.precision)) == (0, 1)
        assert await axil_read(ctx, dut.s_axil, A["WIDTH"]) == (64, RESP_OKAY)
        assert await axil_read(ctx, dut.s_axil, A["HEIGHT"]) == (32, RESP_OKAY)
        assert await axil_read(ctx, dut.s_axil, A["CTRL"]) == (0b100, RESP_OKAY)
        hwinfo, _ = await axil_read(ctx, dut.s_axil, A["HWINFO"])
        assert (hwinfo >> 16) & 0b11 == 0b10        # FP32 only

    _simulate(dut, testbench)


@pytest.mark.parametrize("precision", ["int8", "fp32", "dual"])
def test_ctrl_mode_and_precision(precision):
    """PRECISION is writable in every build (the core rejects a missing datapath)."""
    dut = ControlRegisters(config=_config(precision), width_init=2, height_init=2)

    async def testbench(ctx):
        for value in (0b0110, 0b0010, 0b0100, 0b0000):
            assert await axil_write(ctx, dut.s_axil, A["CTRL"], value) == RESP_OKAY
            mode, prec = value >> 1 & 1, value >> 2 & 1
            assert (ctx.get(dut.mode), ctx.get(dut.precision)) == (mode, prec)
            assert await axil_read(ctx, dut.s_axil, A["CTRL"]) == \
                (mode << 1 | prec << 2, RESP_OKAY)
        hwinfo, _ = await axil_read(ctx, dut.s_axil, A["HWINFO"])
        assert (hwinfo >> 16) & 0b11 == {"int8": 0b01, "fp32": 0b10, "dual": 0b11}[precision]

    _simulate(dut, testbench)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["WIDTH", "HEIGHT", "CTRL", "CLIP_FRAMES",
                                           "FIRST_FRAME", "FRAME_COUNT"]),
                          st.integers(0, 2 ** 32 - 1), st.integers(0, 15),
                          st.integers(0, 3), st.integers(0, 3)),
                min_size=1, max_size=12))
def test_writes_honour_wstrb_in_any_order(writes):
    """Random writes with random strobes, AW and W each delayed 0..3 cycles (so in either
    order or together): every register and output follows a byte-wise model."""
    dut = ControlRegisters(config=_config("dual"), width_init=320, height_init=240)
    pulses = []

    async def testbench(ctx):
        model = {"WIDTH": 320, "HEIGHT": 240, "CTRL": 0, "CLIP_FRAMES": 1, "FIRST_FRAME": 0,
                 "FRAME_COUNT": 1}
        masks = {"WIDTH": 0xFFFF, "HEIGHT": 0xFFFF, "CTRL": 0b0110, "CLIP_FRAMES": 0xFFFF,
                 "FIRST_FRAME": 0xFFFF, "FRAME_COUNT": 0xFFFF}
        expected_pulses = []
        for name, data, strb, aw_delay, w_delay in writes:
            bytemask = sum(0xFF << 8 * i for i in range(4) if strb >> i & 1)
            model[name] = (model[name] & ~bytemask | data & bytemask) & masks[name]
            if name == "CTRL" and strb & 1:
                expected_pulses += [p for bit, p in ((0, "start"), (3, "clear"))
                                    if data >> bit & 1]
            assert await axil_write(ctx, dut.s_axil, A[name], data, strb=strb,
                                    aw_delay=aw_delay, w_delay=w_delay) == RESP_OKAY
            for reg, value in model.items():
                assert await axil_read(ctx, dut.s_axil, A[reg]) == (value, RESP_OKAY)
            assert ctx.get(dut.width) == model["WIDTH"]
            assert ctx.get(dut.height) == model["HEIGHT"]
            assert ctx.get(dut.mode) == model["CTRL"] >> 1 & 1
            assert ctx.get(dut.precision) == model["CTRL"] >> 2 & 1
            assert (ctx.get(dut.clip_frames), ctx.get(dut.first_frame),
                    ctx.get(dut.frame_count)) == (model["CLIP_FRAMES"], model["FIRST_FRAME"],
                                                  model["FRAME_COUNT"])
        assert [name for _, name in pulses] == expected_pulses

    _simulate(dut, testbench, _pulse_monitor(dut, pulses))


@pytest.mark.parametrize("aw_delay, w_delay", [(0, 0), (0, 3), (3, 0)])
def test_start_and_clear_pulse_once(aw_delay, w_delay):
    """START and CLEAR are single-cycle pulses in the cycle B becomes valid, with MODE
    already showing the written value; nothing else pulses them."""
    dut = ControlRegisters(config=_config(), width_init=2, height_init=2)
    pulses = []

    async def testbench(ctx):
        bus = dut.s_axil
        # Drive the write by hand to see the cycle B rises in.
        ctx.set(bus.awaddr, A["CTRL"])
        ctx.set(bus.wdata, 0b1011)          # START, MODE, CLEAR
        ctx.set(bus.wstrb, 0b0001)
        cycle = 0
        aw_done = w_done = False
        while True:
            ctx.set(bus.awvalid, not aw_done and cycle >= aw_delay)
            ctx.set(bus.wvalid, not w_done and cycle >= w_delay)
            if ctx.get(bus.bvalid):
                break
            assert not ctx.get(dut.start) and not ctx.get(dut.clear)
            *_, awvalid, awready, wvalid, wready = await ctx.tick().sample(
                bus.awvalid, bus.awready, bus.wvalid, bus.wready)
            # After its handshake a channel's payload is don't-care: scramble it, so that
            # the block must have kept its own copy.
            if awvalid and awready:
                aw_done = True
                ctx.set(bus.awaddr, 0xFFC)
            if wvalid and wready:
                w_done = True
                ctx.set(bus.wdata, 0)
                ctx.set(bus.wstrb, 0)
            cycle += 1
        assert aw_done and w_done
        assert ctx.get(bus.bresp) == RESP_OKAY
        assert ctx.get(dut.start) and ctx.get(dut.clear) and ctx.get(dut.mode)
        # Hold B a few cycles: the pulses must not repeat, nor a new write be accepted.
        ctx.set(bus.awvalid, 1)
        ctx.set(bus.wvalid, 1)
        for _ in range(3):
            await ctx.tick()
            assert ctx.get(bus.bvalid)
            assert not ctx.get(bus.awready) and not ctx.get(bus.wready)
            assert not ctx.get(dut.start) and not ctx.get(dut.clear)
        ctx.set(bus.awvalid, 0)
        ctx.set(bus.wvalid, 0)
        ctx.set(bus.bready, 1)
        await ctx.tick()
        ctx.set(bus.bready, 0)
        assert not ctx.get(bus.bvalid)
        # No pulse: START/CLEAR clear, byte 0 not strobed, another register.
        assert await axil_write(ctx, dut.s_axil, A["CTRL"], 0b0010) == RESP_OKAY
        assert await axil_write(ctx, dut.s_axil, A["CTRL"], 0b1001, strb=0b1110) == RESP_OKAY
        assert await axil_write(ctx, dut.s_axil, A["WIDTH"], 0b1001) == RESP_OKAY
        assert await axil_read(ctx, dut.s_axil, A["CTRL"]) == (0b0010, RESP_OKAY)
        assert await axil_write(ctx, dut.s_axil, A["CTRL"], 0b0001) == RESP_OKAY
        await ctx.tick().repeat(2)
        # One START+CLEAR pulse from the first write, one START from the last.
        (c0, a), (c1, b), (c2, c) = pulses
        assert c0 == c1 and {a, b} == {"start", "clear"} and c == "start" and c2 > c0 + 1

    _simulate(dut, testbench, _pulse_monitor(dut, pulses))


def test_unmapped_addresses_answer_slverr():
    dut = ControlRegisters(config=_config(), width_init=2, height_init=2)
    rng = random.Random(2)
    top = max(r.offset for r in REGISTERS.values())
    unmapped = [top + 4, top + 8, 0xFFC] + rng.sample(range(top + 4, 0x1000, 4), 8)

    async def testbench(ctx):
        for addr in unmapped:
            assert await axil_read(ctx, dut.s_axil, A["ID"]) == (ID_VALUE, RESP_OKAY)
            assert await axil_read(ctx, dut.s_axil, addr) == (0, RESP_SLVERR)
            assert await axil_write(ctx, dut.s_axil, addr, 0xFFFFFFFF,
                                    aw_delay=rng.randint(0, 2),
                                    w_delay=rng.randint(0, 2)) == RESP_SLVERR
        # Nothing changed, and the bus still works.
        assert await axil_read(ctx, dut.s_axil, A["WIDTH"]) == (2, RESP_OKAY)
        assert await axil_read(ctx, dut.s_axil, A["CTRL"]) == (0, RESP_OKAY)

    _simulate(dut, testbench)


def test_read_holds_until_accepted():
    dut = ControlRegisters(config=_config(), width_init=2, height_init=2)

    async def testbench(ctx):
        bus = dut.s_axil
        ctx.set(bus.araddr, A["ID"])
        ctx.set(bus.arvalid, 1)
        await ctx.tick().until(bus.arready)
        ctx.set(bus.araddr, A["PATCH"])     # a second read waits for the first's R
        for _ in range(3):
            await ctx.tick()
            assert ctx.get(bus.rvalid) and not ctx.get(bus.arready)
            assert ctx.get(bus.rdata) == ID_VALUE
        ctx.set(bus.rready, 1)
        await ctx.tick()
        ctx.set(bus.rready, 0)
        await ctx.tick().until(bus.arready)
        ctx.set(bus.arvalid, 0)
        await ctx.tick()
        assert ctx.get(bus.rvalid) and ctx.get(bus.rdata) == 2

    _simulate(dut, testbench)


def test_register_map_markdown():
    text = register_map_markdown()
    rows = [line for line in text.splitlines() if line.startswith("| 0x")]
    assert len(rows) == len(REGISTERS)
    for row, reg in zip(rows, REGISTERS.values()):
        assert row.startswith(f"| 0x{reg.offset:02X} | {reg.name} | {reg.access} |")
        assert all(f.name in row for f in reg.fields)


def test_register_table_is_consistent():
    offsets = [r.offset for r in REGISTERS.values()]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    assert offsets == list(range(0, 4 * len(offsets), 4))     # a dense map from 0


@pytest.mark.parametrize("kw, message", [
    ({"width_init": 3, "height_init": 2}, "initial frame width must be a positive multiple"),
    ({"width_init": 2, "height_init": 0}, "initial frame height"),
    ({"width_init": 642, "height_init": 2}, "up to 640"),
    ({"width_init": 2.0, "height_init": 2}, "not 2.0"),
])
def test_rejects_bad_initial_frame(kw, message):
    with pytest.raises(ValueError, match=message):
        ControlRegisters(config=_config(), **kw)


def test_rejects_what_is_not_a_configuration():
    with pytest.raises(TypeError, match="config must be an AccelConfig"):
        ControlRegisters(config=None, width_init=1, height_init=1)
