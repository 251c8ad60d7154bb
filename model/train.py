"""Fit a PatchINR to an image, quantize it to INT8 and write the model file.

Command line::

    python -m model.train --image camera --size 256 --patch 2 --steps 2000 \\
        --out runs/camera_p2.npz --json runs/camera_p2.json

Training is full-batch (every patch centre of the frame each step) with Adam. The
learning rate warms up linearly for the first ``warmup`` steps and then follows a cosine
from ``lr`` down to ``lr/100`` (see :func:`lr_at`); the weights with the lowest training loss
are kept. SIREN's own recipe is Adam at a constant 1e-4.

INT8 is post-training quantization (:mod:`model.quant`). When it loses more than
``qat_threshold`` dB against FP32, the float weights are fine-tuned through the
fake-quantized datapath (straight-through gradients) for ``qat_steps`` steps and the better
of the two integer models is kept.
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
from .errors import UserError, cli_entry
from .evaluate import render_fp32, render_int8, save_png, score, shifted_psnr
from .network import PatchINR
from .quant import FakeQuantPatchINR, calibrate

__all__ = ["TrainSettings", "fit", "fine_tune_int8", "train_image", "lr_at", "main"]


class TrainSettings:
    """Optimiser settings (keyword-only, validated)."""

    def __init__(self, *, steps=2000, lr=1e-3, warmup=50, seed=0, device="auto",
                 qat_steps=300, qat_lr=2e-5, qat_threshold=1.0):
        if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
            raise UserError(f"steps must be a positive integer, not {steps!r}")
        if not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            raise UserError(f"learning rate must be a positive number, not {lr!r}")
        if not isinstance(warmup, int) or warmup < 0:
            raise UserError(f"warm-up steps must be a non-negative integer, not {warmup!r}")
        if not isinstance(qat_steps, int) or qat_steps < 0:
            raise UserError(f"QAT steps must be a non-negative integer, not {qat_steps!r}")
        self.steps, self.lr, self.warmup, self.seed = steps, float(lr), warmup, int(seed)
        self.qat_steps, self.qat_lr, self.qat_threshold = qat_steps, float(qat_lr), float(qat_threshold)
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
    """Learning rate of 0-based ``step``: linear warm-up, then cosine to ``lr/100``."""
    if step < settings.warmup:
        return settings.lr * (step + 1) / settings.warmup
    t = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
    return settings.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def _progress(total, desc, enabled):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, disable=not enabled, dynamic_ncols=True,
                file=sys.stderr, leave=False)


def fit(image, config, settings, *, progress=True):
    """Fit ``config``'s network to ``image`` (float32 ``[H, W, C]`` in [0, 1]).

    Returns ``(model, info)``; ``info`` has ``train_seconds``, ``seconds_per_step`` and the
    ``history`` of ``(step, psnr_db)`` (training PSNR, every 10 steps).
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
    best_loss, best_state, history = float("inf"), None, []
    bar = _progress(settings.steps, f"fit n={config.patch}", progress)
    t0 = time.perf_counter()
    for step in range(settings.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, settings)
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((model(coords) - target) ** 2)
        loss.backward()
        opt.step()
        lv = loss.item()
        if not math.isfinite(lv):
            raise RuntimeError(f"training diverged at step {step} (loss {lv}); lower --lr")
        if lv < best_loss:
            best_loss = lv
            best_state = copy.deepcopy(model.state_dict())
        if step % 10 == 0 or step == settings.steps - 1:
            p = 10 * math.log10(4.0 / max(lv, 1e-20))   # targets span [-1, 1]: peak-to-peak 2
            history.append((step, p))
            bar.set_postfix_str(f"psnr {p:.2f} dB", refresh=False)
        bar.update(1)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    bar.close()
    model.load_state_dict(best_state)
    model = model.cpu().eval()
    return model, {"train_seconds": seconds, "seconds_per_step": seconds / settings.steps,
                   "history": history}


def fine_tune_int8(model, image, settings, *, progress=True):
    """Quantization-aware fine-tuning: Adam on the float weights through the exact integer
    datapath (straight-through gradients). Returns a fine-tuned copy and its best int8 PSNR."""
    cfg = model.config
    h, w, _ = image.shape
    pw, ph = patch_grid(w, h, cfg.patch)
    dev = settings.device
    tuned = copy.deepcopy(model).to(dev).train()
    fq = FakeQuantPatchINR(tuned).to(dev)
    coords_q = torch.as_tensor(patch_centres_q(pw, ph).astype(np.int64), device=dev)
    target = torch.as_tensor(patchify(image, cfg.patch).astype(np.float64) * 255.0, device=dev)
    opt = torch.optim.Adam(tuned.parameters(), lr=settings.qat_lr)
    best_mse, best_state = float("inf"), copy.deepcopy(tuned.state_dict())
    bar = _progress(settings.qat_steps, "int8 fine-tune", progress)
    for step in range(settings.qat_steps):
        opt.zero_grad(set_to_none=True)
        pix = fq(coords_q)
        loss = torch.mean((pix - target) ** 2)
        if loss.item() < best_mse:       # value of the current weights' exact int8 frame
            best_mse = loss.item()
            best_state = copy.deepcopy(tuned.state_dict())
        loss.backward()
        opt.step()
        bar.set_postfix_str(f"psnr {10 * math.log10(255.0 ** 2 / max(best_mse, 1e-20)):.2f} dB",
                            refresh=False)
        bar.update(1)
    bar.close()
    tuned.load_state_dict(best_state)
    return tuned.cpu().eval()


def train_image(image, config, settings, *, progress=True, image_name=None):
    """Fit, quantize (fine-tuning if needed) and score. Returns ``(model, quant, results)``."""
    h, w, _ = image.shape
    model, info = fit(image, config, settings, progress=progress)
    fp32 = score(image, render_fp32(model, w, h))
    quant = FakeQuantPatchINR(model).export()
    int8 = score(image, render_int8(quant, w, h))
    results = {"psnr_int8_ptq": int8["psnr"], "qat_steps": 0}
    if fp32["psnr"] - int8["psnr"] > settings.qat_threshold and settings.qat_steps > 0:
        tuned = fine_tune_int8(model, image, settings, progress=progress)
        quant_t = FakeQuantPatchINR(tuned).export()
        int8_t = score(image, render_int8(quant_t, w, h))
        if int8_t["psnr"] > int8["psnr"]:
            quant, int8 = quant_t, int8_t
            results["qat_steps"] = settings.qat_steps
    pw, ph = patch_grid(w, h, config.patch)
    calib = calibrate(quant, patch_centres_q(pw, ph))
    results.update({
        "image": image_name, "width": w, "height": h, "patch": config.patch,
        "channels": config.channels, "config": config.to_dict(),
        "psnr_fp32": fp32["psnr"], "ssim_fp32": fp32["ssim"],
        "psnr_int8": int8["psnr"], "ssim_int8": int8["ssim"],
        "psnr_fp32_shifted": shifted_psnr(model, image),
        "params": config.params, "param_overhead": config.param_overhead,
        "steps": settings.steps, "lr": settings.lr, "seed": settings.seed,
        "train_seconds": info["train_seconds"], "seconds_per_step": info["seconds_per_step"],
        "device": str(settings.device), "calibration": calib,
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
    p = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", required=True, help="scikit-image name (camera, astronaut, ...) or image file")
    p.add_argument("--size", type=_parse_size, default=(256, 256), help="N or WxH (default 256)")
    p.add_argument("--gray", action="store_true", help="convert to grayscale (default: keep the image's)")
    p.add_argument("--patch", type=int, default=2, help="patch size n (1 = pixel-wise INR)")
    p.add_argument("--hidden", type=int, default=PatchINRConfig().hidden, help="width of the sine layers")
    p.add_argument("--layers", type=int, default=PatchINRConfig().layers, help="number of sine layers")
    p.add_argument("--omega0", type=float, default=30.0)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (cosine schedule)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--qat-steps", type=int, default=300,
                   help="INT8 fine-tuning steps, used when PTQ loses more than 1 dB (0: never)")
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
    settings = TrainSettings(steps=args.steps, lr=args.lr, seed=args.seed, device=args.device,
                             qat_steps=args.qat_steps)
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
