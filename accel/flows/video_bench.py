"""The video sweep: (x, y, t) models of real clips against patch size.

``python -m accel.bench --videos bikes,carphone --size 128 --frames 16 --patches 1,2,4,8
--steps S`` fits one video model per clip and patch size with the same recipe and step
budget (:func:`model.training.train_clip`: mini-batches of :data:`model.config.VIDEO_BATCH`
queries, the last quarter quantization-aware) and reports, per point: the mean PSNR over
the clip's frames (FP32 and INT8, each frame's PSNR averaged), parameters and their
overhead against n = 1, training seconds per step, queries and cycles per frame and frames
per second at the accelerator clock (:data:`accel.config.CLOCK_HZ`) on the 32x32 build (``--array 32x32``, batch 256, from the cycle
model; a clip is one job). It writes ``RESULTS/video/video.json``, ``video.md`` (the
table), ``video_psnr_frames.png`` (PSNR per frame for each n),
``video_convergence.png`` (each point's INT8 PSNR against step and against training
seconds) and, per clip, ``video_strip_<clip>.png`` (original, n = 1, n = 2 and n = 8,
frames side by side).

Convergence: every point records its curve (:class:`~model.training.TrainSettings`
``curve_every``: FP32 and INT8 PSNR on the ranking queries, about 40 times a run); a point
is *converged* when the last fifth of its float phase added less than :data:`CONVERGED_DB`
INT8 PSNR (:func:`convergence`). The table compares the patch sizes at equal steps (the
points) and at equal training time (each curve read at the time the fastest point of the
clip took in all).

Points are kept in ``RESULTS/video/points/<clip>_<size>x<frames>_p<n>.json`` (the model
files in ``OUT/video/models``); a point trained with the same clip, size, frames, steps,
seed and network is not trained again.
"""

import dataclasses
import json
import os
import sys

import numpy as np

from model.support.errors import UserError
from model.support.files import write_bytes, write_json
from model.support.validate import positive_int

from ..config import CLOCK_HZ
from .bench import (PointTask, drop_checkpoint, machine_info, package_version,
                    point_checkpoint, point_status, torch_threads)

__all__ = ["VideoSweep", "VideoPointJob", "train_video_points", "train_video_point",
           "video_report", "video_status", "convergence", "spikes", "CONVERGED_DB", "SPIKE_DB"]

#: A point is converged when the last fifth of its steps added less INT8 PSNR than this.
CONVERGED_DB = 0.2

#: A loss spike: the training PSNR falls more than this below the highest it had reached.
SPIKE_DB = 3.0


class VideoSweep:
    """What the video sweep covers (keyword-only, validated)."""

    def __init__(self, *, videos, patches=(1, 2, 4, 8), size=128, frames=16, steps=300,
                 seed=0, hidden=None, layers=None, qat_steps=None, keep="dual",
                 clip_grad=None, qat_consistency=None, warmup=0, rewind=None):
        from model.config import PatchINRConfig
        from model.video import load_video
        if not videos:
            raise UserError("no videos to sweep")
        if not patches:
            raise UserError("no patch sizes to sweep")
        for n in patches:
            positive_int("patch size", n)
            if size % n:
                raise UserError(f"size {size} is not a multiple of patch size {n}")
        positive_int("size", size)
        positive_int("frames", frames)
        positive_int("steps", steps)
        from .bench import check_distinct_stems, set_recipe
        check_distinct_stems(videos, "videos")
        default = PatchINRConfig()
        self.videos, self.patches = tuple(videos), tuple(sorted(set(patches)))
        self.size, self.frames, self.steps, self.seed = size, frames, steps, seed
        set_recipe(self, qat_steps=qat_steps, keep=keep, clip_grad=clip_grad,
                   qat_consistency=qat_consistency, warmup=warmup, rewind=rewind)
        # Checked now, as the training will: a bad seed or factor fails before any training.
        self.settings()
        self.hidden = default.hidden if hidden is None else hidden
        self.layers = default.layers if layers is None else layers
        # Every clip is read once now (a few frames): a bad name fails before any training.
        for v in self.videos:
            load_video(v, size=8, frames=frames)

    @property
    def curve_every(self):
        """Steps between the points of a run's convergence curve: about 40 a run."""
        return max(1, self.steps // 40)

    def config(self, patch):
        from model.config import PatchINRConfig
        return PatchINRConfig(patch=patch, channels=3, hidden=self.hidden, layers=self.layers,
                              coords=3)

    def settings(self, device="cpu"):
        """The :class:`~model.training.TrainSettings` every point trains with."""
        from model.config import VIDEO_BATCH
        from model.training import TrainSettings
        return TrainSettings(steps=self.steps, seed=self.seed, device=device,
                             batch=VIDEO_BATCH, qat_steps=self.qat_steps, keep=self.keep,
                             curve_every=self.curve_every, clip_grad=self.clip_grad,
                             qat_consistency=self.qat_consistency, warmup=self.warmup,
                             rewind=self.rewind)

    def key(self, video, patch):
        from .bench import source_stem
        return f"{source_stem(video)}_{self.size}x{self.frames}_p{patch}"

    def clip(self, video):
        from model.video import load_video
        return load_video(video, size=self.size, frames=self.frames)


def _point(path, sweep, video, patch):
    try:
        with open(path) as f:
            point = json.load(f)
    except (OSError, ValueError):
        return None
    same = (isinstance(point, dict) and point.get("video") == video
            and point.get("steps") == sweep.steps and point.get("seed") == sweep.seed
            and point.get("frames") == sweep.frames and point.get("width") == sweep.size
            and point.get("qat_steps", sweep.steps // 4) == sweep.qat_steps
            and point.get("keep", "dual") == sweep.keep
            and point.get("clip_grad") == sweep.clip_grad
            and point.get("qat_consistency") == sweep.qat_consistency
            and point.get("warmup", 0) == sweep.warmup
            and point.get("rewind") == sweep.rewind
            and point.get("config") == sweep.config(patch).to_dict())
    return point if same else None


def train_video_points(sweep, out, points, *, fresh=False, device="auto", progress=True,
                       log=print, checkpoint_every=300.0, address=None, sequential=False,
                       cpus=1):
    """Train every missing point, each one task of :func:`accel.flows.cluster.run_tasks`
    (as :func:`~accel.flows.bench.train_points` does); returns ``({(video, patch): point},
    failed keys)``. A point under way is checkpointed in ``out/video/checkpoints`` and
    resumed (:func:`~accel.flows.bench.point_checkpoint`)."""
    from .cluster import have_ray, run_tasks
    os.makedirs(points, exist_ok=True)
    os.makedirs(os.path.join(out, "video", "models"), exist_ok=True)
    in_process = sequential or not have_ray()      # a point's own bar shows only here
    done, todo = {}, []
    for video in sweep.videos:
        for n in sweep.patches:
            path = os.path.join(points, sweep.key(video, n) + ".json")
            point = None if fresh else _point(path, sweep, video, n)
            if point is None:
                todo.append(VideoPointJob(sweep=sweep, out=out, points=points, video=video,
                                          patch=n, device=device, fresh=fresh,
                                          checkpoint_every=checkpoint_every,
                                          threads=max(1, int(cpus)),
                                          progress=progress and in_process))
            else:
                done[(video, n)] = point
    failed = []
    for outcome in run_tasks(train_video_point, todo, describe=VideoPointJob.key, cpus=cpus,
                             gpus=1 if str(device).startswith("cuda") else 0,
                             address=address, sequential=sequential, progress=progress,
                             log=log, what="video sweep"):
        job = outcome.item
        if outcome.ok:
            log(outcome.result)
            done[(job.video, job.patch)] = _point(
                os.path.join(points, job.key() + ".json"), sweep, job.video, job.patch)
        else:
            failed.append(job.key())
            log(f"bench: {job.key()} failed: {outcome.error}")
    return done, failed


@dataclasses.dataclass(frozen=True, kw_only=True)
class VideoPointJob(PointTask):
    """One point of a video sweep as a value: what :func:`train_video_point` trains."""

    sweep: VideoSweep
    video: str

    def key(self):
        return self.sweep.key(self.video, self.patch)


def train_video_point(job):
    """Train, score and write one video point (:class:`VideoPointJob`); returns its log
    line. The point's JSON is written last (it marks the point finished)."""
    with torch_threads(job.threads):
        return _train_video_point(job)


def _train_video_point(job):
    from model import export
    from model.training import train_clip
    sweep, n, key = job.sweep, job.patch, job.key()
    settings = sweep.settings(job.device)
    ckpt = point_checkpoint(os.path.join(job.out, "video"), key, fresh=job.fresh,
                            every=job.checkpoint_every)
    model, quant, point = train_clip(sweep.clip(job.video), sweep.config(n), settings,
                                     progress=job.progress, video_name=job.video,
                                     checkpoint=ckpt)
    meta = {k: point[k] for k in ("video", "width", "height", "frames",
                                  "psnr_fp32", "psnr_int8", "steps", "seed")}
    export.save(os.path.join(job.out, "video", "models", key + ".npz"), config=sweep.config(n),
                fp32=model.state_arrays(), quant=quant,
                meta={**meta, "first_frame": 0, "frame_step": 1, "fit": "crop"})
    point["threads"] = job.threads
    point["package_version"] = package_version()
    point["train_machine"] = machine_info()
    write_json(os.path.join(job.points, key + ".json"), point)
    drop_checkpoint(ckpt)
    return (f"bench: {key}: FP32 {point['psnr_fp32']:.2f} dB, INT8 "
            f"{point['psnr_int8']:.2f} dB{ckpt.resumed_note}")


def video_status(sweep, out, points):
    """:func:`~accel.flows.bench.point_status` of every point of a video sweep, in its
    order: ``[(video, patch, status), ...]``."""
    from model.training import recipe_fingerprint
    settings = sweep.settings()
    return [(v, n, point_status(_point(os.path.join(points, sweep.key(v, n) + ".json"),
                                       sweep, v, n),
                                point_checkpoint(os.path.join(out, "video"), sweep.key(v, n)),
                                recipe_fingerprint(sweep.config(n), settings)))
            for v in sweep.videos for n in sweep.patches]


def _hardware(sweep, patch):
    from ..config import BUILD, AccelConfig
    from ..cycles import frame_cycles
    rows, cols = BUILD.array
    config = AccelConfig.fitting(model=sweep.config(patch), rows=rows, cols=cols,
                                 batch=BUILD.batch, precision="int8")
    cycles = frame_cycles(config, sweep.size, sweep.size, frames=sweep.frames)
    return {"array": f"{rows}x{cols}", "batch": BUILD.batch,
            "cycles_per_clip": cycles["total"],
            "cycles_per_frame": cycles["total"] / sweep.frames,
            "fps": cycles["fps"], "clock_hz": cycles["clock_hz"]}


def video_report(sweep, out, results, *, allow_missing=False, log=print):
    """Tables and plots from the finished points; returns what ``video.json`` holds (the
    trained points' rows in ``points``, the others in ``pending``).

    Points not trained with this sweep's settings raise :class:`UserError`, or with
    ``allow_missing`` become rows that say so and give the command that trains them (in
    ``video.json``'s ``pending``); a sweep with no trained point raises either way."""
    points_dir = os.path.join(results, "video", "points")
    found = {(video, n): _point(os.path.join(points_dir, sweep.key(video, n) + ".json"),
                                sweep, video, n)
             for video in sweep.videos for n in sweep.patches}
    missing = [sweep.key(*k) for k, p in found.items() if p is None]
    if missing and (not allow_missing or len(missing) == len(found)):
        raise UserError(f"points not trained with this sweep's settings in {points_dir!r}: "
                        f"{', '.join(missing)} (run --stage train"
                        + (")" if len(missing) == len(found) else
                           ", or report the rest without --require-all)"))
    rows, pending = [], []
    for video in sweep.videos:
        base = None
        for n in sweep.patches:
            point = found[(video, n)]
            if point is None:
                pending.append({"video": video, "patch": n, "pending": True,
                                "to_train": _train_command(sweep, video, n)})
                continue
            hw = _hardware(sweep, n)
            row = {k: point[k] for k in ("video", "patch", "psnr_fp32", "psnr_int8",
                                         "psnr_fp32_frames", "psnr_int8_frames", "params",
                                         "param_overhead", "seconds_per_step",
                                         "queries_per_frame", "steps", "frames")}
            row.update(hw)
            # The float phase's end and its post-training quantization: what an INT8-only
            # model keeps when the quantization-aware phase does not beat it.
            row["psnr_fp32_pretrain"] = point.get("psnr_fp32_pretrain")
            row["psnr_int8_ptq"] = point.get("psnr_int8_ptq")
            row["curve"] = point.get("curve")
            row["last_fifth_gain"] = convergence(row["curve"], sweep.steps,
                                                 sweep.qat_steps)
            row["spikes"] = spikes(point.get("history"), sweep.steps - sweep.qat_steps)
            if n == 1:
                base = row
            rows.append(row)
        mine = [r for r in rows if r["video"] == video]
        for row in mine:
            if base is not None:
                row["psnr_int8_vs_n1"] = row["psnr_int8"] - base["psnr_int8"]
                row["psnr_fp32_vs_n1"] = row["psnr_fp32"] - base["psnr_fp32"]
                if None not in (row["psnr_int8_ptq"], base["psnr_int8_ptq"]):
                    row["psnr_int8_ptq_vs_n1"] = row["psnr_int8_ptq"] - base["psnr_int8_ptq"]
        _equal_time(mine)
    folder = os.path.join(results, "video")
    os.makedirs(folder, exist_ok=True)
    data = {"size": sweep.size, "frames": sweep.frames, "steps": sweep.steps,
            "seed": sweep.seed, "points": rows, "pending": pending}
    write_json(os.path.join(folder, "video.json"), data)
    write_bytes(os.path.join(folder, "video.md"), markdown(rows, sweep, pending).encode())
    _plots(sweep, out, folder, rows, log)
    return data


def _train_command(sweep, video, patch):
    """The command line that trains one point of ``sweep`` (its non-default settings)."""
    import shlex

    from .bench import recipe_args
    args = ["python -m accel.bench --videos", shlex.quote(video), "--size", str(sweep.size),
            "--frames", str(sweep.frames), "--patches", str(patch), "--steps", str(sweep.steps)]
    return " ".join(args + recipe_args(sweep) + ["--stage", "train"])


def convergence(curve, steps, qat_steps=0):
    """The INT8 PSNR the last fifth of the float phase (the first ``steps - qat_steps``
    steps) added along ``curve`` (``(step, seconds, fp32, int8)`` points; in the float phase
    the INT8 figure is the weights' post-training quantization), or ``None`` without a
    curve that covers it.

    The quantization-aware phase is left out: its first steps move the weights away from
    the float phase's optimum (the INT8 figure drops by several dB, then recovers), so a
    gain measured across it is the recovery, not how far training still had to go."""
    end = steps - qat_steps
    seen = [c for c in curve or () if c[0] <= end]
    start = [c for c in seen if c[0] <= 0.8 * end]
    if not start or seen[-1] is start[-1]:
        return None
    return seen[-1][3] - start[-1][3]


def spikes(history, float_steps, threshold=SPIKE_DB):
    """The loss spikes of a run's float phase: each place where the training PSNR
    (``history``: ``(step, psnr)`` every few steps, the mini-batch's) falls more than
    ``threshold`` dB below the highest it had reached, as ``{"step", "before", "low",
    "recovered"}``: the step of that high and its PSNR, the lowest PSNR until the run is
    back at it, and the step it is (``None``: not within the phase).

    A spike undoes what the steps before it learnt, sharply (tens of dB within ten steps)
    or, with the spike guard (``--clip-grad``), over tens of steps; a run that has one is
    behind a run that has none by about the steps it takes to recover, and the weights it
    ends with may differ (larger, so coarser on the INT8 grid)."""
    seen = [(int(s), float(p)) for s, p in history or () if s < float_steps]
    found, i = [], 0
    while i < len(seen):
        peak, low, j = seen[i], None, i + 1
        while j < len(seen) and seen[j][1] < peak[1]:
            low = seen[j][1] if low is None else min(low, seen[j][1])
            j += 1
        if low is not None and peak[1] - low > threshold:
            found.append({"step": peak[0], "before": peak[1], "low": low,
                          "recovered": seen[j][0] if j < len(seen) else None})
        # The next candidate high is where the run is back at this one (or the next entry).
        i = j if j > i + 1 and low is not None else i + 1
    return found


def _equal_time(rows):
    """Each row's INT8 PSNR at the training time the clip's fastest point took in all (its
    curve's last point at or before it), when every row has a curve."""
    if not rows or any(not r["curve"] for r in rows):
        return
    budget = min(r["curve"][-1][1] for r in rows)
    for r in rows:
        seen = [c for c in r["curve"] if c[1] <= budget]
        r["equal_time"] = {"seconds": budget, "step": seen[-1][0] if seen else 0,
                           "psnr_int8": seen[-1][3] if seen else None}


def markdown(rows, sweep, pending=()):
    """The table (in the sweep's order of clips and patch sizes; a point not trained yet
    is a row that says so) and, when every trained point has a curve, the comparison at
    equal training time."""
    lines = [f"Clips at {sweep.size}x{sweep.size}, {sweep.frames} frames, {sweep.steps} "
             f"steps per point; PSNR is the mean over the frames of each frame's PSNR.", "",
             "| clip | n | PSNR FP32 | PSNR INT8 | INT8 vs n = 1 | float phase's end: FP32 / "
             "INT8 | its INT8 vs n = 1 | last fifth of the float phase | "
             "parameters | overhead | s / step | queries / frame | cycles / frame | "
             f"fps @ {CLOCK_HZ / 1e6:g} MHz |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    order = {(v, n): i for i, (v, n) in enumerate(
        (v, n) for v in sweep.videos for n in sweep.patches)}
    for r in sorted([*rows, *pending], key=lambda r: order[(r["video"], r["patch"])]):
        if r.get("pending"):
            lines.append(f"| {r['video']} | {r['patch']} | not trained with this sweep's "
                         f"settings yet: `{r['to_train']}` |" + " |" * 11)
            continue
        vs = r.get("psnr_int8_vs_n1")
        gain = r.get("last_fifth_gain")
        conv = ("not recorded" if gain is None else
                f"{gain:+.2f} dB ({'converged' if gain < CONVERGED_DB else 'not converged'})")
        end = ("-" if r.get("psnr_int8_ptq") is None else
               f"{r['psnr_fp32_pretrain']:.2f} / {r['psnr_int8_ptq']:.2f} dB")
        end_vs = r.get("psnr_int8_ptq_vs_n1")
        lines.append(
            f"| {r['video']} | {r['patch']} | {r['psnr_fp32']:.2f} dB | {r['psnr_int8']:.2f} dB "
            f"| {'-' if vs is None else f'{vs:+.2f} dB'} | {end} | "
            f"{'-' if end_vs is None else f'{end_vs:+.2f} dB'} | {conv} | {r['params']:,} | "
            f"{100 * r['param_overhead']:+.2f} % | {r['seconds_per_step']:.2f} | "
            f"{r['queries_per_frame']:,} | {r['cycles_per_frame']:,.0f} | "
            f"{r['fps']:,.1f} |")
    timed = [r for r in rows if r.get("equal_time")]
    if timed:
        lines += ["", "At equal training time (each run's curve read at the seconds the "
                  "clip's fastest run took in all; INT8 PSNR on the ranking queries, the "
                  "weights of that step: a run planned for that time would anneal its rate "
                  "before it):", "",
                  "| clip | n | seconds | step | PSNR INT8 |", "|---|---:|---:|---:|---:|"]
        for r in timed:
            t = r["equal_time"]
            p = "-" if t["psnr_int8"] is None else f"{t['psnr_int8']:.2f} dB"
            lines.append(f"| {r['video']} | {r['patch']} | {t['seconds']:,.0f} | "
                         f"{t['step']:,} | {p} |")
    spiked = [r for r in rows if r.get("spikes")]
    if spiked:
        lines += ["", f"Loss spikes in the float phase (the training PSNR, logged every "
                  f"10 steps, falling more than {SPIKE_DB:g} dB below the highest it had "
                  f"reached; the step it is back):", "",
                  "| clip | n | step | PSNR before | lowest | back at step |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in spiked:
            for sp in r["spikes"]:
                back = "never" if sp["recovered"] is None else f"{sp['recovered']:,}"
                lines.append(f"| {r['video']} | {r['patch']} | {sp['step']:,} | "
                             f"{sp['before']:.2f} dB | {sp['low']:.2f} dB | {back} |")
    elif rows:
        lines += ["", f"No loss spikes in the float phase (the training PSNR never fell "
                  f"more than {SPIKE_DB:g} dB below the highest it had reached)."]
    return "\n".join(lines) + "\n"


def _plots(sweep, out, folder, rows, log):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from model import export
    from model.evaluate import png_bytes, render_clip_int8
    from model.video import frame_strip

    fig, axes = plt.subplots(1, len(sweep.videos), figsize=(5 * len(sweep.videos), 3.5),
                             squeeze=False)
    for ax, video in zip(axes[0], sweep.videos):
        for r in rows:
            if r["video"] == video:
                ax.plot(r["psnr_int8_frames"], marker="o", label=f"n = {r['patch']}")
        ax.set(title=f"{video}: INT8 PSNR per frame", xlabel="frame", ylabel="dB")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "video_psnr_frames.png"), dpi=110)
    plt.close(fig)
    _convergence_plot(plt, sweep, folder, rows)
    shown = [n for n in (1, 2, 8) if n in sweep.patches]
    for video in sweep.videos:
        models = [os.path.join(out, "video", "models", sweep.key(video, n) + ".npz")
                  for n in shown]
        missing = [m for m in models if not os.path.exists(m)]
        if missing:
            # The point files hold the figures; the strips need the models themselves,
            # which stay in the working folder (not committed): a report regenerated from
            # the points alone keeps the strips it has.
            log(f"bench: strip of {video} not redrawn: no model file {missing[0]!r} "
                f"(train the sweep here, or keep the strip as it is)")
            continue
        clip = sweep.clip(video)
        strips = [frame_strip(clip, count=4)]
        for path in models:
            mf = export.load(path)
            strips.append(frame_strip(render_clip_int8(mf.quant, sweep.size, sweep.size,
                                                       sweep.frames), count=4)
                          .astype(np.float32) / 255.0)
        gap = np.ones((2, strips[0].shape[1], 3), dtype=np.float32)
        stacked = np.concatenate([x for s in strips for x in (s, gap)][:-1])
        from .bench import source_stem
        stem = source_stem(video)
        write_bytes(os.path.join(folder, f"video_strip_{stem}.png"), png_bytes(stacked))
        log(f"bench: strip of {video}: original, then n = {', '.join(map(str, shown))} (INT8)")
    print(f"wrote {folder}", file=sys.stderr)


def _convergence_plot(plt, sweep, folder, rows):
    """INT8 PSNR against step (top) and training seconds (bottom), a line per n, a column
    per clip; points without a curve are left out (said in the title)."""
    fig, axes = plt.subplots(2, len(sweep.videos), figsize=(5 * len(sweep.videos), 6.5),
                             squeeze=False)
    for col, video in enumerate(sweep.videos):
        mine = [r for r in rows if r["video"] == video]
        missing = [str(r["patch"]) for r in mine if not r["curve"]]
        untrained = [str(n) for n in sweep.patches if n not in {r["patch"] for r in mine}]
        for r in mine:
            if r["curve"]:
                c = np.array(r["curve"], dtype=np.float64)
                axes[0][col].plot(c[:, 0], c[:, 3], label=f"n = {r['patch']}")
                axes[1][col].plot(c[:, 1], c[:, 3], label=f"n = {r['patch']}")
        note = f" (no curve: n = {', '.join(missing)})" if missing else ""
        note += f" (not trained: n = {', '.join(untrained)})" if untrained else ""
        axes[0][col].set(title=f"{video}: INT8 PSNR{note}", xlabel="step", ylabel="dB")
        axes[1][col].set(xlabel="training seconds", ylabel="dB")
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
            if any(r["curve"] for r in mine):
                ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "video_convergence.png"), dpi=110)
    plt.close(fig)
