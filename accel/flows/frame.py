"""A simulation job through the accelerator's RTL, against what it must produce.

:class:`SimConfig` is the job as a value (``python -m accel.sim``'s flags); :func:`simulate`
runs it the one way there is: a :class:`~accel.host.transport.Transport` to the core on
the chosen backend (:class:`~accel.flows.simulation.AmaranthTransport`, or
:class:`~accel.flows.verilator.VerilatorTransport` over the exported Verilog), the host
driver (:class:`~accel.host.driver.PatchINRDriver`) on it, and the job of
:mod:`accel.flows.jobs` (a frame, a clip or an upscale), every pixel compared with the
reference and CYCLES with the cycle model.
"""

import contextlib
import dataclasses
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from model.support.errors import UserError
from model.support.limits import SEED_MAX
from model.support.validate import nonnegative_int, one_of

from ..config import CLOCK_HZ, SIMULATION, AccelConfig
from .jobs import job_for, target_source

__all__ = ["SimConfig", "SimResult", "simulate", "AMARANTH_MAX_CYCLES"]

#: Jobs longer than this are refused by the Amaranth backend before they start: at a few
#: thousand cycles a second they would take hours (the Verilator backend runs them).
AMARANTH_MAX_CYCLES = 20_000_000


@dataclass(frozen=True, kw_only=True)
class SimConfig:
    """A simulation job as a value: what ``python -m accel.sim``'s flags say.

    ``weights`` is the model file; the job is an upscale with ``upscale``, a clip for a
    video model (``first_frame``, ``frames``, ``clip_frames``), else a frame. ``array``
    and ``batch`` default to :data:`accel.config.SIMULATION`'s for the backend, ``size``
    to the model file's frame; ``device`` decides the INT8 array's layout (an ECP5 build's
    has no packed pairs); ``dual`` builds both datapaths and runs ``precision`` on them;
    ``pixels_per_beat`` is the build's ``m_axis_pix`` width in pixels, ``dsp_clock`` its
    DSP48E2 clock (2: the INT8 array's pumped slices in a second clock domain). The Verilator
    backend always streams the weights in over ``s_axis_wgt`` (one compiled model serves
    every model file).
    """

    weights: str
    precision: str = "int8"
    backend: str = "amaranth"
    array: tuple | None = None
    batch: int | None = None
    size: tuple | None = None
    image: str | None = None
    stream_weights: bool = False
    stall: float = 0.0
    seed: int = 0
    upscale: int | None = None
    first_frame: int = 0
    frames: int | None = None
    clip_frames: int | None = None
    verilator_opt: str = "-O2"
    verilator_threads: int = 1
    clock_hz: int = CLOCK_HZ
    device: str = "xcvu9p"
    dual: bool = False
    pixels_per_beat: int = 1
    dsp_clock: int = 1

    def to_dict(self):
        return {k: (os.fspath(v) if k == "weights" else list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class SimResult:
    """What :func:`simulate` found. ``figures`` holds everything the JSON result has (see
    :meth:`to_dict`); the typed attributes are the ones callers act on."""

    job: SimConfig
    kind: str                   #: "frame", "clip" or "upscale"
    frame: np.ndarray           #: uint8 [H, W, C], or a clip's [F, H, W, C]
    mismatches: int             #: pixels that differ from the reference
    cycles: int                 #: CYCLES after the job
    cycles_model: int | None    #: the cycle model's (None for query jobs: see cycles_bound)
    figures: dict

    def to_dict(self):
        """The JSON result: the job, then every figure."""
        return {"job": self.job.to_dict(), "kind": self.kind, **self.figures}


def simulate(sim, *, progress=True):
    """Run :class:`SimConfig` ``sim`` and compare it; returns a :class:`SimResult`."""
    mf, config, source = _setup(sim)
    job = job_for(sim, mf, config, source)
    if sim.backend == "amaranth" and job.budget > AMARANTH_MAX_CYCLES:
        raise UserError(f"this job takes up to {job.budget:,} cycles on a {config.rows}x"
                        f"{config.cols} array, more than the {AMARANTH_MAX_CYCLES:,} the "
                        f"Amaranth simulator runs in reasonable time: use --backend verilator")
    want = job.expected()
    link, extra = _open(sim, config, mf, job.budget, progress)
    from ..host.driver import PatchINRDriver, ProtocolError
    with link, _bar(progress, job.kind) as tick:
        driver = PatchINRDriver(link)
        if sim.backend == "verilator" or sim.stream_weights:
            driver.load_weights(mf)
        else:
            driver.attach(mf)           # the memories were initialised with it
        t0 = time.perf_counter()
        got = job.run(driver, tick)
        wall = time.perf_counter() - t0
        cycles, stats = driver.cycles, link.stats()
    if stats["hold_violations"]:
        raise ProtocolError(f"{stats['hold_violations']} AXI4-Stream hold-rule violations "
                            f"on m_axis_pix")
    bad = np.any(got != want, axis=-1)
    cfg_m = mf.config
    frames = got.shape[0] if job.kind == "clip" else 1
    figures = {
        "weights": os.fspath(sim.weights), "precision": sim.precision,
        "backend": sim.backend, "array": f"{config.rows}x{config.cols}",
        "batch": config.batch, "patch": cfg_m.patch, "channels": cfg_m.channels,
        "widths": cfg_m.widths, "mismatches": int(np.count_nonzero(bad)),
        "cycles": int(cycles), "clock_hz": sim.clock_hz,
        "fps": sim.clock_hz * frames / cycles, "wall_seconds": wall, **extra,
        **job.figures(got, cycles, bad)}
    if job.cycles_model is not None:
        figures["cycles_model_error"] = (job.cycles_model - cycles) / cycles
    return SimResult(job=sim, kind=job.kind, frame=got, mismatches=figures["mismatches"],
                     cycles=int(cycles), cycles_model=job.cycles_model, figures=figures)


@contextlib.contextmanager
def _bar(enabled, what):
    """A progress bar over the job's pixels, closed on any exit (an interrupt too), and
    the ``(done, total)`` callback that moves it."""
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm
    bar = None

    def tick(done, total):
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=f"rtl {what}", unit="px", file=sys.stderr,
                       leave=False, dynamic_ncols=True)
        bar.update(done - bar.n)
    try:
        yield tick
    finally:
        if bar is not None:
            bar.close()


def _open(sim, config, mf, budget, progress):
    """``(transport, figures)`` of the backend: the core in Amaranth's simulator with the
    model in its memories (or empty, to stream it), or the compiled Verilator model."""
    if sim.backend == "amaranth":
        from ..host.weights import memory_images
        from .simulation import AmaranthTransport
        images = None if sim.stream_weights else memory_images(config, mf)
        return AmaranthTransport(config, images=images, stall=sim.stall, seed=sim.seed,
                                 max_cycles=2 * budget + 1_000_000), {}
    from .lint import find_verilator, verilator_version
    from .verilator import build_model
    built = build_model(config, opt=sim.verilator_opt, threads=sim.verilator_threads,
                        progress=progress)
    return built.open(stall=sim.stall, seed=sim.seed), {
        "compile_seconds": built.compile_seconds, "verilator_cached": built.cached,
        "verilator_opt": sim.verilator_opt, "verilator_threads": sim.verilator_threads,
        "verilator": verilator_version(find_verilator())}


def _setup(sim):
    """The model file, the build configuration (its maximum frame is the frame to render:
    ``size`` or the model file's) and the image to score against."""
    from model import export
    one_of("backend", sim.backend, tuple(SIMULATION))
    nonnegative_int("seed", sim.seed, maximum=SEED_MAX)
    if not 0.0 <= sim.stall < 1.0:
        raise UserError(f"stall must be in [0, 1), not {sim.stall}")
    if sim.precision not in ("int8", "fp32"):
        raise UserError(f"unknown precision {sim.precision!r} (choose int8 or fp32)")
    mf = export.load(sim.weights)
    cfg_m = mf.config
    if cfg_m.is_video and sim.upscale:
        raise UserError(f"{os.fspath(sim.weights)!r} is a video model (x, y, t): render its "
                        f"clip (accel.sim without --upscale)")
    size = sim.size or (mf.meta.get("width"), mf.meta.get("height"))
    if not all(isinstance(v, int) and v > 0 for v in size):
        raise UserError("the model file records no frame size: give --size WxH")
    width, height = size
    if width % cfg_m.patch or height % cfg_m.patch:
        raise UserError(f"frame size {width}x{height} is not divisible by the model's patch "
                        f"size {cfg_m.patch}")
    rows, cols = sim.array or SIMULATION[sim.backend].array
    batch = SIMULATION[sim.backend].batch_for(rows) if sim.batch is None else sim.batch
    config = AccelConfig(model=cfg_m, rows=rows, cols=cols, batch=batch,
                         precision="dual" if sim.dual else sim.precision, max_width=width,
                         max_height=height, device=sim.device,
                         pixels_per_beat=sim.pixels_per_beat, dsp_clock=sim.dsp_clock)
    if sim.backend == "verilator":
        from .verilator import default_build_dir
        default_build_dir()                 # a bad PATCHINR_VERILATOR_DIR fails now
    return mf, config, None if cfg_m.is_video else target_source(mf, sim.image)
