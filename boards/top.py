"""Board top level: the accelerator core with a button to start it, LEDs and a UART."""

from amaranth.hdl import Cat, ClockDomain, Module, Signal
from amaranth.lib import io, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out
from amaranth.vendor import LatticeECP5Platform

from accel.gateware.axi import AXI4LiteSignature, AXIStreamSignature
from accel.gateware.int8.pumped import FAST_DOMAIN
from model.support.validate import positive_int

from .clocking import ACCEL_FREQ, AcceleratorClock
from .uart import PixelSerializer, UARTTransmitter, baud_divider

__all__ = ["DEBOUNCE_CYCLES", "HEARTBEAT_CYCLES", "BoardTop"]

#: Cycles the centre button must hold a new level before it counts: 5 ms at 200 MHz, longer
#: than a push button's contact bounce.
DEBOUNCE_CYCLES = 1_000_000

#: Cycles per half period of the heartbeat LED: 1 Hz at 200 MHz.
HEARTBEAT_CYCLES = 100_000_000


def _check_core(core, channels, pixels_per_beat):
    if not isinstance(core, wiring.Component):
        raise TypeError(f"core must be a wiring.Component, not {core!r}")
    members = core.signature.members
    # Members the board relies on: (flow, expected source-view signature, or None for 1 bit).
    expected = {
        "start":        (In,  None),
        "busy":         (Out, None),
        "done":         (Out, None),
        "error":        (Out, None),
        "m_axis_pix":   (Out, AXIStreamSignature(8 * channels * pixels_per_beat,
                                                 user_width=1)),
        "s_axil":       (In,  AXI4LiteSignature),
        "s_axis_wgt":   (In,  AXIStreamSignature(32)),
        "s_axis_coord": (In,  AXIStreamSignature),      # 32 bits, or 64 in a video build
    }
    for name, (flow, want) in expected.items():
        if name not in members or members[name].flow != flow:
            raise TypeError(f"core has no {flow.name} member {name!r}")
        member = members[name]
        if want is None:
            ok = member.is_port and member.shape == 1
        else:
            # An In member's signature reads flipped; compare its source view.
            sig = None if member.is_port else (
                member.signature if flow is Out else member.signature.flip())
            ok = isinstance(sig, want) if isinstance(want, type) else sig == want
        if not ok:
            shape = "1 bit" if want is None else (
                f"an {want.__name__}" if isinstance(want, type) else repr(want))
            raise TypeError(f"core member {name!r} must be {flow.name}({shape})")


class BoardTop(wiring.Component):
    """The accelerator core on a board: press the centre button, get a frame on the UART.

    Defines the 200 MHz ``sync`` domain, driven by :class:`~boards.clocking.AcceleratorClock`,
    and runs everything in it. The centre button is synchronised and debounced; its press (the
    debounced level rising) starts one frame, unless the core is busy. The core's pixels
    go out through :class:`~boards.uart.PixelSerializer` and
    :class:`~boards.uart.UARTTransmitter` (wire format in :mod:`boards.uart`); the UART is
    slower than the core, so the pixel stream waits on it. The core's AXI4-Lite register
    port and its weight and coordinate streams are left idle: the board runs the core with
    the registers and weights it has after reset.

    The ports are the board's signals. Built on a platform (a
    :class:`~boards.vcu118.VCU118Platform` or a :mod:`~boards.ulx3s` board), the design
    wires them to the pins itself: ``default_clk`` (the MMCM or PLL input, its frequency
    from the resource), the platform's ``reset_button`` and ``start_button`` (the
    VCU118's CPU reset and centre button, the ULX3S's PWR and FIRE 1), ``uart`` 0 (only
    ``tx``; no flow control) and ``led`` 0..3.
    In simulation (no platform) a testbench plays the board: it drives ``reset`` and
    ``button``, adds the ``sync`` clock (``sim.add_clock(5e-9)``), and watches ``tx`` and
    ``led``.

    Parameters
    ----------
    core : wiring.Component
        The accelerator core, clocked by ``sync``. Ports: ``start: In(1)`` (a one-cycle pulse
        starts a frame with the current registers), ``busy``, ``done``, ``error: Out(1)``,
        ``m_axis_pix: Out(AXIStreamSignature(8 * channels * pixels_per_beat,
        user_width=1))``,
        ``s_axil: In(AXI4LiteSignature(...))``, ``s_axis_wgt: In(AXIStreamSignature(32))``
        and ``s_axis_coord: In(AXIStreamSignature(...))`` (32 bits; 64 in a video build).
    channels : int
        Bytes per pixel of ``m_axis_pix``.
    pixels_per_beat : int
        Pixels per ``m_axis_pix`` beat (default 1); the UART sends them one after the
        other, so the byte stream is the same for every width.
    dsp_clock : {1, 2}
        2: the core's DSP48E2s take the fast domain at twice ``clock_hz``, which the
        MMCM makes beside ``sync`` (:class:`~boards.clocking.AcceleratorClock`; in
        simulation the testbench adds its clock).
    baud : float
        UART bit rate.
    debounce_cycles : int, optional
        Cycles the button must hold a new level before it counts (default 5 ms at
        ``clock_hz``: :data:`DEBOUNCE_CYCLES` at 200 MHz).
    heartbeat_cycles : int, optional
        Cycles per half period of the heartbeat LED (default 0.5 s at ``clock_hz``:
        :data:`HEARTBEAT_CYCLES` at 200 MHz).
    clock_hz : float
        The accelerator clock the MMCM makes and the XDC constrains (default
        :data:`accel.config.CLOCK_HZ`); the UART divides it down to ``baud``.

    Attributes
    ----------
    reset : In(1)
        Asynchronous reset, active high (CPU reset button). Resets the MMCM and, through
        the reset synchroniser, the whole ``sync`` domain.
    button : In(1)
        Centre button, active high, asynchronous. The core's ``start`` pulse is high
        ``2 + debounce_cycles`` cycles after a press: two synchroniser stages, then the new
        level must hold for ``debounce_cycles``.
    tx : Out(1)
        UART line, 8N1 at ``baud``, idle high.
    led : Out(4)
        0: core busy. 1: a frame has completed since the last start (``done`` seen).
        2: the core raised ``error`` since the last start. 3: heartbeat, toggling every
        ``heartbeat_cycles``, which shows the MMCM's clock running. 1 and 2 hold so that
        one-cycle pulses of the core stay visible.
    """

    reset: In(1)
    button: In(1)
    tx: Out(1)
    led: Out(4)

    def __init__(self, *, core, channels, pixels_per_beat=1, baud=115200,
                 debounce_cycles=None, heartbeat_cycles=None, clock_hz=ACCEL_FREQ,
                 dsp_clock=1):
        scale = float(clock_hz) / ACCEL_FREQ if isinstance(clock_hz, (int, float)) else 1
        if debounce_cycles is None:
            debounce_cycles = max(1, round(DEBOUNCE_CYCLES * scale))
        if heartbeat_cycles is None:
            heartbeat_cycles = max(1, round(HEARTBEAT_CYCLES * scale))
        for name, v in (("channels", channels), ("pixels per beat", pixels_per_beat),
                        ("debounce cycles", debounce_cycles),
                        ("heartbeat cycles", heartbeat_cycles)):
            positive_int(name, v)
        _check_core(core, channels, pixels_per_beat)
        self._core = core
        self._channels = channels
        self._pixels_per_beat = pixels_per_beat
        if dsp_clock not in (1, 2):
            raise ValueError(f"DSP clock must be 1 or 2, not {dsp_clock!r}")
        self._dsp_clock = dsp_clock
        self._clock_hz = float(clock_hz)
        baud_divider(clk_freq=self._clock_hz, baud=baud)   # a bad rate fails here

        self._baud = baud
        self._debounce_cycles = debounce_cycles
        self._heartbeat_cycles = heartbeat_cycles
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        # The domain is defined here, where the core and the board logic use it, and driven
        # by AcceleratorClock.
        m.domains.sync = ClockDomain("sync")
        if self._dsp_clock == 2:
            m.domains += ClockDomain(FAST_DOMAIN, reset_less=True)

        if platform is None:
            # The simulation model of the MMCM takes its clock from the testbench.
            m.submodules.clocking = clocking = AcceleratorClock(freq=self._clock_hz)
        else:
            family = "ecp5" if isinstance(platform, LatticeECP5Platform) else "xcup"
            m.submodules.clocking = clocking = AcceleratorClock(
                in_freq=platform.default_clk_frequency, freq=self._clock_hz, family=family,
                dsp_clock=self._dsp_clock)
            m.d.comb += clocking.clk_in.eq(self._connect_pins(m, platform))
        m.d.comb += clocking.rst_in.eq(self.reset)

        m.submodules.core = core = self._core
        m.submodules.serializer = serializer = PixelSerializer(
            channels=self._channels, pixels_per_beat=self._pixels_per_beat)
        m.submodules.uart = uart = UARTTransmitter(clk_freq=self._clock_hz, baud=self._baud)
        wiring.connect(m, core.m_axis_pix, serializer.s_axis)
        wiring.connect(m, serializer.o, uart.i)
        m.d.comb += self.tx.eq(uart.tx)

        # Nothing drives the core's configuration ports on this board: hold them idle so
        # that the core sees no transaction.
        m.d.comb += [
            core.s_axil.awvalid.eq(0),
            core.s_axil.wvalid.eq(0),
            core.s_axil.bready.eq(0),
            core.s_axil.arvalid.eq(0),
            core.s_axil.rready.eq(0),
            core.s_axis_wgt.tvalid.eq(0),
            core.s_axis_coord.tvalid.eq(0),
        ]

        # Centre button: synchronise, then accept a new level only after it has held for
        # debounce_cycles, so that contact bounce makes one press, not several.
        button = Signal()
        m.submodules.button_sync = FFSynchronizer(self.button, button)
        pressed = Signal()
        bounce = Signal(range(self._debounce_cycles))
        start = Signal()
        m.d.sync += start.eq(0)
        with m.If(button == pressed):
            m.d.sync += bounce.eq(0)
        with m.Elif(bounce == self._debounce_cycles - 1):
            m.d.sync += [bounce.eq(0), pressed.eq(button)]
            # A press while a frame runs is dropped rather than queued.
            m.d.sync += start.eq(button & ~core.busy)
        with m.Else():
            m.d.sync += bounce.eq(bounce + 1)
        m.d.comb += core.start.eq(start)

        done_seen = Signal()
        error_seen = Signal()
        with m.If(start):
            m.d.sync += [done_seen.eq(0), error_seen.eq(0)]
        with m.Else():
            with m.If(core.done):
                m.d.sync += done_seen.eq(1)
            with m.If(core.error):
                m.d.sync += error_seen.eq(1)

        heartbeat = Signal()
        beat = Signal(range(self._heartbeat_cycles))
        with m.If(beat == self._heartbeat_cycles - 1):
            m.d.sync += [beat.eq(0), heartbeat.eq(~heartbeat)]
        with m.Else():
            m.d.sync += beat.eq(beat + 1)

        m.d.comb += self.led.eq(Cat(core.busy, done_seen, error_seen, heartbeat))
        return m

    def _connect_pins(self, m, platform):
        """Add buffers between the board's pins and this component's ports; return the
        oscillator's signal."""
        m.submodules.clk_buf = clk_buf = io.Buffer(
            "i", platform.request(platform.default_clk, dir="-"))
        m.submodules.reset_buf = reset_buf = io.Buffer(
            "i", platform.request(*platform.reset_button, dir="-"))
        m.submodules.button_buf = button_buf = io.Buffer(
            "i", platform.request(*platform.start_button, dir="-"))
        m.submodules.tx_buf = tx_buf = io.Buffer(
            "o", platform.request("uart", 0, dir="-").tx)
        m.d.comb += [
            self.reset.eq(reset_buf.i),
            self.button.eq(button_buf.i),
            tx_buf.o.eq(self.tx),
        ]
        for index in range(len(self.led)):
            m.submodules[f"led_buf{index}"] = led_buf = io.Buffer(
                "o", platform.request("led", index, dir="-"))
            m.d.comb += led_buf.o.eq(self.led[index])
        return clk_buf.i
