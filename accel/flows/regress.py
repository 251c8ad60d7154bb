"""The verification regression: many random configurations, each rendered through the RTL.

:func:`draw_cases` draws ``N`` :class:`Case` values from a seed: array shape, patch size,
channels, image or clip, layer width and depth, INT8, FP32 or a dual build running either,
batch, output back-pressure, and the INT8 array's device layout. :func:`run_case` builds
each (Verilator, or Amaranth's simulator for small ones), renders a frame or a clip of a
random model through the host driver (:func:`accel.flows.frame.simulate`) and checks every
pixel against the integer or float32 reference and CYCLES against the cycle model (equal
without back-pressure; with it, the model is the floor).
:func:`regress` runs the cases as tasks of :func:`accel.flows.cluster.run_tasks` (one Ray
task per case, or one after another) and returns the report. Case ``i`` of seed ``S``
depends on ``S`` and ``i`` only, so ``--seed S --case i`` reproduces it alone.
"""

import dataclasses
import os
import random
import time

from model.support.errors import UserError

__all__ = ["Case", "CaseJob", "draw_cases", "draw_case", "run_case", "regress", "LIMITS"]

#: How large a drawn configuration gets, per backend (Amaranth's simulator runs a few
#: thousand cycles a second; a Verilator model compiles in tens of seconds whatever its size).
LIMITS = {
    "amaranth": {"rows": 4, "side": 4, "hidden": 8, "layers": 2, "batch": 8, "frames": 2,
                 "patches": 6},
    "verilator": {"rows": 8, "side": 8, "hidden": 32, "layers": 3, "batch": 24, "frames": 3,
                  "patches": 12},
}


@dataclasses.dataclass(frozen=True)
class Case:
    """One drawn configuration and job."""

    seed: int
    index: int
    backend: str
    kind: str               #: "frame" or "clip"
    precision: str          #: the job's datapath: "int8" or "fp32"
    dual: bool              #: built with both datapaths (a dual build)
    patch: int
    channels: int
    hidden: int
    layers: int
    rows: int
    cols: int
    batch: int
    width: int
    height: int
    frames: int             #: clip frames (1 for a frame)
    stall: float            #: probability of tready low per output beat
    device: str
    model_seed: int

    def describe(self):
        what = (f"{self.width}x{self.height}" if self.kind == "frame"
                else f"{self.width}x{self.height}x{self.frames}")
        dev = "" if self.device == "xcvu9p" else f" {self.device}"
        return (f"#{self.index} {self.kind} {what} n={self.patch} c={self.channels} "
                f"{self.layers}x{self.hidden} {self.rows}x{self.cols} b{self.batch} "
                f"{self.precision}{' on dual' if self.dual else ''}"
                f"{f' stall {self.stall:g}' if self.stall else ''}{dev}")

    def command(self):
        """The one command that reruns this case alone."""
        return (f"python -m accel.regress --seed {self.seed} --case {self.index} "
                f"--backend {self.backend}")

    def to_dict(self):
        return dataclasses.asdict(self)


def draw_case(seed, index, backend="verilator"):
    """Case ``index`` of ``seed``: drawn from a generator of ``(seed, index)`` alone."""
    if backend not in LIMITS:
        raise UserError(f"unknown backend {backend!r} (choose {' or '.join(LIMITS)})")
    lim = LIMITS[backend]
    rng = random.Random(f"patchinr-regress:{seed}:{index}")
    kind = "clip" if rng.random() < 0.25 else "frame"
    channels = rng.choice([1, 3])
    cols = rng.choice([c for c in (1, 2, 3, 4, 6, 8) if channels <= c <= lim["side"]])
    rows = cols * rng.randint(1, max(1, lim["rows"] // cols))
    precision = rng.choice(["int8", "int8", "fp32"])
    dual = rng.random() < 0.3
    # An ECP5 build: INT8 only, one product per multiplier (no packed pairs).
    device = "lfe5u-85f" if precision == "int8" and not dual and rng.random() < 0.25 \
        else "xcvu9p"
    patch = rng.randint(1, 4)
    frames = rng.randint(2, lim["frames"]) if kind == "clip" else 1
    side = lim["patches"] // (2 if kind == "clip" else 1)       # patches across
    return Case(seed=seed, index=index, backend=backend, kind=kind, precision=precision,
                dual=dual, patch=patch, channels=channels,
                hidden=rng.randint(3, lim["hidden"]), layers=rng.randint(1, lim["layers"]),
                rows=rows, cols=cols, batch=rng.randint(4, lim["batch"]),
                width=patch * rng.randint(1, side), height=patch * rng.randint(1, max(1, side - 2)),
                frames=frames, stall=rng.choice([0.0, 0.0, 0.3]), device=device,
                model_seed=rng.randrange(10_000))


def draw_cases(count, seed, backend="verilator"):
    """Cases ``0 .. count-1`` of ``seed``."""
    return [draw_case(seed, i, backend) for i in range(count)]


@dataclasses.dataclass(frozen=True)
class CaseJob:
    """A case and where its files go: what :func:`run_case` runs."""

    case: Case
    workdir: str

    def describe(self):
        return self.case.describe()


def run_case(job):
    """Build and run one case; returns its record (``ok``, ``mismatches``, ``cycles``,
    ``cycles_model`` and the wall seconds). Runs in this process or in a Ray worker."""
    case = job.case
    os.makedirs(job.workdir, exist_ok=True)
    # Verilator models are cached per configuration beside the run, wherever it runs; the
    # caller's own setting is put back (a sequential run shares its process).
    before = os.environ.get("PATCHINR_VERILATOR_DIR")
    os.environ["PATCHINR_VERILATOR_DIR"] = os.path.join(job.workdir, "verilator")
    try:
        return _run_case(job, case)
    finally:
        if before is None:
            os.environ.pop("PATCHINR_VERILATOR_DIR", None)
        else:
            os.environ["PATCHINR_VERILATOR_DIR"] = before


def _run_case(job, case):
    from model import export
    from model.synthetic import random_model
    from .frame import SimConfig, simulate
    mf = random_model(patch=case.patch, channels=case.channels, hidden=case.hidden,
                      layers=case.layers, seed=case.model_seed,
                      coords=3 if case.kind == "clip" else 2)
    path = os.path.join(job.workdir, f"case{case.index}.npz")
    meta = {"width": case.width, "height": case.height}
    if case.kind == "clip":
        meta["frames"] = case.frames
    export.save(path, config=mf.config, fp32=mf.fp32, quant=mf.quant, meta=meta)
    sim = SimConfig(weights=path, precision=case.precision, dual=case.dual,
                    backend=case.backend, array=(case.rows, case.cols), batch=case.batch,
                    size=(case.width, case.height), stall=case.stall, seed=case.index,
                    device=case.device, verilator_opt="-O1")
    t0 = time.perf_counter()
    res = simulate(sim, progress=False)
    # The cycle model counts an always-ready output; back-pressure only adds cycles.
    ok = res.mismatches == 0 and (res.cycles == res.cycles_model if not case.stall
                                  else res.cycles >= res.cycles_model)
    return {"case": case.to_dict(), "describe": case.describe(), "ok": ok,
            "mismatches": res.mismatches, "pixels": res.figures["pixels"],
            "cycles": res.cycles, "cycles_model": res.cycles_model,
            "seconds": time.perf_counter() - t0,
            "compile_seconds": res.figures.get("compile_seconds")}


def regress(cases, *, workdir, address=None, sequential=False, cpus=1, progress=True,
            log=print):
    """Run every case (:func:`run_case`) as a task; returns the report: every case's record
    (a case whose task failed has ``ok`` false and its ``error``), the wall time and how the
    cases ran."""
    from .cluster import have_ray, run_tasks
    jobs = [CaseJob(case=c, workdir=os.path.abspath(workdir)) for c in cases]
    t0 = time.perf_counter()
    records = {}
    for outcome in run_tasks(run_case, jobs, describe=CaseJob.describe, cpus=cpus,
                             address=address, sequential=sequential, progress=progress,
                             log=log, what="regress"):
        case = outcome.item.case
        if outcome.ok:
            rec = outcome.result
        else:
            rec = {"case": case.to_dict(), "describe": case.describe(), "ok": False,
                   "error": outcome.error}
        rec["command"] = case.command()
        records[case.index] = rec
        log(_line(rec))
    return {"cases": [records[c.index] for c in cases],
            "wall_seconds": time.perf_counter() - t0,
            "ran_on": "sequential" if sequential or not have_ray() else
                      ("ray cluster" if address or os.environ.get("RAY_ADDRESS") else "local ray"),
            "passed": sum(r["ok"] for r in records.values()), "failed":
            sum(not r["ok"] for r in records.values())}


def _line(rec):
    if "error" in rec:
        return f"regress: FAIL {rec['describe']}: {rec['error']}"
    verdict = "ok  " if rec["ok"] else "FAIL"
    cycles = (f"{rec['cycles']:,} cycles" if rec["cycles"] == rec["cycles_model"]
              else f"{rec['cycles']:,} cycles, model {rec['cycles_model']:,}"
              + (" without back-pressure" if rec["case"]["stall"] else ""))
    return (f"regress: {verdict} {rec['describe']}: {rec['mismatches']} of {rec['pixels']:,} "
            f"pixels differ, {cycles} ({rec['seconds']:.0f} s)")
