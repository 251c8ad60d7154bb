"""The benchmark sweep: reconstruction quality, latency and cost against patch size.

Command line::

    python -m accel.bench                      # the full sweep: 4 images x n in {1,2,4,8,16}
    python -m accel.bench --images camera --size 64 --patches 1,2 --steps 50 --no-synth
    python -m accel.bench --stage train        # training only (say, on a GPU machine)
    python -m accel.bench --stage report       # tables and plots from the finished points
    python -m accel.bench --stage status       # where each point stands: done, under way, to train
    python -m accel.bench --videos carphone --patches 1,2 --stage gap   # where n = 2 loses
    python -m accel.bench --videos bikes,carphone --size 128 --frames 16 --patches 1,2,4,8 \\
        --steps 300                            # the video sweep (accel.flows.video_bench)

What each stage does and writes is described in :mod:`accel.flows.bench`.
"""

import argparse
import contextlib
import math
import os
import sys

from model.support.errors import ArgumentParser, UserError, cli_entry
from model.support.validate import int_list
from model.train import add_disagreement_option, add_rewind_option, add_warmup_option

from .cluster_options import add_cluster_options, cluster_kwargs
from ..flows.bench import DEFAULT_IMAGES, DEFAULT_PATCHES, SweepSpec, report, train_points

__all__ = ["build_parser", "main"]


def build_parser():
    p = ArgumentParser(prog="python -m accel.bench", description=__doc__.split("\n\n")[0],
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", default=",".join(DEFAULT_IMAGES),
                   help="comma-separated scikit-image names or files (default: %(default)s)")
    p.add_argument("--videos", default=None,
                   help="comma-separated clips (bundled names, files, frame folders): the "
                        "video sweep instead of the image sweep")
    p.add_argument("--frames", type=int, default=16, help="video sweep: frames per clip "
                   "(default %(default)s)")
    p.add_argument("--patches", type=int_list, default=list(DEFAULT_PATCHES),
                   help="comma-separated patch sizes (default 1,2,4,8,16)")
    p.add_argument("--size", type=int, default=256, help="square frame size (default 256)")
    p.add_argument("--steps", type=int, default=2000, help="training steps per point (default 2000)")
    p.add_argument("--hidden", type=int, default=None, help="width of the sine layers (default model)")
    p.add_argument("--layers", type=int, default=None, help="sine layers (default model)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--qat-steps", type=int, default=None,
                   help="of --steps, the last ones trained through the INT8 datapath (default a quarter)")
    p.add_argument("--keep", choices=["dual", "int8", "fp32"], default="dual",
                   help="what each point's model is for, and so which state of its training is "
                        "kept (model.train --keep): dual (the default) the best whose FP32 and "
                        "INT8 frames agree within 1 dB, int8 or fp32 that datapath's best")
    p.add_argument("--clip-grad", type=float, default=None, metavar="K",
                   help="guard each point's float phase against loss spikes (model.train "
                        "--clip-grad): clip each step's gradient norm to K times the running "
                        "mean of the last steps' (default: off)")
    add_rewind_option(p, "each point's")
    add_disagreement_option(p, "each point's ")
    add_warmup_option(p)
    p.add_argument("--stage", choices=["all", "train", "report", "gap", "status"],
                   default="all",
                   help="all (the default), train, report, gap (videos: where larger "
                        "patches lose to n = 1, from the trained model files), or status "
                        "(each point done, under way in its checkpoint, or to train; reads "
                        "no data)")
    p.add_argument("--out", default="runs/bench",
                   help="working folder: model files, Yosys caches (default %(default)s)")
    p.add_argument("--results", default="docs/results",
                   help="where results.json, results.csv and the plots go, and the point files "
                        "in its points/ (default %(default)s)")
    p.add_argument("--require-all", action="store_true",
                   help="report: fail when a point is not trained with the current recipe "
                        "(by default such points become rows that say so)")
    p.add_argument("--device", default="auto", help="training device: auto, cpu or cuda")
    p.add_argument("--fresh", action="store_true",
                   help="retrain finished points and start half-trained ones over")
    p.add_argument("--checkpoint-every", type=float, default=300.0, metavar="SECONDS",
                   help="seconds of training between a point's checkpoints in OUT/checkpoints "
                        "(also saved on Ctrl-C; the next run resumes them; default %(default)g)")
    p.add_argument("--no-synth", action="store_true", help="skip the Yosys resource estimates")
    add_cluster_options(p, "point", "CPUs (torch threads) a point trains with, in a Ray "
                        "task or in this process: the same N gives the same bytes either way")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


@cli_entry("accel.bench")
def main(argv=None):
    args = build_parser().parse_args(argv)
    if not math.isfinite(args.checkpoint_every) or args.checkpoint_every < 0:
        raise UserError(f"--checkpoint-every must be a number of seconds >= 0, not "
                        f"{args.checkpoint_every}")
    args.where = _where(args) if args.stage in ("all", "train") else {}
    if args.videos is not None:
        return _videos(args)
    if args.stage == "gap":
        raise UserError("--stage gap measures a video sweep: give --videos")
    images = [s.strip() for s in args.images.split(",") if s.strip()]
    spec = SweepSpec(images=images, patches=args.patches, size=args.size, steps=args.steps,
                     hidden=args.hidden, layers=args.layers, seed=args.seed,
                     qat_steps=args.qat_steps, keep=args.keep, clip_grad=args.clip_grad,
                     qat_consistency=args.qat_consistency,
                     warmup=args.warmup, rewind=args.rewind)
    if args.stage == "status":
        from ..flows.bench import sweep_status
        return _status(sweep_status(spec, args.out, os.path.join(args.results, "points")),
                       os.path.join(args.out, "checkpoints"))
    if args.stage in ("all", "train"):
        # The training settings (device, seed) are checked before anything is logged.
        spec.settings(args.device)

    def log(line):
        print(line, file=sys.stderr, flush=True)
    for d in (args.out, args.results):
        try:
            os.makedirs(d, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create {d!r}: {exc.strerror}") from None
    if args.stage in ("all", "train"):
        with _resume_hint(args.out, log):
            failed = train_points(spec, args.out, os.path.join(args.results, "points"),
                                  fresh=args.fresh, device=args.device,
                                  progress=not args.quiet, log=log,
                                  checkpoint_every=args.checkpoint_every,
                                  **args.where)
        if failed:
            return _failed(failed, log)
    if args.stage in ("all", "report"):
        results = report(spec, args.out, args.results, synth=not args.no_synth,
                         allow_missing=not args.require_all, log=log)
        for p in results["points"]:
            print(f"{p['image']:>10} n={p['patch']:<2} FP32 {p['psnr_fp32']:6.2f} dB  "
                  f"INT8 {p['psnr_int8']:6.2f} dB  {p['params']:>7,} params "
                  f"({100 * p['param_overhead']:+.2f} %)  {p['cycles_per_frame']:>9,} cycles "
                  f"{p['fps']:8.1f} fps  x{p['speedup_vs_cpu']:.0f} vs CPU")
        for p in results["pending"]:
            print(f"{p['image']:>10} n={p['patch']:<2} not trained with the current recipe yet")
        print(f"wrote {os.path.join(args.results, 'results.json')}, results.csv and plots")
    return 0


def _where(args):
    return cluster_kwargs(args, "point")


def _status(rows, checkpoints):
    """Print one line a point (stdout) and a count (stderr); 0."""
    from ..flows.bench import status_text
    for source, n, status in rows:
        print(f"{source:>10} n={n:<2} {status_text(status)}")
    counts = {}
    for *_, status in rows:
        counts[status["state"]] = counts.get(status["state"], 0) + 1
    print(f"bench: {len(rows)} points: "
          + ", ".join(f"{k} {v}" for k, v in counts.items())
          + f" (checkpoints in {checkpoints})", file=sys.stderr)
    return 0


def _failed(keys, log):
    log(f"bench: {len(keys)} point(s) failed ({', '.join(keys)}): the others are finished; "
        f"the same command trains what is missing")
    return 1


@contextlib.contextmanager
def _resume_hint(out, log):
    """On Ctrl-C, say that the point under way was saved and how to go on."""
    try:
        yield
    except KeyboardInterrupt:
        log(f"bench: the point under way is saved in {os.path.join(out, 'checkpoints')} (or "
            f"video/checkpoints): the same command resumes it")
        raise


def _videos(args):
    from ..flows.video_bench import VideoSweep, train_video_points, video_report
    from ..flows.video_gap import video_gap
    patches = args.patches if args.patches != list(DEFAULT_PATCHES) else [1, 2, 4, 8]
    sweep = VideoSweep(videos=[v.strip() for v in args.videos.split(",") if v.strip()],
                       patches=patches, size=args.size, frames=args.frames, steps=args.steps,
                       seed=args.seed, hidden=args.hidden, layers=args.layers,
                       qat_steps=args.qat_steps, keep=args.keep, clip_grad=args.clip_grad,
                       qat_consistency=args.qat_consistency, warmup=args.warmup,
                       rewind=args.rewind)

    def log(line):
        print(line, file=sys.stderr, flush=True)
    points = os.path.join(args.results, "video", "points")
    if args.stage == "status":
        from ..flows.video_bench import video_status
        return _status(video_status(sweep, args.out, points),
                       os.path.join(args.out, "video", "checkpoints"))
    if args.stage in ("all", "train"):
        with _resume_hint(args.out, log):
            _, failed = train_video_points(sweep, args.out, points, fresh=args.fresh,
                                           device=args.device, progress=not args.quiet,
                                           log=log, checkpoint_every=args.checkpoint_every,
                                           **args.where)
        if failed:
            return _failed(failed, log)
    if args.stage == "gap":
        for r in video_gap(sweep, args.out, args.results, log=log):
            m = r["int8"]
            print(f"{r['video']:>10} n={r['patch']:<2} INT8 {m['psnr']:6.2f} dB  gap "
                  f"{m['gap_db']:+.2f} dB  least-squares head {r['head_refit_gain_db']:+.2f} "
                  f"dB")
    if args.stage in ("all", "report"):
        data = video_report(sweep, args.out, args.results,
                            allow_missing=not args.require_all, log=log)
        for r in data["points"]:
            print(f"{r['video']:>10} n={r['patch']:<2} FP32 {r['psnr_fp32']:6.2f} dB  INT8 "
                  f"{r['psnr_int8']:6.2f} dB  {r['params']:>7,} params  "
                  f"{r['cycles_per_frame']:>11,.0f} cycles/frame {r['fps']:8.1f} fps")
        for r in data["pending"]:
            print(f"{r['video']:>10} n={r['patch']:<2} not trained with this sweep's "
                  f"settings yet: {r['to_train']}")
    return 0
