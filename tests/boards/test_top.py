# amaranth: UnusedElaboratable=no
import pytest
from amaranth.hdl import Array, C, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from accel.gateware.axi import AXI4LiteSignature, AXIStreamSignature
from boards.clocking import ACCEL_FREQ
from boards.top import BoardTop
from boards.uart import FRAME_HEADER

from .test_uart import ticks, uart_receive


class FrameCore(wiring.Component):
    """Test double of the accelerator core: a start pulse streams one fixed frame.

    ``pixels`` are the frame's pixels in raster order, each a tuple of channel bytes, and
    ``width`` its line length. ``start`` while busy is ignored. ``done`` pulses for one
    cycle after the last beat; ``error`` stays low. ``axi_seen`` latches any activity on the
    AXI ports the board must keep idle.
    """

    def __init__(self, *, width, pixels):
        self.width = width
        self.pixels = pixels
        self.channels = len(pixels[0])
        self.axi_seen = Signal()
        super().__init__({
            "start":        In(1),
            "busy":         Out(1),
            "done":         Out(1),
            "error":        Out(1),
            "m_axis_pix":   Out(AXIStreamSignature(8 * self.channels, user_width=1)),
            "s_axil":       In(AXI4LiteSignature()),
            "s_axis_wgt":   In(AXIStreamSignature(32)),
            "s_axis_coord": In(AXIStreamSignature(32)),
        })

    def elaborate(self, platform):
        m = Module()
        words = Array(C(sum(b << 8 * c for c, b in enumerate(p)), 8 * self.channels)
                      for p in self.pixels)
        index = Signal(range(len(self.pixels)))
        beat = self.m_axis_pix
        m.d.comb += [
            beat.tvalid.eq(self.busy),
            beat.tdata.eq(words[index]),
            beat.tuser[0].eq(index == 0),
            beat.tlast.eq(index % self.width == self.width - 1),
        ]
        m.d.sync += self.done.eq(0)
        with m.If(~self.busy & self.start):
            m.d.sync += [self.busy.eq(1), index.eq(0)]
        with m.If(beat.tvalid & beat.tready):
            m.d.sync += index.eq(index + 1)
            with m.If(index == len(self.pixels) - 1):
                m.d.sync += [self.busy.eq(0), self.done.eq(1)]
        s = self.s_axil
        with m.If(s.awvalid | s.wvalid | s.arvalid | s.bready | s.rready
                  | self.s_axis_wgt.tvalid | self.s_axis_coord.tvalid):
            m.d.sync += self.axi_seen.eq(1)
        return m


def tiny_core():
    # 3x2 frame, 3 channels; the first pixel holds the header's own bytes, which the
    # serializer must pass as data.
    pixels = [(0x50, 0x49, 0x4E), (0x01, 0x02, 0x03), (0xFF, 0x00, 0x80),
              (0x10, 0x20, 0x30), (0x7F, 0x55, 0xAA), (0x52, 0x0A, 0x0D)]
    return FrameCore(width=3, pixels=pixels)


def frame_bytes(core):
    return list(FRAME_HEADER) + [b for p in core.pixels for b in p]


DIVIDER = 4
BAUD = ACCEL_FREQ / DIVIDER
DEBOUNCE = 8
HEARTBEAT = 50


def make_top(core):
    return BoardTop(core=core, channels=core.channels, baud=BAUD, debounce_cycles=DEBOUNCE,
                    heartbeat_cycles=HEARTBEAT)


def simulate(dut, *testbenches):
    sim = Simulator(dut)
    sim.add_clock(1 / ACCEL_FREQ)
    for testbench in testbenches:
        sim.add_testbench(testbench)
    sim.run()


async def out_of_reset(ctx):
    """Wait for the ``sync`` reset (held 2 cycles by the reset synchroniser) to release."""
    while (await ctx.tick())[1]:
        pass


def test_button_press_sends_frame_and_leds_follow():
    core = tiny_core()
    dut = make_top(core)
    expected = frame_bytes(core)
    received = []

    async def board(ctx):
        await out_of_reset(ctx)
        assert ctx.get(dut.led) & 0b111 == 0
        # Bounces shorter than the debounce time do not start the core.
        for _ in range(3):
            ctx.set(dut.button, 1)
            await ticks(ctx, DEBOUNCE // 2)
            ctx.set(dut.button, 0)
            await ticks(ctx, 2)
        await ticks(ctx, 2 * DEBOUNCE)
        assert not ctx.get(dut.led[0])
        ctx.set(dut.button, 1)
        # 2 synchroniser stages, DEBOUNCE cycles of holding (the last one registers the
        # start pulse), 1 for the core to raise busy.
        for _ in range(2 + DEBOUNCE + 1):
            assert not ctx.get(dut.led[0])
            await ctx.tick()
        assert ctx.get(dut.led[0]) and not ctx.get(dut.led[1])
        ctx.set(dut.button, 0)
        await ctx.tick().until(dut.led[1])
        assert ctx.get(dut.led[:3]) == 0b010

    async def host(ctx):
        received.extend(await uart_receive(ctx, dut.tx, DIVIDER, len(expected) + 1,
                                           timeout=40 * DIVIDER))

    async def heartbeat(ctx):
        await out_of_reset(ctx)
        # Find a rising edge, then time the high half period.
        for level in (1, 0):
            cycles = 0
            while ctx.get(dut.led[3]) != level:
                await ctx.tick()
                cycles += 1
            if level == 0:
                assert cycles == HEARTBEAT

    simulate(dut, board, host, heartbeat)
    # One frame, and nothing after it.
    assert received == expected


def test_press_while_busy_is_dropped_and_axi_ports_idle():
    core = tiny_core()
    dut = make_top(core)
    expected = frame_bytes(core)
    received = []

    async def board(ctx):
        await out_of_reset(ctx)
        ctx.set(dut.button, 1)
        await ctx.tick().until(dut.led[0])
        # Release and press again while the frame is still going out.
        ctx.set(dut.button, 0)
        await ticks(ctx, 2 * DEBOUNCE)
        ctx.set(dut.button, 1)
        await ticks(ctx, 2 * DEBOUNCE)
        assert ctx.get(dut.led[0])
        await ctx.tick().until(dut.led[1])
        assert not ctx.get(core.axi_seen)

    async def host(ctx):
        received.extend(await uart_receive(ctx, dut.tx, DIVIDER, len(expected) + 1,
                                           timeout=40 * DIVIDER))

    simulate(dut, board, host)
    assert received == expected


def test_reset_holds_the_board():
    core = tiny_core()
    dut = make_top(core)

    async def board(ctx):
        ctx.set(dut.reset, 1)
        ctx.set(dut.button, 1)
        await ticks(ctx, 4 * DEBOUNCE)
        assert ctx.get(dut.led) == 0 and ctx.get(dut.tx) == 1
        ctx.set(dut.reset, 0)
        await out_of_reset(ctx)
        await ctx.tick().until(dut.led[0])

    simulate(dut, board)


def test_parameters_are_validated():
    core = tiny_core()
    with pytest.raises(ValueError, match=r"^channels must be a positive integer, not 0$"):
        BoardTop(core=core, channels=0)
    with pytest.raises(ValueError, match=r"^debounce cycles must be a positive integer, "
                                         r"not 0$"):
        BoardTop(core=core, channels=3, debounce_cycles=0)
    with pytest.raises(ValueError, match=r"^baud rate 1e\+09 is too fast"):
        BoardTop(core=core, channels=3, baud=1e9)
    with pytest.raises(TypeError, match=r"^core member 'm_axis_pix' must be "
                                        r"Out\(AXIStreamSignature\(32, user_width=1\)\)$"):
        BoardTop(core=core, channels=4)
    with pytest.raises(TypeError, match=r"^core must be a wiring.Component"):
        BoardTop(core=object(), channels=3)

    class NoStart(wiring.Component):
        busy: Out(1)

        def elaborate(self, platform):
            return Module()

    with pytest.raises(TypeError, match=r"^core has no In member 'start'$"):
        BoardTop(core=NoStart(), channels=3)
