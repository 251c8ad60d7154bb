"""Render frames through the accelerator's RTL in Amaranth's simulator, as a host would.

The testbench is a host model: it writes the frame size and CTRL over AXI4-Lite, optionally
streams the weights in, collects ``m_axis_pix`` (with random back-pressure if asked) and
reads CYCLES back. Tests and ``python -m accel.sim`` both use :func:`render`.
"""

import random
import time

import numpy as np
from amaranth import ClockDomain, Elaboratable, Module
from amaranth.sim import Simulator

from ..config import CLOCK_HZ
from ..gateware.core import PatchINRCore
from ..host.registers import REGISTERS
from ..host.weights import weight_stream
from .testbench import axil_read, axil_write, axis_put

__all__ = ["SimResult", "render", "CTRL_START", "CTRL_QUERY", "CTRL_FP32", "CTRL_CLEAR"]

CTRL_START, CTRL_QUERY, CTRL_FP32, CTRL_CLEAR = 1, 2, 4, 8


class SimResult:
    """What one simulated job produced.

    Attributes
    ----------
    frame : numpy.ndarray or None
        uint8 ``[H, W, C]`` (frame mode) or ``[Q, n*n*C]`` (query mode); None if the job
        ended in an error.
    cycles : int
        CYCLES register after the job (start to last pixel).
    status : int
        STATUS register after the job.
    beats : list of (tdata, tlast, tuser)
        Every output beat.
    wall_seconds : float
    """

    def __init__(self, *, frame, cycles, status, beats, wall_seconds):
        self.frame, self.cycles, self.status = frame, cycles, status
        self.beats, self.wall_seconds = beats, wall_seconds

    @property
    def error_code(self):
        return (self.status >> 8) & 0xFF if self.status & 4 else 0


class _Harness(Elaboratable):
    # Owns the clock domain so the testbench can pulse the core's reset.
    def __init__(self, core):
        self.core = core
        self.domain = ClockDomain("sync")

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.domain
        m.submodules.core = self.core
        return m


def render(config, *, width, height, precision="int8", images=None, model_file=None,
           stream_weights=False, queries=None, stall=0.0, gaps=0.0, seed=0,
           reset_after=None, jobs=None, override_size=None, progress=None,
           max_cycles=50_000_000, clip=None):
    """Simulate jobs on a core built from ``config``; return the last job's :class:`SimResult`.

    Parameters
    ----------
    width, height : int
        Frame size written to WIDTH / HEIGHT (frame mode; also the reset values).
    precision : {"int8", "fp32"}
        CTRL.PRECISION of the job.
    images : dict, optional
        Weight-buffer contents at elaboration (:func:`~accel.host.weights.memory_images`).
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
        Precisions of several frame jobs run one after the other without reset (a dual
        build switching by CTRL alone); the result holds the last one and ``results``
        attribute all of them.
    override_size : (int, int), optional
        Write these to WIDTH / HEIGHT instead (to test the core's frame-size checks).
    clip : (int, int, int), optional
        A video build's ``(CLIP_FRAMES, FIRST_FRAME, FRAME_COUNT)``, written before START;
        frame mode then renders ``FRAME_COUNT`` frames and ``frame`` is
        ``[FRAME_COUNT, H, W, C]``.
    progress : callable, optional
        Called with the number of pixels received so far.
    """
    core = PatchINRCore(config=config, images=images, width=width, height=height)
    harness = _Harness(core)
    rng = random.Random(seed)
    n, ch = config.model.patch, config.model.channels
    query_mode = queries is not None
    if query_mode and reset_after is not None:
        raise ValueError("reset_after is supported in frame mode only")
    video = config.model.is_video
    clip = tuple(clip) if clip is not None else ((1, 0, 1) if video else None)
    if clip is not None and not video:
        raise ValueError("clip is for video builds")
    count = clip[2] if clip is not None else 1
    if query_mode:
        queries = np.asarray(queries, dtype=np.int64)
        expected = len(queries) * n * n
    else:
        expected = width * height * count
    job_list = list(jobs) if jobs else [precision]
    state = {"epoch": 0, "results": []}

    def ctrl_word(prec):
        return CTRL_START | (CTRL_QUERY if query_mode else 0) | (CTRL_FP32 if prec == "fp32" else 0)

    reg_w, reg_h = override_size or (width, height)

    async def start_job(ctx, prec):
        await axil_write(ctx, core.s_axil, REGISTERS["WIDTH"].offset, reg_w)
        await axil_write(ctx, core.s_axil, REGISTERS["HEIGHT"].offset, reg_h)
        if clip is not None:
            for name, value in zip(("CLIP_FRAMES", "FIRST_FRAME", "FRAME_COUNT"), clip):
                await axil_write(ctx, core.s_axil, REGISTERS[name].offset, value)
        await axil_write(ctx, core.s_axil, REGISTERS["CTRL"].offset, ctrl_word(prec))

    async def wait_idle(ctx):
        while True:
            status, _ = await axil_read(ctx, core.s_axil, REGISTERS["STATUS"].offset)
            if not status & 1:
                return status

    async def host(ctx):
        if stream_weights:
            await axis_put(ctx, core.s_axis_wgt, weight_stream(config, model_file), rng=rng,
                           gap_prob=gaps)
        if reset_after is not None:
            await start_job(ctx, job_list[0])
            await ctx.tick().repeat(reset_after)
            state["epoch"] += 1
            ctx.set(harness.domain.rst, 1)
            await ctx.tick()
            ctx.set(harness.domain.rst, 0)
        for prec in job_list:
            state["beats"] = []
            state["job_started"] = True
            await start_job(ctx, prec)
            status = await wait_idle(ctx)
            if not status & 4:
                while len(state["beats"]) < expected:     # the sink may lag by a beat
                    await ctx.tick()
            cycles, _ = await axil_read(ctx, core.s_axil, REGISTERS["CYCLES"].offset)
            state["results"].append((prec, status, cycles, list(state["beats"])))
        state["finished"] = True

    async def source(ctx):
        if not query_mode:
            return
        while not state.get("job_started"):
            await ctx.tick()
        beats = [(sum((int(v) & 0xFFFF) << (16 * k) for k, v in enumerate(q)),
                  i == len(queries) - 1) for i, q in enumerate(queries)]
        await axis_put(ctx, core.s_axis_coord, beats, rng=rng, gap_prob=gaps)

    async def sink(ctx):
        # Always ready (the cycle model's assumption) unless `stall` asks for back-pressure;
        # one pixel per cycle at most, as from a video sink.
        epoch = 0
        stalled = 0
        port = core.m_axis_pix
        while not state.get("finished"):
            if stalled == 0 and stall and rng.random() < stall:
                stalled = rng.randint(1, 3)
            ctx.set(port.tready, stalled == 0)
            _, _, valid, ready, data, last, user = await ctx.tick().sample(
                port.tvalid, port.tready, port.tdata, port.tlast, port.tuser)
            stalled = max(0, stalled - 1)
            if state["epoch"] != epoch:          # beats of a job the reset aborted
                epoch = state["epoch"]
                state["beats"] = []
            if valid and ready:
                beats = state.setdefault("beats", [])
                beats.append((int(data), int(last), int(user)))
                if progress is not None and len(beats) % 1024 == 0:
                    progress(len(beats))

    async def watchdog(ctx):
        state["now"] = 0
        async for _ in ctx.tick():
            state["now"] += 1

    sim = Simulator(harness)
    sim.add_clock(1 / CLOCK_HZ, domain="sync")
    sim.add_testbench(host)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.add_testbench(watchdog, background=True)
    t0 = time.perf_counter()
    # Run until the host is done (advance() is False once no foreground testbench is left),
    # or give up after max_cycles: a hung design must not hang the caller.
    while sim.advance():
        if state.get("now", 0) > max_cycles:
            break
    wall = time.perf_counter() - t0
    if len(state["results"]) != len(job_list):
        raise RuntimeError(f"the simulated job did not finish within {max_cycles} cycles")

    results = []
    for prec, status, cycles, beats in state["results"]:
        frame = None
        if not status & 4:
            data = np.array([b[0] for b in beats], dtype=np.uint64)
            pix = np.stack([(data >> np.uint64(8 * c)) & np.uint64(0xFF) for c in range(ch)],
                           axis=-1).astype(np.uint8)
            if query_mode:
                frame = pix.reshape(len(queries), n * n * ch)
            elif video:
                frame = pix.reshape(count, height, width, ch)
            else:
                frame = pix.reshape(height, width, ch)
        results.append(SimResult(frame=frame, cycles=cycles, status=status, beats=beats,
                                 wall_seconds=wall))
    last = results[-1]
    last.results = results
    return last
