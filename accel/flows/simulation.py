"""The core in Amaranth's simulator, behind the same :class:`~accel.host.transport.Transport`
as a board or the Verilator model, so :class:`~accel.host.driver.PatchINRDriver` drives it.

:class:`AmaranthTransport` owns a :class:`~accel.gateware.core.PatchINRCore` in a simulator
and runs the clock only while a command needs it (a register access, a stream sent, pixels
awaited), as the Verilator harness does: between commands the clock stands still, so
CYCLES counts the core alone. Pixels leaving ``m_axis_pix`` are queued for
:meth:`~AmaranthTransport.receive` whatever command runs, with random back-pressure if
asked; the input streams can have random gaps.

:func:`render` is the RTL tests' job runner on top of it: it writes registers directly
(through the register map, :data:`accel.host.registers.REGISTERS`) where a test needs what
the driver refuses to send (a bad frame size, a reset in the middle of a frame, several
jobs back to back).
"""

import collections
import random
import time

import numpy as np
from amaranth import ClockDomain, Elaboratable, Module
from amaranth.sim import Simulator

from model.support.errors import UserError

from ..config import CLOCK_HZ
from ..gateware.core import PatchINRCore
from ..gateware.int8.pumped import FAST_DOMAIN
from ..host.driver import Status
from ..host.registers import REGISTERS
from ..host.transport import (STREAMS, Transport, TransportTimeout, pack_beats, split_beat,
                              unpack_beats)
from ..host.weights import weight_stream
from .testbench import axil_read, axil_write, axis_put

__all__ = ["AmaranthTransport", "SimResult", "render", "add_clocks"]


def add_clocks(sim, *, dsp_clock=1, clock_hz=CLOCK_HZ):
    """The core's clocks in ``sim``: ``sync`` at ``clock_hz`` and, for a build whose DSPs
    run at ``dsp_clock = 2`` times it, :data:`~accel.gateware.int8.pumped.FAST_DOMAIN`,
    rising with every ``sync`` edge (as the board's MMCM makes them: synchronous and
    edge-aligned)."""
    sim.add_clock(1 / clock_hz, domain="sync")
    if dsp_clock == 2:
        # sync's first rising edge is at half its period: the fast clock's first there too.
        sim.add_clock(1 / (2 * clock_hz), phase=1 / (2 * clock_hz), domain=FAST_DOMAIN)


class _Harness(Elaboratable):
    # Owns the clock domains so the transport can pulse the core's reset.
    def __init__(self, core):
        self.core = core
        self.domain = ClockDomain("sync")

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.domain
        if self.core.config.dsp_clock == 2:
            m.domains += ClockDomain(FAST_DOMAIN, reset_less=True)
        m.submodules.core = self.core
        return m


class AmaranthTransport(Transport):
    """A :class:`~accel.gateware.core.PatchINRCore` of ``config`` in Amaranth's simulator.

    Parameters
    ----------
    config : AccelConfig
    images : dict, optional
        Weight-buffer contents at elaboration (:func:`accel.host.weights.memory_images`):
        a build made with ``--weights``. Without them the memories start at zero.
    width, height : int, optional
        WIDTH and HEIGHT reset values (default: the build's largest frame).
    stall : float
        Probability that ``m_axis_pix_tready`` drops (for 1..3 cycles) before a beat.
    gaps : float
        Probability of a gap (1..3 cycles) before each beat sent on an input stream.
    seed : int
        Seed of the back-pressure and gap patterns.
    max_cycles : int, optional
        Cycle budget of the whole session (:class:`TransportTimeout` past it).
    """

    def __init__(self, config, *, images=None, width=None, height=None, stall=0.0, gaps=0.0,
                 seed=0, max_cycles=None):
        for name, value in (("stall", stall), ("gaps", gaps)):
            if not 0.0 <= value < 1.0:
                raise UserError(f"{name} must be in [0, 1), not {value}")
        self.core = PatchINRCore(config=config, images=images, width=width, height=height)
        self._harness = _Harness(self.core)
        self._rng = random.Random(seed)
        self._stall, self._gaps, self._max_cycles = stall, gaps, max_cycles
        self._queue = collections.deque()
        self._command = None
        self.cycles = 0                 # clock cycles since the transport was opened
        self.hold_violations = 0
        self._sim = Simulator(self._harness)
        add_clocks(self._sim, dsp_clock=config.dsp_clock)
        self._sim.add_testbench(self._host)
        self._sim.add_testbench(self._sink, background=True)

    # -- testbenches: the host port and the pixel sink --------------------------------------

    async def _host(self, ctx):
        core = self.core
        while True:
            if self._command is None:
                await ctx.tick()
                continue
            kind, args = self._command
            if kind == "read":
                self._answer = await axil_read(ctx, core.s_axil, args)
            elif kind == "write":
                self._answer = await axil_write(ctx, core.s_axil, *args)
            elif kind == "send":
                port, beats = args
                await axis_put(ctx, port, beats, rng=self._rng, gap_prob=self._gaps)
            elif kind == "reset":
                # As a board's reset (and the Verilator harness) does: 16 cycles, then
                # whatever the aborted job had sent is dropped.
                ctx.set(self._harness.domain.rst, 1)
                for _ in range(16):         # (repeat() would raise DomainReset)
                    await ctx.tick()
                ctx.set(self._harness.domain.rst, 0)
                await ctx.tick()
                self._queue.clear()
            elif kind == "run":
                await ctx.tick().repeat(args)
            self._command = None

    async def _sink(self, ctx):
        port, stalled, offered = self.core.m_axis_pix, 0, None
        k = self.core.config.pixels_per_beat
        pixel_bits = self.core.config.pix_bits // k
        while True:
            if stalled == 0 and self._stall and self._rng.random() < self._stall:
                stalled = self._rng.randint(1, 3)
            ctx.set(port.tready, stalled == 0)
            _, _, valid, ready, data, last, user = await ctx.tick().sample(
                port.tvalid, port.tready, port.tdata, port.tlast, port.tuser)
            self.cycles += 1
            stalled = max(0, stalled - 1)
            beat = (int(data), bool(last), bool(user))
            # AXI4-Stream: a beat offered without tready stays offered, unchanged (between
            # resets: a reset abandons it).
            if ctx.get(self._harness.domain.rst):
                offered = None
            if offered is not None and (not valid or beat != offered):
                self.hold_violations += 1
            offered = beat if valid and not ready else None
            if valid and ready:
                self._queue.extend(split_beat(*beat, k, pixel_bits))

    def _step(self):
        if self._max_cycles is not None and self.cycles > self._max_cycles:
            raise TransportTimeout(f"the simulation's budget of {self._max_cycles:,} cycles "
                                   f"ran out")
        self._sim.advance()

    def _do(self, kind, args=None):
        self._command = (kind, args)
        while self._command is not None:
            self._step()
        return getattr(self, "_answer", None)

    # -- Transport -------------------------------------------------------------------------

    def read(self, offset):
        data, resp = self._do("read", int(offset))
        if resp:
            raise RuntimeError(f"AXI4-Lite read of 0x{offset:02x} answered response {resp}")
        return data

    def write(self, offset, value):
        resp = self._do("write", (int(offset), int(value) & 0xFFFF_FFFF))
        if resp:
            raise RuntimeError(f"AXI4-Lite write of 0x{offset:02x} answered response {resp}")

    def send(self, stream, beats):
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r} (one of {', '.join(STREAMS)})")
        data, last, _ = unpack_beats(beats)
        port = self.core.s_axis_wgt if stream == "wgt" else self.core.s_axis_coord
        self._do("send", (port, [(int(d), bool(t)) for d, t in zip(data, last)]))

    def receive(self, count, *, timeout):
        start = self.cycles
        while len(self._queue) < count and self.cycles - start < timeout:
            self._step()
        out = [self._queue.popleft() for _ in range(min(count, len(self._queue)))]
        return np.array(out, dtype=np.uint64)

    def set_pattern(self, *, stall=0.0, gaps=0.0, seed=0):
        """Back-pressure on ``m_axis_pix`` and gaps on the input streams from now on:
        probabilities per beat (of 1..3 idle cycles), from a seeded generator."""
        for name, value in (("stall", stall), ("gaps", gaps)):
            if not 0.0 <= value < 1.0:
                raise UserError(f"{name} must be in [0, 1), not {value}")
        self._stall, self._gaps, self._rng = stall, gaps, random.Random(seed)

    def reset(self):
        """Reset the core (16 cycles); the weights stay, queued pixels are dropped."""
        self._do("reset")

    def run(self, cycles):
        """Let the clock run ``cycles`` cycles (pixels keep queueing)."""
        self._do("run", int(cycles))

    def stats(self):
        """``{"cycles", "hold_violations", "queued"}``, as the Verilator transport's."""
        return {"cycles": self.cycles, "hold_violations": self.hold_violations,
                "queued": len(self._queue)}


class SimResult:
    """What one job of :func:`render` produced.

    Attributes
    ----------
    frame : numpy.ndarray or None
        uint8 ``[H, W, C]`` (frame mode; a clip ``[F, H, W, C]``) or ``[Q, n*n*C]`` (query
        mode); None if the job ended in an error.
    cycles : int
        CYCLES after the job (START to the last pixel).
    status : Status
        STATUS after the job, decoded.
    beats : list of (tdata, tlast, tuser)
        Every output pixel of the job, with its beat's flags (a build with several pixels
        per beat: ``tuser`` on a beat's first pixel, ``tlast`` on its last).
    wall_seconds : float
    """

    def __init__(self, *, frame, cycles, status, beats, wall_seconds):
        self.frame, self.cycles, self.status = frame, cycles, status
        self.beats, self.wall_seconds = beats, wall_seconds

    @property
    def error_code(self):
        return self.status.code


def render(config, *, width, height, precision="int8", images=None, model_file=None,
           stream_weights=False, queries=None, stall=0.0, gaps=0.0, seed=0,
           reset_after=None, jobs=None, override_size=None, progress=None,
           max_cycles=50_000_000, clip=None):
    """Run jobs on a core built from ``config``; return the last job's :class:`SimResult`.

    Parameters
    ----------
    width, height : int
        Frame size written to WIDTH / HEIGHT (frame mode; also the reset values).
    precision : {"int8", "fp32"}
        CTRL.PRECISION of the job.
    images : dict, optional
        Weight-buffer contents at elaboration (:func:`accel.host.weights.memory_images`).
    model_file : ModelFile, optional
        With ``stream_weights``, the weights go in over ``s_axis_wgt`` before the job.
    queries : array ``[Q, coords]`` of int16, optional
        Query mode: these coordinates go in over ``s_axis_coord``; otherwise frame mode.
    stall, gaps : float
        Probability of ``tready`` low before an output beat / of a gap before an input beat.
    reset_after : int, optional
        Frame mode: reset the core this many cycles after the first start, then run the
        job again (the weights stay, the registers are written again).
    jobs : list of str, optional
        Precisions of several jobs run one after the other without reset (a dual build
        switching by CTRL alone); the result holds the last one and its ``results``
        attribute all of them.
    override_size : (int, int), optional
        Write these to WIDTH / HEIGHT instead (to test the core's frame-size checks).
    clip : (int, int, int), optional
        A video build's ``(CLIP_FRAMES, FIRST_FRAME, FRAME_COUNT)``, written before START;
        frame mode then renders ``FRAME_COUNT`` frames and ``frame`` is
        ``[FRAME_COUNT, H, W, C]``.
    progress : callable, optional
        Called with the number of pixels received so far.
    max_cycles : int
        Cycle budget of the whole run (:class:`TransportTimeout` past it).
    """
    n, ch = config.model.patch, config.model.channels
    query_mode = queries is not None
    if query_mode and reset_after is not None:
        raise ValueError("reset_after is supported in frame mode only")
    video = config.model.is_video
    clip = tuple(clip) if clip is not None else ((1, 0, 1) if video else None)
    if clip is not None and not video:
        raise ValueError("clip is for video builds")
    link = AmaranthTransport(config, images=images, width=width, height=height, stall=stall,
                             gaps=gaps, seed=seed, max_cycles=max_cycles)
    t0 = time.perf_counter()
    if stream_weights:
        beats = weight_stream(config, model_file)
        link.send("wgt", pack_beats([d for d, _ in beats], [t for _, t in beats]))
    if query_mode:
        queries = np.asarray(queries, dtype=np.int64)
        expected = len(queries) * n * n
    else:
        expected = width * height * (clip[2] if clip is not None else 1)
    reg_w, reg_h = override_size or (width, height)
    ctrl = REGISTERS["CTRL"].field

    def start(prec):
        for name, value in (("WIDTH", reg_w), ("HEIGHT", reg_h),
                            *zip(("CLIP_FRAMES", "FIRST_FRAME", "FRAME_COUNT"), clip or ())):
            link.write(REGISTERS[name].offset, value)
        link.write(REGISTERS["CTRL"].offset, ctrl("START").place(1)
                   | ctrl("MODE").place(query_mode) | ctrl("PRECISION").place(prec == "fp32"))

    def status():
        return Status.decode(link.read(REGISTERS["STATUS"].offset))

    job_list = list(jobs) if jobs else [precision]
    if reset_after is not None:
        start(job_list[0])
        link.run(reset_after)
        link.reset()
    results = []
    for prec in job_list:
        start(prec)
        if query_mode:
            words = [sum((int(v) & 0xFFFF) << (16 * k) for k, v in enumerate(q))
                     for q in queries]
            link.send("coord", pack_beats(words, np.arange(len(words)) == len(words) - 1))
        beats = []
        while len(beats) < expected:
            part = link.receive(min(1024, expected - len(beats)), timeout=4096)
            beats.extend(int(b) for b in part)
            if progress is not None and len(part):
                progress(len(beats))
            if not len(part) and not status().busy:
                break               # an error, or a job that sent fewer pixels
        while (st := status()).busy:
            pass
        cycles = link.read(REGISTERS["CYCLES"].offset)
        results.append(_result(beats, cycles, st, query_mode, queries, clip, video,
                               width, height, ch, n, time.perf_counter() - t0))
    last = results[-1]
    last.results = results
    return last


def _result(beats, cycles, status, query_mode, queries, clip, video, width, height, ch, n,
            wall):
    data, lasts, users = unpack_beats(np.array(beats, dtype=np.uint64))
    listed = [(int(d), int(t), int(u)) for d, t, u in zip(data, lasts, users)]
    frame = None
    if not status.error:
        pix = np.stack([(data >> np.uint64(8 * c)) & np.uint64(0xFF) for c in range(ch)],
                       axis=-1).astype(np.uint8)
        if query_mode:
            frame = pix.reshape(len(queries), n * n * ch)
        elif video:
            frame = pix.reshape(clip[2], height, width, ch)
        else:
            frame = pix.reshape(height, width, ch)
    return SimResult(frame=frame, cycles=cycles, status=status, beats=listed,
                     wall_seconds=wall)
