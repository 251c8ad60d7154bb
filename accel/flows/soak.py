"""A soak of one build through the host driver: a long random sequence of jobs, each held
to its reference, none allowed to hang.

One core (a video-less ``dual`` build by default, so both datapaths run) takes jobs drawn
from a seeded generator: frames of random sizes in either precision, bursts of queries at
random coordinates, weight reloads that switch between two models, CTRL.CLEAR, a reset in
the middle of a job, a START while a job runs (which the core ignores), all under random
back-pressure on ``m_axis_pix`` and gaps on the input streams that change from job to job.
Every pixel of every job is compared with the reference of the model loaded at the time;
CYCLES equals the cycle model for a frame rendered without back-pressure (and is no less
with it); a query burst stays within its cycle bound; each job has a cycle budget, so a
hang is a counted fault, not a stuck run.
"""

import random
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from model.support.errors import UserError
from model.support.validate import nonnegative_int, one_of, positive_int

from ..config import SIMULATION, AccelConfig
from ..cycles import frame_cycles, query_cycles_bound
from .reference import reference_frame, reference_queries

__all__ = ["SoakConfig", "SoakReport", "soak", "KINDS"]

#: The kinds of job, and how often each is drawn (relative weights); a soak runs each once
#: first, in this order.
KINDS = {"frame": 6, "queries": 3, "reload": 1, "clear": 1, "reset": 1, "start_busy": 1}


@dataclass(frozen=True, kw_only=True)
class SoakConfig:
    """A soak as a value.

    Attributes
    ----------
    jobs : int
        Jobs to run.
    seed : int
        Seed of everything random: models, job sequence, back-pressure, gaps.
    backend : {"verilator", "amaranth"}
    precision : {"int8", "fp32", "dual"}
        The build's datapaths (frames and queries use each it has).
    array : (int, int)
    patch, channels, hidden, layers : int
        The network of the two random models (:func:`model.synthetic.random_model`).
    max_frame : (int, int)
        The build's largest frame; frames are drawn up to it.
    """

    jobs: int = 1000
    seed: int = 0
    backend: str = "verilator"
    precision: str = "dual"
    array: tuple = (4, 4)
    patch: int = 2
    channels: int = 3
    hidden: int = 8
    layers: int = 2
    max_frame: tuple = (16, 16)

    def __post_init__(self):
        positive_int("jobs", self.jobs, maximum=10 ** 7)
        nonnegative_int("seed", self.seed, maximum=2 ** 32 - 1)
        one_of("backend", self.backend, tuple(SIMULATION))
        one_of("precision", self.precision, ("int8", "fp32", "dual"))
        for name in ("patch", "channels", "hidden", "layers"):
            positive_int(name, getattr(self, name), maximum=64)
        object.__setattr__(self, "array", tuple(self.array))
        object.__setattr__(self, "max_frame", tuple(self.max_frame))
        for side in (*self.array, *self.max_frame):
            positive_int("array and frame sides", side, maximum=256)


@dataclass
class SoakReport:
    """What a soak found. ``faults`` lists each fault in one line (job, kind, what)."""

    config: SoakConfig
    jobs: int = 0
    pixels: int = 0
    cycles: int = 0
    mismatches: int = 0
    hangs: int = 0
    cycle_errors: int = 0
    kinds: dict = field(default_factory=dict)
    faults: list = field(default_factory=list)
    wall_seconds: float = 0.0
    compile_seconds: float = 0.0

    @property
    def ok(self):
        return not self.faults

    def to_dict(self):
        out = asdict(self)
        out["config"] = {k: list(v) if isinstance(v, tuple) else v
                         for k, v in asdict(self.config).items()}
        out["ok"] = self.ok
        return out


def soak(config, *, progress=None):
    """Run the soak ``config`` describes; returns a :class:`SoakReport`.

    ``progress`` is called with ``(jobs_done, jobs, report)`` after each job.
    """
    from model.synthetic import random_model

    from ..host.driver import DeviceError, DeviceTimeout, PatchINRDriver, ProtocolError
    from ..host.transport import TransportTimeout
    rng = random.Random(config.seed)
    models = [random_model(patch=config.patch, channels=config.channels,
                           hidden=config.hidden, layers=config.layers,
                           seed=config.seed * 2 + i) for i in range(2)]
    width, height = config.max_frame
    n = config.patch
    if width % n or height % n:
        raise UserError(f"the largest frame {width}x{height} is not whole {n}x{n} patches")
    rows, cols = config.array
    build = AccelConfig(model=models[0].config, rows=rows, cols=cols,
                        batch=SIMULATION[config.backend].batch_for(rows),
                        precision=config.precision, max_width=width, max_height=height)
    report = SoakReport(config=config)
    t0 = time.perf_counter()
    link = _open(config, build, report)
    precisions = [p for p in ("int8", "fp32") if getattr(build, f"has_{p}")]
    kinds, weights = zip(*KINDS.items())
    with link:
        core = PatchINRDriver(link)
        loaded = 0
        core.load_weights(models[loaded])
        for job in range(config.jobs):
            # Every kind once first, so that even a short soak covers them all.
            kind = kinds[job] if job < len(kinds) else rng.choices(kinds, weights)[0]
            stall, gaps = rng.choice((0.0, 0.0, 0.1, 0.3)), rng.choice((0.0, 0.2))
            link.set_pattern(stall=stall, gaps=gaps, seed=rng.randrange(2 ** 31))
            report.kinds[kind] = report.kinds.get(kind, 0) + 1
            try:
                if kind == "reload":
                    loaded = 1 - loaded
                    core.load_weights(models[loaded])
                elif kind == "clear":
                    core.clear()
                    if core.status().word or any(core.counters().values()):
                        report.faults.append(f"job {job} clear: STATUS or a counter not zero")
                elif kind in ("frame", "reset", "start_busy"):
                    _frame_job(core, link, rng, kind, job, build, models[loaded],
                               precisions, stall, report)
                else:
                    _query_job(core, rng, job, build, models[loaded], precisions,
                               stall or gaps, report)
            except (DeviceTimeout, TransportTimeout) as exc:
                report.hangs += 1
                report.faults.append(f"job {job} {kind}: no end within its budget ({exc})")
                link.reset()
            except (DeviceError, ProtocolError) as exc:
                report.faults.append(f"job {job} {kind}: {exc}")
                link.reset()
            report.jobs += 1
            if progress is not None:
                progress(job + 1, config.jobs, report)
        report.cycles = link.stats()["cycles"]
        if link.stats()["hold_violations"]:
            report.faults.append(f"{link.stats()['hold_violations']} AXI4-Stream hold-rule "
                                 f"violations on m_axis_pix")
    report.wall_seconds = time.perf_counter() - t0
    return report


def _open(config, build, report):
    if config.backend == "amaranth":
        from .simulation import AmaranthTransport
        return AmaranthTransport(build)
    from .verilator import build_model
    built = build_model(build, opt="-O0", progress=False)
    report.compile_seconds = built.compile_seconds
    return built.open()


def _frame_job(core, link, rng, kind, job, build, mf, precisions, stall, report):
    n = build.model.patch
    width = n * rng.randint(1, build.max_width // n)
    height = n * rng.randint(1, build.max_height // n)
    precision = rng.choice(precisions)
    model = frame_cycles(build, width, height, precision=precision)["total"]
    if kind == "reset":
        # A job cut short by a reset: nothing of it may reach the next job.
        core.set_frame_size(width, height)
        core.start(precision=precision)
        link.run(rng.randint(1, model))
        link.reset()
        if core.status().word:
            report.faults.append(f"job {job} reset: STATUS {core.status()} after the reset")
            return
    if kind == "start_busy":
        # A second START while the job runs is ignored: the frame comes out whole, once.
        core.set_frame_size(width, height)
        core.start(precision=precision)
        link.run(rng.randint(1, max(1, model // 2)))
        core.start(precision=precision)
        got = core.receive_frames(width, height, max_cycles=_budget(model))[0]
    else:
        got = core.render(width, height, precision, max_cycles=_budget(model))
    want = reference_frame(mf, build, width, height, precision)
    _compare(report, job, kind, got, want)
    cycles = core.cycles
    if stall == 0 and cycles != model:
        report.cycle_errors += 1
        report.faults.append(f"job {job} {kind}: {cycles} cycles, the cycle model says {model}")
    elif cycles < model:
        report.cycle_errors += 1
        report.faults.append(f"job {job} {kind}: {cycles} cycles, fewer than the model's {model}")


def _query_job(core, rng, job, build, mf, precisions, paced, report):
    count = rng.randint(1, 3 * build.batch)
    q = np.array([[rng.randint(-32767, 32767) for _ in range(build.model.coords)]
                  for _ in range(count)], dtype=np.int64)
    precision = rng.choice(precisions)
    bound = query_cycles_bound(build, count)
    got = core.query(q, precision, quantized=True, max_cycles=_budget(bound)).reshape(
        count, -1, build.model.channels)
    want = reference_queries(mf, build, q, precision).reshape(got.shape)
    _compare(report, job, "queries", got, want)
    # The bound holds for a sink always ready and a source without gaps.
    if not paced and core.cycles > bound:
        report.cycle_errors += 1
        report.faults.append(f"job {job} queries: {core.cycles} cycles, above the bound {bound}")


def _budget(cycles):
    """A job's cycle budget: room for back-pressure (at most 3 idle cycles before a beat,
    with probability 0.3), tight enough that a job that will never end is called hung in
    seconds, not minutes."""
    return 4 * cycles + 10_000


def _compare(report, job, kind, got, want):
    bad = int(np.count_nonzero(np.any(got != want, axis=-1)))
    report.pixels += int(np.prod(got.shape[:-1]))
    if bad:
        report.mismatches += bad
        report.faults.append(f"job {job} {kind}: {bad} mismatching pixels")
