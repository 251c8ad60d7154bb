"""Fit a PatchINR to an image, quantize it to INT8 and write the model file.

Command line::

    python -m model.train --image camera --size 256 --patch 2 --steps 2000 \\
        --out runs/camera_p2.npz --json runs/camera_p2.json

Training is full-batch (every patch centre of the frame each step) with Adam at a peak
learning rate of 3e-4 following a cosine down to 1/100 of it (``--schedule cosine``, see
:func:`lr_at`); the weights with the lowest training loss are kept. (5e-4 converges faster
at first but spiked on camera at n = 2 around step 400, on this CPU: the float model
recovered, to 77 dB, with weights ~9x their RMS, and post-training quantization of those
fell to 26 dB; at 3e-4 the largest weight stays within 4x the RMS.) SIREN's own recipe,
Adam at a constant 1e-4, is ``--lr 1e-4 --schedule constant``; the README compares both.

The last quarter of the steps (``--qat-steps``) is quantization-aware: the same optimiser
and schedule continue through the exact INT8 datapath (straight-through gradients),
minimising the INT8 error, the float error and, weighted by ``--qat-consistency``, the two
datapaths' disagreement; the best state whose FP32 and INT8 frames agree within 1 dB is
kept. Post-training quantization alone does not hold up: a float-only fit reaches
75-80 dB on camera and its weights then rely on precision that 8-bit activations do not
have (the README has the numbers). The model file holds the
final float weights and their quantization, so its FP32 and INT8 datapaths render the same
model; ``psnr_fp32_pretrain`` and ``psnr_int8_ptq`` record the float phase's end.
"""

import argparse
import copy
import json
import math
import os
import sys
import time

import numpy as np
import torch

from . import export
from .config import PatchINRConfig
from .data import load_image, patch_centres, patch_centres_q, patch_grid, patchify, to_signal
from .errors import ArgumentParser, UserError, cli_entry
from .evaluate import render_fp32, render_int8, save_png, score, shifted_psnr
from .network import PatchINR
from .quant import FakeQuantPatchINR, calibrate, quantize

__all__ = ["TrainSettings", "fit", "train_image", "lr_at", "main", "DEFAULT_LR",
           "DEFAULT_QAT_CONSISTENCY"]

#: Peak learning rate of the cosine schedule (see the module docstring for why not 5e-4).
DEFAULT_LR = 3e-4
#: Weight of the FP32/INT8 disagreement in the quantization-aware loss.
DEFAULT_QAT_CONSISTENCY = 100.0


class TrainSettings:
    """Optimiser settings (keyword-only, validated).

    ``qat_steps`` of the ``steps`` (the last ones; default a quarter) train through the
    exact INT8 datapath; 0 trains in float only and quantizes after training.
    ``qat_consistency`` weighs the FP32/INT8 disagreement in their loss (see
    :func:`_train_int8`).
    """

    def __init__(self, *, steps=2000, lr=DEFAULT_LR, schedule="cosine", warmup=0, seed=0,
                 device="auto", qat_steps=None, qat_batch=16384, qat_eval_every=20,
                 qat_consistency=DEFAULT_QAT_CONSISTENCY):
        if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
            raise UserError(f"steps must be a positive integer, not {steps!r}")
        if not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            raise UserError(f"learning rate must be a positive number, not {lr!r}")
        if not isinstance(warmup, int) or warmup < 0:
            raise UserError(f"warm-up steps must be a non-negative integer, not {warmup!r}")
        if qat_steps is None:
            qat_steps = steps // 4
        if not isinstance(qat_steps, int) or isinstance(qat_steps, bool) or qat_steps < 0:
            raise UserError(f"QAT steps must be a non-negative integer, not {qat_steps!r}")
        if qat_steps >= steps:
            raise UserError(f"QAT steps ({qat_steps}) must be fewer than steps ({steps}): "
                            f"they are the last steps of the training")
        if not isinstance(qat_batch, int) or qat_batch <= 0:
            raise UserError(f"QAT batch must be a positive integer, not {qat_batch!r}")
        if not isinstance(qat_eval_every, int) or qat_eval_every <= 0:
            raise UserError(f"QAT evaluation interval must be a positive integer, "
                            f"not {qat_eval_every!r}")
        if (not isinstance(qat_consistency, (int, float)) or isinstance(qat_consistency, bool)
                or not math.isfinite(qat_consistency) or qat_consistency < 0):
            raise UserError(f"QAT consistency weight must be a non-negative number, "
                            f"not {qat_consistency!r}")
        if schedule not in ("cosine", "constant"):
            raise UserError(f"unknown learning-rate schedule {schedule!r} (cosine or constant)")
        self.steps, self.lr, self.warmup, self.seed = steps, float(lr), warmup, int(seed)
        self.schedule = schedule
        self.qat_steps, self.qat_batch, self.qat_eval_every = qat_steps, qat_batch, qat_eval_every
        self.qat_consistency = float(qat_consistency)
        self.device = _pick_device(device)


def _pick_device(device):
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise UserError(f"unknown device {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' asked for, but torch sees no CUDA GPU")
    return dev


def lr_at(step, settings):
    """Learning rate of 0-based ``step``: linear warm-up, then constant or a cosine to
    ``lr/100``."""
    if step < settings.warmup:
        return settings.lr * (step + 1) / settings.warmup
    if settings.schedule == "constant":
        return settings.lr
    t = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
    return settings.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def _progress(total, desc, enabled):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, disable=not enabled, dynamic_ncols=True,
                file=sys.stderr, leave=False)


def fit(image, config, settings, *, progress=True):
    """Fit ``config``'s network to ``image`` (float32 ``[H, W, C]`` in [0, 1]).

    The first ``steps - qat_steps`` steps train the float network on every patch centre
    of the frame and keep the weights of lowest loss. The last ``qat_steps`` continue the
    same optimiser and schedule through the exact INT8 datapath
    (:class:`~model.quant.FakeQuantPatchINR`, straight-through gradients) on random batches
    of up to ``qat_batch`` patch centres, minimising the INT8 and the float error and
    ``qat_consistency`` times their disagreement; every ``qat_eval_every`` steps the whole
    frame is rendered both ways and the best state whose two frames agree within 1 dB is
    kept (see :func:`_train_int8`).

    Returns ``(model, pretrain, info)``: the final float model, the float model as the
    float phase left it, and ``info`` with ``train_seconds``, ``seconds_per_step`` (both
    phases) and the ``history`` of ``(step, psnr_db)``, every 10 steps (float PSNR in the
    float phase, INT8 PSNR of the batch after it).
    """
    h, w, c = image.shape
    if c != config.channels:
        raise UserError(f"image has {c} channels, configuration has {config.channels}")
    pw, ph = patch_grid(w, h, config.patch)
    torch.manual_seed(settings.seed)
    np.random.seed(settings.seed)
    dev = settings.device
    model = PatchINR(config).to(dev)
    coords = torch.as_tensor(patch_centres(pw, ph), device=dev)
    target = torch.as_tensor(to_signal(patchify(image, config.patch)), device=dev)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    float_steps = settings.steps - settings.qat_steps
    best_loss, best_state, history = float("inf"), None, []
    bar = _progress(settings.steps, f"fit n={config.patch}", progress)
    t0 = time.perf_counter()
    for step in range(float_steps):
        _set_lr(opt, step, settings)
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((model(coords) - target) ** 2)
        loss.backward()
        opt.step()
        lv = _finite(loss, step)
        if lv < best_loss:
            best_loss = lv
            best_state = copy.deepcopy(model.state_dict())
        if step % 10 == 0 or step == float_steps - 1:
            p = 10 * math.log10(4.0 / max(lv, 1e-20))   # targets span [-1, 1]: peak-to-peak 2
            history.append((step, p))
            bar.set_postfix_str(f"psnr {p:.2f} dB", refresh=False)
        bar.update(1)
    model.load_state_dict(best_state)
    pretrain = copy.deepcopy(model).cpu().eval()
    if settings.qat_steps:
        _train_int8(model, opt, coords, target, image, settings, bar, history,
                    start=float_steps)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    bar.close()
    return model.cpu().eval(), pretrain, {
        "train_seconds": seconds, "seconds_per_step": seconds / settings.steps,
        "history": history}


def _set_lr(opt, step, settings):
    for g in opt.param_groups:
        g["lr"] = lr_at(step, settings)


def _finite(loss, step):
    lv = loss.item()
    if not math.isfinite(lv):
        raise RuntimeError(f"training diverged at step {step} (loss {lv}); lower --lr")
    return lv


def _train_int8(model, opt, coords, target, image, settings, bar, history, *, start):
    """The quantization-aware phase of :func:`fit` (steps ``start .. steps-1``).

    The loss is the INT8 datapath's error plus the float model's plus
    ``qat_consistency`` times the mean squared difference of their outputs, all on the same
    batch and in the float model's [-1, 1] units. Trained for INT8 alone, the float weights
    drift until the FP32 datapath renders a visibly different image; trained for both
    errors alone, the float model goes on past the INT8 one, whose 8-bit activations put a
    floor of noise under it (measured on camera at n = 2: 55.7 against 50.9 dB). The
    disagreement term asks the two datapaths of one model file for the same picture, which
    is what a ``dual`` build switching precision at run time should show.

    A state is kept when its two frames are within 1 dB of each other and their worse PSNR
    is the best yet (or, while no state is within 1 dB, when the worse PSNR is the best yet).
    """
    cfg = model.config
    h, w, _ = image.shape
    pw, ph = patch_grid(w, h, cfg.patch)
    dev = settings.device
    fq = FakeQuantPatchINR(model).to(dev)
    coords_q = torch.as_tensor(patch_centres_q(pw, ph).astype(np.int64), device=dev)
    target_q = torch.as_tensor(patchify(image, cfg.patch).astype(np.float64) * 255.0, device=dev)
    gen = torch.Generator(device="cpu").manual_seed(settings.seed)
    q = len(coords_q)

    def rank():
        with torch.no_grad():
            p8 = 10 * math.log10(255.0 ** 2 / max(torch.mean((fq(coords_q) - target_q) ** 2).item(), 1e-20))
            p32 = 10 * math.log10(4.0 / max(torch.mean((model(coords) - target) ** 2).item(), 1e-20))
        return (abs(p8 - p32) <= 1.0, min(p8, p32)), p8

    best, _ = rank()
    best_state = copy.deepcopy(model.state_dict())
    for step in range(start, settings.steps):
        _set_lr(opt, step, settings)
        idx = (torch.randperm(q, generator=gen)[:settings.qat_batch].to(dev)
               if q > settings.qat_batch else slice(None))
        opt.zero_grad(set_to_none=True)
        # The INT8 error in pixel units, / 127.5**2: the float phase's [-1, 1] scale, so
        # Adam's moment estimates carry over.
        pix_q = fq(coords_q[idx])
        out_f = model(coords[idx])
        loss_q = torch.mean((pix_q - target_q[idx]) ** 2)
        loss_f = torch.mean((out_f - target[idx]) ** 2)
        # The two datapaths' disagreement, in the same [-1, 1] units.
        loss_c = torch.mean((out_f.double() - (pix_q / 127.5 - 1.0)) ** 2)
        (loss_q / 127.5 ** 2 + loss_f + settings.qat_consistency * loss_c).backward()
        opt.step()
        lv = _finite(loss_q, step)
        if step % 10 == 0:
            history.append((step, 10 * math.log10(255.0 ** 2 / max(lv, 1e-20))))
        if (step + 1 - start) % settings.qat_eval_every == 0 or step == settings.steps - 1:
            key, p8 = rank()
            if key > best:
                best, best_state = key, copy.deepcopy(model.state_dict())
            bar.set_postfix_str(f"int8 {p8:.2f} dB", refresh=False)
        bar.update(1)
    model.load_state_dict(best_state)


def train_image(image, config, settings, *, progress=True, image_name=None):
    """Fit, quantize and score. Returns ``(model, quant, results)``: the float model and the
    integer model the model file should hold (the quantization of that float model)."""
    h, w, _ = image.shape
    model, pretrain, info = fit(image, config, settings, progress=progress)
    quant = quantize(model)
    fp32 = score(image, render_fp32(model, w, h))
    int8 = score(image, render_int8(quant, w, h))
    results = {"qat_steps": settings.qat_steps, "qat_consistency": settings.qat_consistency}
    if settings.qat_steps:
        results["psnr_fp32_pretrain"] = score(image, render_fp32(pretrain, w, h))["psnr"]
        results["psnr_int8_ptq"] = score(image, render_int8(quantize(pretrain), w, h))["psnr"]
    else:
        results["psnr_fp32_pretrain"], results["psnr_int8_ptq"] = fp32["psnr"], int8["psnr"]
    pw, ph = patch_grid(w, h, config.patch)
    calib = calibrate(quant, patch_centres_q(pw, ph))
    results.update({
        "image": image_name, "width": w, "height": h, "patch": config.patch,
        "channels": config.channels, "config": config.to_dict(),
        "psnr_fp32": fp32["psnr"], "ssim_fp32": fp32["ssim"],
        "psnr_int8": int8["psnr"], "ssim_int8": int8["ssim"],
        "psnr_fp32_shifted": shifted_psnr(model, image),
        "params": config.params, "param_overhead": config.param_overhead,
        "steps": settings.steps, "lr": settings.lr, "schedule": settings.schedule,
        "seed": settings.seed,
        "train_seconds": info["train_seconds"], "seconds_per_step": info["seconds_per_step"],
        "device": str(settings.device), "calibration": calib,
        "history": info["history"],
    })
    return model, quant, results


def _parse_size(text):
    try:
        if "x" in text:
            w, h = text.lower().split("x")
            return int(w), int(h)
        return int(text), int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be N or WxH, not {text!r}") from None


def build_parser():
    p = ArgumentParser(prog="python -m model.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", required=True, help="scikit-image name (camera, astronaut, ...) or image file")
    p.add_argument("--size", type=_parse_size, default=(256, 256), help="N or WxH (default 256)")
    p.add_argument("--gray", action="store_true", help="convert to grayscale (default: keep the image's)")
    p.add_argument("--patch", type=int, default=2, help="patch size n (1 = pixel-wise INR)")
    p.add_argument("--hidden", type=int, default=PatchINRConfig().hidden, help="width of the sine layers")
    p.add_argument("--layers", type=int, default=PatchINRConfig().layers, help="number of sine layers")
    p.add_argument("--omega0", type=float, default=30.0)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=DEFAULT_LR,
                   help=f"(peak) learning rate (default {DEFAULT_LR:g})")
    p.add_argument("--schedule", default="cosine", choices=["cosine", "constant"],
                   help="learning-rate schedule (SIREN's recipe: --lr 1e-4 --schedule constant)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--qat-steps", type=int, default=None,
                   help="of --steps, the last ones trained through the INT8 datapath "
                        "(default: a quarter; 0: float only, then post-training quantization)")
    p.add_argument("--qat-consistency", type=float, default=DEFAULT_QAT_CONSISTENCY,
                   help=f"weight of the FP32/INT8 disagreement in the QAT loss "
                        f"(default {DEFAULT_QAT_CONSISTENCY:g})")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--out", default=None, help="model file to write (.npz)")
    p.add_argument("--json", default=None, help="results JSON to write")
    p.add_argument("--png", default=None, help="write FP32 and INT8 reconstructions as PREFIX_fp32.png, PREFIX_int8.png")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


@cli_entry("model.train")
def main(argv=None):
    args = build_parser().parse_args(argv)
    for path in (args.out, args.json):
        if path and os.path.isdir(path):
            raise UserError(f"output {path!r} is a directory")
    try:
        probe = load_image(args.image, size=None, channels=1 if args.gray else None)
        config = PatchINRConfig(patch=args.patch, channels=probe.shape[2], hidden=args.hidden,
                                layers=args.layers, omega0=args.omega0)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    w, h = args.size
    patch_grid(w, h, args.patch)           # reject sizes the patch grid cannot tile, before loading
    image = load_image(args.image, size=(w, h), channels=config.channels)
    settings = TrainSettings(steps=args.steps, lr=args.lr, schedule=args.schedule, seed=args.seed,
                             device=args.device, qat_steps=args.qat_steps,
                             qat_consistency=args.qat_consistency)
    model, quant, results = train_image(image, config, settings, progress=not args.quiet,
                                        image_name=args.image)
    meta = {k: results[k] for k in ("image", "width", "height", "psnr_fp32", "psnr_int8", "steps", "seed")}
    if args.out:
        export.save(args.out, config=config, fp32=model.state_arrays(), quant=quant, meta=meta)
    if args.png:
        save_png(f"{args.png}_fp32.png", render_fp32(model, w, h))
        save_png(f"{args.png}_int8.png", render_int8(quant, w, h))
    if args.json:
        if os.path.dirname(args.json):
            os.makedirs(os.path.dirname(args.json), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    print(f"{args.image} {w}x{h} n={args.patch}: FP32 {results['psnr_fp32']:.2f} dB, "
          f"INT8 {results['psnr_int8']:.2f} dB, {results['params']:,} parameters "
          f"({100 * results['param_overhead']:+.2f} % vs n=1), "
          f"{results['seconds_per_step']:.3f} s/step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
