"""Frames out over a UART: an 8N1 transmitter and the pixel-to-byte serializer that feeds it.

Wire format of one frame, as the host reads it from the serial port::

    "P" "I" "N" "R"                 (0x50 0x49 0x4E 0x52, once per frame)
    c0 c1 .. c(C-1)                 pixel (0, 0): one byte per channel, channel 0 first
    c0 c1 .. c(C-1)                 pixel (1, 0)
    ...                             raster order: left to right, then top to bottom

The header is sent before the beat that carries ``tuser[0]`` (the frame's first pixel);
nothing else frames the data. The host knows the frame's width, height and channel count
(it asked for them), reads ``width * height * channels`` bytes after "PINR", and uses the
header to find the start of a frame (pixel data can contain the same four bytes, so the
header marks a start only where a frame is expected).
"""

from amaranth.hdl import Array, C, Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accel.gateware.axi import AXIStreamSignature
from model.support.validate import positive_int

__all__ = ["FRAME_HEADER", "baud_divider", "UARTTransmitter", "PixelSerializer"]

#: Bytes sent before each frame: ASCII "PINR".
FRAME_HEADER = b"PINR"

# Largest baud-rate error the far end tolerates: an 8N1 receiver samples the stop bit 9.5
# bit periods after the start edge, so 2 % between both ends' clocks costs 0.19 bit.
_MAX_BAUD_ERROR = 0.02


def baud_divider(*, clk_freq, baud):
    """Clock cycles per bit, ``round(clk_freq / baud)``.

    Raises
    ------
    ValueError
        If a rate is not positive, the divider is below 2, or the rate it gives is 2 % or
        more away from ``baud``.
    """
    for name, v in (("clock frequency", clk_freq), ("baud rate", baud)):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not v > 0:
            raise ValueError(f"{name} must be a positive number, not {v!r}")
    divider = round(clk_freq / baud)
    if divider < 2:
        raise ValueError(f"baud rate {baud:g} is too fast for a {clk_freq / 1e6:g} MHz clock: "
                         f"a bit must last at least 2 cycles, not {clk_freq / baud:.3g}")
    error = abs(clk_freq / divider - baud) / baud
    if error >= _MAX_BAUD_ERROR:
        raise ValueError(f"baud rate {baud:g} is {error:.1%} off with a {clk_freq / 1e6:g} MHz "
                         f"clock (divider {divider}); it must be within 2%")
    return divider


class UARTTransmitter(wiring.Component):
    """8N1 serial transmitter: start bit, 8 data bits LSB first, one stop bit, no parity.

    Each bit lasts ``divider = round(clk_freq / baud)`` cycles. Back-to-back bytes follow
    each other with no idle time: the next start bit begins as the stop bit ends.

    Parameters
    ----------
    clk_freq : float
        Frequency of the ``sync`` domain, in Hz.
    baud : float
        Bit rate, in bits per second. ``clk_freq / baud`` must be at least 2, and rounding
        it to an integer divider must leave the rate within 2 % of ``baud``
        (:func:`baud_divider`).

    Attributes
    ----------
    i : In(stream.Signature(8))
        Bytes to send. ``ready`` is high while the line is idle and in the last cycle of a
        stop bit; it never depends on ``valid``.
    tx : Out(1), init 1
        Serial line, idle high; registered. A start bit begins on the cycle after the byte
        transfers on ``i``.
    """

    def __init__(self, *, clk_freq, baud):
        self._divider = baud_divider(clk_freq=clk_freq, baud=baud)
        self._baud = clk_freq / self._divider
        super().__init__({
            "i":  In(stream.Signature(8)),
            "tx": Out(1, init=1),
        })

    @property
    def divider(self):
        """Clock cycles per bit."""
        return self._divider

    @property
    def actual_baud(self):
        """Bit rate the line runs at, ``clk_freq / divider``."""
        return self._baud

    def elaborate(self, platform):
        m = Module()

        # ``shreg`` holds the bits still to go after the one on the line; ones shift in
        # behind the stop bit so that the line rests high when ``remaining`` reaches 0.
        shreg = Signal(9)
        remaining = Signal(range(11))        # bits on the line or still to go
        timer = Signal(range(self._divider))  # cycles left of the current bit, minus one
        bit_done = timer == 0

        m.d.comb += self.i.ready.eq((remaining == 0) | ((remaining == 1) & bit_done))
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [
                self.tx.eq(0),
                shreg.eq(Cat(self.i.payload, C(1, 1))),
                remaining.eq(10),
                timer.eq(self._divider - 1),
            ]
        with m.Elif(remaining != 0):
            with m.If(bit_done):
                m.d.sync += [
                    self.tx.eq(shreg[0]),
                    shreg.eq(Cat(shreg[1:], C(1, 1))),
                    remaining.eq(remaining - 1),
                    timer.eq(self._divider - 1),
                ]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)

        return m


class PixelSerializer(wiring.Component):
    """Turns an AXI4-Stream of pixels into a stream of bytes, with a header per frame.

    See the module docstring for the byte order. The serializer stores no pixels: a beat
    stays on ``s_axis`` (AXI4-Stream keeps ``tdata`` until the transfer) while its bytes
    go out, and ``tready`` rises with the ``ready`` of the last byte, so the pixel stream
    advances exactly as fast as the consumer takes bytes, and back-pressure reaches the
    pixel source within the same cycle.

    Parameters
    ----------
    channels : int
        Bytes per pixel.
    pixels_per_beat : int
        Pixels per ``s_axis`` beat (default 1).

    Attributes
    ----------
    s_axis : In(AXIStreamSignature(8 * channels * pixels_per_beat, user_width=1))
        Beats of pixels, pixel ``p`` in bits ``[8*channels*(p+1)-1:8*channels*p]`` and its
        channel ``c`` in the pixel's bits ``[8c+7:8c]``: the bytes go out from the lowest.
        ``tuser[0]`` marks the beat holding the first pixel of a frame; ``tlast`` (end of a
        line) is not needed by the byte stream and is ignored. ``tready`` is combinational
        from ``o.ready``.
    o : Out(stream.Signature(8))
        Bytes, zero latency: ``valid`` follows ``s_axis.tvalid`` in the same cycle and
        never depends on ``ready``; ``payload`` holds until transferred.
    """

    def __init__(self, *, channels, pixels_per_beat=1):
        positive_int("channels", channels)
        positive_int("pixels per beat", pixels_per_beat)
        self._channels = channels
        self._bytes = channels * pixels_per_beat        # bytes per beat
        super().__init__({
            "s_axis": In(AXIStreamSignature(8 * self._bytes, user_width=1)),
            "o":      Out(stream.Signature(8)),
        })

    @property
    def channels(self):
        """Bytes per pixel."""
        return self._channels

    def elaborate(self, platform):
        m = Module()

        pixel = data.View(data.ArrayLayout(8, self._bytes), self.s_axis.tdata)
        header = Array(C(byte, 8) for byte in FRAME_HEADER)
        header_index = Signal(range(len(FRAME_HEADER)))
        header_sent = Signal()  # the header of the beat now on s_axis has gone out
        channel = Signal(range(self._bytes))            # byte of the beat
        last_channel = channel == self._bytes - 1
        in_header = self.s_axis.tuser[0] & ~header_sent

        m.d.comb += [
            self.o.valid.eq(self.s_axis.tvalid),
            self.o.payload.eq(Mux(in_header, header[header_index], pixel[channel])),
            self.s_axis.tready.eq(self.o.ready & ~in_header & last_channel),
        ]
        with m.If(self.o.valid & self.o.ready):
            with m.If(in_header):
                m.d.sync += header_index.eq(header_index + 1)
                with m.If(header_index == len(FRAME_HEADER) - 1):
                    m.d.sync += [header_index.eq(0), header_sent.eq(1)]
            with m.Elif(last_channel):
                m.d.sync += [channel.eq(0), header_sent.eq(0)]
            with m.Else():
                m.d.sync += channel.eq(channel + 1)

        return m
