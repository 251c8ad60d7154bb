# amaranth: UnusedElaboratable=no
import pytest
from amaranth.sim import Simulator

from accel.config import CLOCK_HZ
from boards.uart import FRAME_HEADER, PixelSerializer, UARTTransmitter
from tests.simutil import make_rng, stream_put


async def ticks(ctx, count):
    """``count`` clock edges. Unlike ``ctx.tick().repeat()``, does not raise ``DomainReset``,
    so it also serves while the domain is held in reset."""
    for _ in range(count):
        await ctx.tick()


async def uart_receive(ctx, tx, divider, count, *, timeout=None):
    """A UART receiver: decode up to ``count`` 8N1 bytes from ``tx``.

    Like a hardware receiver it finds the falling edge of the start bit, then samples the
    middle of each bit, ``divider`` cycles apart, and checks the start and stop bits. Stops
    early once ``tx`` has idled ``timeout`` cycles waiting for a start bit.
    """
    received = []
    idle = 0
    while len(received) < count and (timeout is None or idle < timeout):
        await ctx.tick()
        if ctx.get(tx):
            idle += 1
            continue
        idle = 0
        await ticks(ctx, divider // 2)
        assert ctx.get(tx) == 0, "start bit shorter than half a bit"
        byte = 0
        for bit in range(8):
            await ticks(ctx, divider)
            byte |= ctx.get(tx) << bit
        await ticks(ctx, divider)
        assert ctx.get(tx) == 1, f"framing error: no stop bit after byte {byte:#04x}"
        received.append(byte)
    return received


# UARTTransmitter -----------------------------------------------------------------------------

def test_divider_and_rate():
    uart = UARTTransmitter(clk_freq=CLOCK_HZ, baud=115200)
    assert uart.divider == 1736
    assert uart.actual_baud == pytest.approx(115207.4, abs=0.1)


@pytest.mark.parametrize("kwargs, message", [
    ({"clk_freq": 0, "baud": 9600}, r"^clock frequency must be a positive number, not 0$"),
    ({"clk_freq": 1e6, "baud": -1}, r"^baud rate must be a positive number, not -1$"),
    ({"clk_freq": 1e6, "baud": "fast"}, r"^baud rate must be a positive number, not 'fast'$"),
    ({"clk_freq": 1e6, "baud": 800e3},
     r"^baud rate 800000 is too fast for a 1 MHz clock: a bit must last at least "
     r"2 cycles, not 1.25$"),
    ({"clk_freq": 1e6, "baud": 230400},
     r"^baud rate 230400 is 8.5% off with a 1 MHz clock \(divider 4\); it must be "
     r"within 2%$"),
])
def test_parameters_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        UARTTransmitter(**kwargs)


def test_parameters_are_keyword_only():
    with pytest.raises(TypeError):
        UARTTransmitter(1e6, 9600)


@pytest.mark.parametrize("divider", [2, 3, 8])
def test_transmits_bytes_with_random_gaps(divider):
    rng = make_rng(divider)
    data = [rng.randrange(256) for _ in range(40)] + [0x00, 0xFF, 0x55, 0xAA]
    dut = UARTTransmitter(clk_freq=1e6 * divider, baud=1e6)
    received = []

    async def producer(ctx):
        for byte in data:
            if rng.random() < 0.4:
                await ticks(ctx, rng.randint(1, 4 * divider))
            await stream_put(ctx, dut.i, byte)

    async def receiver(ctx):
        received.extend(await uart_receive(ctx, dut.tx, divider, len(data)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(receiver)
    sim.run()
    assert received == data


def test_back_to_back_waveform():
    """Every bit lasts exactly ``divider`` cycles and bytes follow with no idle time."""
    divider = 3
    data = [0x00, 0xFF, 0xA5, 0x3C]
    dut = UARTTransmitter(clk_freq=3e6, baud=1e6)
    line = []

    async def producer(ctx):
        for byte in data:
            await stream_put(ctx, dut.i, byte)

    async def probe(ctx):
        # Returns one edge into the start bit: the line was already low before that edge.
        await ctx.tick().until(dut.tx == 0)
        line.append(0)
        for _ in range(10 * divider * len(data) + 2 * divider - 1):
            line.append(ctx.get(dut.tx))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(probe)
    sim.run()
    bits = [b for byte in data for b in [0, *((byte >> i) & 1 for i in range(8)), 1]]
    assert line == [b for b in bits for _ in range(divider)] + [1] * (2 * divider)


def test_ready_does_not_wait_for_valid():
    dut = UARTTransmitter(clk_freq=2e6, baud=1e6)

    async def tb(ctx):
        await ctx.tick()
        assert ctx.get(dut.i.ready) == 1
        assert ctx.get(dut.tx) == 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


# PixelSerializer -----------------------------------------------------------------------------

async def pixels_put(ctx, port, beats, *, rng, gap_prob):
    """Send AXI4-Stream pixel beats ``(tdata, tlast, tuser)``, with random gaps."""
    for data, last, user in beats:
        if rng.random() < gap_prob:
            ctx.set(port.tvalid, 0)
            await ticks(ctx, rng.randint(1, 3))
        ctx.set(port.tdata, data)
        ctx.set(port.tlast, last)
        ctx.set(port.tuser, user)
        ctx.set(port.tvalid, 1)
        await ctx.tick().until(port.tready)
    ctx.set(port.tvalid, 0)


def frames(rng, *, channels, width, height, count):
    """Random frames as AXI4-Stream beats, and the bytes the serializer must send for them."""
    beats, expected = [], []
    for _ in range(count):
        expected += FRAME_HEADER
        for y in range(height):
            for x in range(width):
                pixel = [rng.randrange(256) for _ in range(channels)]
                expected += pixel
                word = sum(b << 8 * c for c, b in enumerate(pixel))
                beats.append((word, int(x == width - 1), int(x == 0 and y == 0)))
    return beats, expected


def beats_of(pixels, k, channels):
    """Pixel beats grouped ``k`` to a beat, pixel 0 in the low bits (tuser of the first,
    tlast of the last)."""
    return [(sum(d << (8 * channels * p) for p, (d, _, _) in enumerate(pixels[i:i + k])),
             pixels[i + k - 1][1], pixels[i][2]) for i in range(0, len(pixels), k)]


# Several pixels per beat send the same bytes as one per beat: pixel 0's first.
@pytest.mark.parametrize("channels, k", [(1, 1), (3, 1), (4, 1), (3, 2), (1, 4)])
def test_serializer_order_header_and_back_pressure(channels, k):
    rng = make_rng(channels)
    pixels, expected = frames(rng, channels=channels, width=4, height=2, count=3)
    beats = beats_of(pixels, k, channels)
    dut = PixelSerializer(channels=channels, pixels_per_beat=k)
    assert len(dut.s_axis.tdata) == 8 * channels * k
    received = []

    async def source(ctx):
        await pixels_put(ctx, dut.s_axis, beats, rng=rng, gap_prob=0.3)

    async def sink(ctx):
        # Back-pressure like the UART: long and random stalls.
        while len(received) < len(expected):
            if rng.random() < 0.5:
                ctx.set(dut.o.ready, 0)
                await ticks(ctx, rng.randint(1, 6))
            ctx.set(dut.o.ready, 1)
            byte, = await ctx.tick().sample(dut.o.payload).until(dut.o.valid)
            received.append(int(byte))
        ctx.set(dut.o.ready, 0)

    async def monitor(ctx):
        # Stream rules on the byte output; the pixel stream moves only with a byte.
        held = None
        async for _, _, valid, ready, payload, tvalid, tready in ctx.tick().sample(
                dut.o.valid, dut.o.ready, dut.o.payload, dut.s_axis.tvalid,
                dut.s_axis.tready):
            if held is not None:
                assert valid and payload == held, "byte withdrawn or changed before transfer"
            held = payload if valid and not ready else None
            assert not (tvalid and tready) or (valid and ready)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.add_testbench(monitor, background=True)
    sim.run()
    assert received == expected


def test_serializer_without_frame_start_sends_no_header():
    dut = PixelSerializer(channels=2)
    received = []

    async def source(ctx):
        await pixels_put(ctx, dut.s_axis, [(0x0201, 0, 0), (0x0403, 1, 0)],
                         rng=make_rng(0), gap_prob=0)

    async def sink(ctx):
        ctx.set(dut.o.ready, 1)
        for _ in range(4):
            byte, = await ctx.tick().sample(dut.o.payload).until(dut.o.valid)
            received.append(int(byte))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    assert received == [1, 2, 3, 4]


def test_serializer_channels_are_validated():
    with pytest.raises(ValueError, match=r"^channels must be a positive integer, not 0$"):
        PixelSerializer(channels=0)
