"""Fit a PatchINR to an image or a video clip, quantize it to INT8 and write the model file.

Command line::

    python -m model.train --image camera --size 256 --patch 2 --steps 2000 \\
        --out runs/camera_p2.npz --json runs/camera_p2.json
    python -m model.train --video bikes --size 128 --frames 16 --patch 2 \\
        --out clip.npz --json clip.json

A video model takes ``(x, y, t)`` (:mod:`model.video`) and trains on mini-batches of
``--batch`` queries (default 65,536: all of a 128x128, 16-frame clip's at n = 2).

The recipe (schedule, quantization-aware steps, what is kept) is described in
:mod:`model.training`.
"""

import argparse
import math
import os
import sys

# Only light modules at the top: torch loads inside main, where an interrupt is handled.
from .config import (DEFAULT_LR, DEFAULT_QAT_CONSISTENCY, INT8_QAT_CONSISTENCY, VIDEO_BATCH,
                     PatchINRConfig)
from .support.errors import ArgumentParser, UserError, cli_entry
from .support.files import OutputSet, check_output, json_bytes
from .support.validate import parse_size

__all__ = ["build_parser", "main", "add_disagreement_option",
           "add_warmup_option", "add_rewind_option"]


def add_rewind_option(p, whose="the"):
    """``--rewind`` (here and on the sweeps): the float phase's guard against collapses."""
    p.add_argument("--rewind", type=float, default=None, metavar="DB",
                   help=f"guard {whose} float phase against collapses: when the training "
                        f"PSNR falls more than DB below its best, go back to the best step's "
                        f"weights and optimiser state and halve the learning rate "
                        f"(default: off)")


def add_warmup_option(p):
    """``--warmup`` (here and on the sweeps): the learning rate's linear warm-up."""
    p.add_argument("--warmup", type=int, default=0, metavar="STEPS",
                   help="raise the learning rate linearly to its peak over the first STEPS "
                        "steps (default 0: the peak from the first step)")


def add_disagreement_option(p, whose="the "):
    """``--qat-consistency`` (here and on the sweeps, ``accel.bench``): the
    quantization-aware loss's weight on the FP32/INT8 disagreement."""
    p.add_argument("--qat-consistency", type=float, default=None, metavar="WEIGHT",
                   help=f"weight of the FP32/INT8 disagreement in {whose}quantization-aware "
                        f"loss (default {DEFAULT_QAT_CONSISTENCY:g}, or "
                        f"{INT8_QAT_CONSISTENCY:g} with --keep int8)")


def build_parser():
    p = ArgumentParser(prog="python -m model.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", help="scikit-image name (camera, astronaut, ...) or image file")
    src.add_argument("--video", help="bundled clip (bikes, bigbuckbunny, carphone), a video or "
                     "GIF file, or a folder of PNG frames")
    p.add_argument("--size", default="256", help="N or WxH (default %(default)s)")
    p.add_argument("--gray", action="store_true", help="convert to grayscale (default: keep the image's)")
    p.add_argument("--frames", type=int, default=16, help="video: frames to fit (default %(default)s)")
    p.add_argument("--first-frame", type=int, default=0, help="video: first frame taken (0-based)")
    p.add_argument("--frame-step", type=int, default=1, help="video: take every k-th frame")
    p.add_argument("--fit", default="crop", choices=["crop", "stretch"],
                   help="video: crop to the size's aspect ratio around the centre, or stretch")
    p.add_argument("--batch", type=int, default=None,
                   help="queries per step (default: all of an image's; 65536 for video)")
    p.add_argument("--patch", type=int, default=2, help="patch size n (1 = pixel-wise INR)")
    p.add_argument("--hidden", type=int, default=PatchINRConfig().hidden, help="width of the sine layers")
    p.add_argument("--layers", type=int, default=PatchINRConfig().layers, help="number of sine layers")
    p.add_argument("--omega0", type=float, default=30.0)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=DEFAULT_LR,
                   help=f"(peak) learning rate (default {DEFAULT_LR:g})")
    add_warmup_option(p)
    p.add_argument("--schedule", default="cosine", choices=["cosine", "constant"],
                   help="learning-rate schedule (SIREN's recipe: --lr 1e-4 --schedule constant)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--qat-steps", type=int, default=None,
                   help="of --steps, the last ones trained through the INT8 datapath "
                        "(default: a quarter; 0: float only, then post-training quantization)")
    add_disagreement_option(p)
    p.add_argument("--qat-lr", type=float, default=None,
                   help="a constant learning rate for the quantization-aware steps (default: "
                        "the schedule goes on)")
    p.add_argument("--clip-grad", type=float, default=None, metavar="K",
                   help="guard the float phase against loss spikes: clip each step's "
                        "gradient norm to K times the running mean of the last steps' "
                        "(default: off)")
    add_rewind_option(p)
    p.add_argument("--keep", default="dual", choices=["dual", "int8", "fp32"],
                   help="what the model is for, so which state is kept: dual (default: FP32 "
                        "and INT8 frames within 1 dB, for a dual build), int8 or fp32 (the "
                        "best frame of that datapath)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--checkpoint", default=None,
                   help="file the training state is saved to every --checkpoint-every seconds, "
                        "on Ctrl-C and at the end (default: OUT.ckpt with --out)")
    p.add_argument("--checkpoint-every", type=float, default=300.0, metavar="SECONDS",
                   help="seconds of training between checkpoints (default %(default)g)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint (same settings): the result is the "
                        "same, bit for bit, as a run that was never interrupted")
    p.add_argument("--out", default=None, help="model file to write (.npz)")
    p.add_argument("--json", default=None, help="results JSON to write")
    p.add_argument("--png", default=None, help="write FP32 and INT8 reconstructions as PREFIX_fp32.png, PREFIX_int8.png")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


@cli_entry("model.train")
def main(argv=None):
    args = build_parser().parse_args(argv)
    w, h = parse_size(args.size)
    pngs = [f"{args.png}_fp32.png", f"{args.png}_int8.png"] if args.png else []
    outputs = [p for p in (args.out, args.json, *pngs) if p]
    if len(set(outputs)) != len(outputs):
        raise UserError(f"two outputs name the same file: {sorted(outputs)}")
    for path in outputs:
        check_output(path, inputs=(args.image or args.video,))

    from .training import TrainSettings

    if args.video is None:
        for flag, value, default in (("--frames", args.frames, 16),
                                     ("--first-frame", args.first_frame, 0),
                                     ("--frame-step", args.frame_step, 1)):
            if value != default:
                raise UserError(f"{flag} is for --video, not --image")
    batch = args.batch if args.batch is not None or args.image else VIDEO_BATCH
    settings = TrainSettings(steps=args.steps, lr=args.lr, schedule=args.schedule,
                             warmup=args.warmup, seed=args.seed,
                             device=args.device, qat_steps=args.qat_steps,
                             qat_consistency=args.qat_consistency, batch=batch, keep=args.keep,
                             qat_lr=args.qat_lr, clip_grad=args.clip_grad,
                             rewind=args.rewind)
    checkpoint = _checkpoint(args)
    try:
        return _train(args, w, h, settings, pngs, checkpoint)
    except KeyboardInterrupt:
        if checkpoint is not None and os.path.exists(checkpoint.path):
            print(f"model.train: training state saved in {checkpoint.path}: the same command "
                  f"with --resume continues it", file=sys.stderr)
        raise


def _checkpoint(args):
    from .training import Checkpoint
    path = args.checkpoint or (args.out + ".ckpt" if args.out else None)
    if path is None:
        if args.resume:
            raise UserError("--resume needs --checkpoint FILE (or --out, whose OUT.ckpt it "
                            "resumes)")
        return None
    if args.resume and not os.path.exists(path):
        raise UserError(f"nothing to resume: checkpoint {path!r} does not exist")
    if not math.isfinite(args.checkpoint_every) or args.checkpoint_every < 0:
        raise UserError(f"--checkpoint-every must be a number of seconds >= 0, not "
                        f"{args.checkpoint_every}")
    if path in (args.out, args.json, *(f"{args.png}_{k}.png" for k in ("fp32", "int8"))):
        raise UserError(f"the checkpoint {path!r} is also an output")
    check_output(path, inputs=(args.image or args.video,))
    return Checkpoint(path, every=args.checkpoint_every, resume=args.resume)


def _train(args, w, h, settings, pngs, checkpoint):
    from .config import PatchINRConfig
    from .data import load_image, patch_grid
    from .evaluate import render_fp32, render_int8
    from .training import train_image
    if args.video is not None:
        return _train_video(args, w, h, settings, pngs, checkpoint)
    probe = load_image(args.image, size=None, channels=1 if args.gray else None)
    config = PatchINRConfig(patch=args.patch, channels=probe.shape[2], hidden=args.hidden,
                            layers=args.layers, omega0=args.omega0)
    patch_grid(w, h, args.patch)           # reject sizes the patch grid cannot tile, before loading
    image = load_image(args.image, size=(w, h), channels=config.channels)
    model, quant, results = train_image(image, config, settings, progress=not args.quiet,
                                        image_name=args.image, checkpoint=checkpoint)
    meta = {k: results[k] for k in ("image", "width", "height", "psnr_fp32", "psnr_int8", "steps", "seed")}
    _write(args, config, model, quant, meta, results, pngs,
           lambda: (render_fp32(model, w, h), render_int8(quant, w, h)))
    print(f"{args.image} {w}x{h} n={args.patch}: FP32 {results['psnr_fp32']:.2f} dB, "
          f"INT8 {results['psnr_int8']:.2f} dB, {results['params']:,} parameters "
          f"({100 * results['param_overhead']:+.2f} % vs n=1), "
          f"{results['seconds_per_step']:.3f} s/step{_resumed(checkpoint)}")
    _warn_if_collapsed(results)
    return 0


#: How far below its best a float phase may end before the run is said to have collapsed.
COLLAPSE_DB = 3.0


def _resumed(checkpoint):
    return "" if checkpoint is None else checkpoint.resumed_note


def _warn_if_collapsed(results):
    """One line on stderr when the float phase ended far below the best training PSNR it
    reached (a collapse: the fit fell and never came back), with what guards against it."""
    qat_from = results["steps"] - results["qat_steps"]
    float_log = [(s, p) for s, p in results["history"] if s < qat_from]
    if not float_log:
        return
    best_step, best = max(float_log, key=lambda h: h[1])
    end = float_log[-1][1]
    if end < best - COLLAPSE_DB:
        print(f"model.train: warning: the float phase ended {best - end:.1f} dB below the "
              f"training PSNR it had at step {best_step:,} ({best:.2f} dB): the fit "
              f"collapsed; --rewind 3 guards against it (docs/model.md, Collapses)",
              file=sys.stderr)


def _write(args, config, model, quant, meta, results, pngs, renders):
    """The model file, the PNGs (``renders()`` gives the FP32 and INT8 pictures) and the
    JSON. Every output is written beside its target first and replaces it only once all
    are on disk: a failure leaves every earlier file as it was."""
    from . import export
    from .evaluate import png_bytes
    out = OutputSet()
    if args.out:
        out.add(args.out, export.to_bytes(config=config, fp32=model.state_arrays(), quant=quant,
                                          meta=meta))
    if pngs:
        for path, picture in zip(pngs, renders()):
            out.add(path, png_bytes(picture))
    if args.json:
        out.add(args.json, json_bytes(results))
    out.commit()


def _train_video(args, w, h, settings, pngs, checkpoint):
    from .data import patch_grid
    from .evaluate import render_clip_fp32, render_clip_int8
    from .training import train_clip
    from .video import frame_strip, load_video
    patch_grid(w, h, args.patch)
    clip = load_video(args.video, size=(w, h), frames=args.frames, first=args.first_frame,
                      step=args.frame_step, channels=1 if args.gray else None, fit=args.fit)
    config = PatchINRConfig(patch=args.patch, channels=clip.shape[3], hidden=args.hidden,
                            layers=args.layers, omega0=args.omega0, coords=3)
    model, quant, results = train_clip(clip, config, settings, progress=not args.quiet,
                                       video_name=args.video, checkpoint=checkpoint)
    results.update(first_frame=args.first_frame, frame_step=args.frame_step, fit=args.fit)
    meta = {k: results[k] for k in ("video", "width", "height", "frames", "first_frame",
                                    "frame_step", "fit", "psnr_fp32", "psnr_int8", "steps",
                                    "seed")}
    _write(args, config, model, quant, meta, results, pngs,
           lambda: (frame_strip(render_clip_fp32(model, w, h, len(clip))),
                    frame_strip(render_clip_int8(quant, w, h, len(clip)))))
    print(f"{args.video} {w}x{h}x{len(clip)} n={args.patch}: FP32 {results['psnr_fp32']:.2f} dB, "
          f"INT8 {results['psnr_int8']:.2f} dB (means over the frames), "
          f"{results['params']:,} parameters ({100 * results['param_overhead']:+.2f} % vs "
          f"n=1), {results['seconds_per_step']:.3f} s/step{_resumed(checkpoint)}")
    _warn_if_collapsed(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
