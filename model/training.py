"""Fit a PatchINR to an image and quantize it to INT8 (``python -m model.train`` runs this).

Training is full-batch (every patch centre of the frame each step) with Adam at a peak
learning rate of 3e-4 following a cosine down to 1/100 of it (``--schedule cosine``, see
:func:`lr_at`); the weights with the lowest training loss are kept. (5e-4 converges faster
at first but can spike, leaving weights far above their RMS that post-training
quantization cannot hold; the README has the run.) SIREN's own recipe,
Adam at a constant 1e-4, is ``--lr 1e-4 --schedule constant``; the README compares both.

The last quarter of the steps (``--qat-steps``) is quantization-aware: the same optimiser
and schedule continue through the exact INT8 datapath (straight-through gradients),
minimising the INT8 error, the float error and, weighted by ``--qat-consistency``, the two
datapaths' disagreement; the best state whose FP32 and INT8 frames agree within 1 dB is
kept. Post-training quantization alone does not hold up: a float-only fit goes far past
what 8-bit activations can represent and its weights then rely on that precision (the
README has the numbers). The model file holds the
final float weights and their quantization, so its FP32 and INT8 datapaths render the same
model; ``psnr_fp32_pretrain`` and ``psnr_int8_ptq`` record the float phase's end.
"""

import copy
import math
import sys
import time

import numpy as np
import torch

from .config import DEFAULT_LR, DEFAULT_QAT_CONSISTENCY
from .data import patch_centres, patch_centres_q, patch_grid, patchify, to_signal
from .errors import UserError
from .evaluate import render_fp32, render_int8, score, shifted_psnr
from .limits import LR_MAX, QAT_CONSISTENCY_MAX, SEED_MAX, check_memory, training_bytes
from .network import PatchINR
from .quant import FakeQuantPatchINR, calibrate, quantize
from .validate import nonnegative_int, nonnegative_number, one_of, positive_int, positive_number

__all__ = ["TrainSettings", "fit", "train_image", "lr_at", "DEFAULT_LR",
           "DEFAULT_QAT_CONSISTENCY"]



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
        positive_int("steps", steps)
        positive_number("learning rate", lr, maximum=LR_MAX)
        nonnegative_int("seed", seed, maximum=SEED_MAX)
        nonnegative_int("warm-up steps", warmup)
        if qat_steps is None:
            qat_steps = steps // 4
        nonnegative_int("QAT steps", qat_steps)
        if qat_steps >= steps:
            raise UserError(f"QAT steps ({qat_steps}) must be fewer than steps ({steps}): "
                            f"they are the last steps of the training")
        positive_int("QAT batch", qat_batch)
        positive_int("QAT evaluation interval", qat_eval_every)
        nonnegative_number("QAT consistency weight", qat_consistency,
                           maximum=QAT_CONSISTENCY_MAX)
        one_of("learning-rate schedule", schedule, ("cosine", "constant"))
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
    except (RuntimeError, TypeError):
        raise UserError(f"unknown device {device!r} (choose auto, cpu or cuda)") from None
    if dev.type not in ("cpu", "cuda"):
        raise UserError(f"unsupported device {device!r} (choose auto, cpu or cuda)")
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
    queries = pw * ph
    check_memory(f"training a {config.layers} x {config.hidden} network on {queries:,} patch "
                 f"centres", training_bytes(config, queries))
    model = PatchINR(config).to(dev)
    coords = torch.as_tensor(patch_centres(pw, ph), device=dev)
    target = torch.as_tensor(to_signal(patchify(image, config.patch)), device=dev)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    float_steps = settings.steps - settings.qat_steps
    bar = _progress(settings.steps, f"fit n={config.patch}", progress)
    try:
        return _fit(model, opt, coords, target, image, settings, bar, float_steps, dev)
    finally:
        bar.close()                 # also on an error or an interrupt: the line is cleared


def _fit(model, opt, coords, target, image, settings, bar, float_steps, dev):
    best_loss, best_state, history = float("inf"), None, []
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
    return model.cpu().eval(), pretrain, {
        "train_seconds": seconds, "seconds_per_step": seconds / settings.steps,
        "history": history}


def _set_lr(opt, step, settings):
    for g in opt.param_groups:
        g["lr"] = lr_at(step, settings)


def _finite(loss, step):
    lv = loss.item()
    if not math.isfinite(lv):
        raise UserError(f"training diverged at step {step} (loss {lv}): lower the learning "
                        f"rate (--lr) or omega0 (--omega0)")
    return lv


def _train_int8(model, opt, coords, target, image, settings, bar, history, *, start):
    """The quantization-aware phase of :func:`fit` (steps ``start .. steps-1``).

    The loss is the INT8 datapath's error plus the float model's plus
    ``qat_consistency`` times the mean squared difference of their outputs, all on the same
    batch and in the float model's [-1, 1] units. Trained for INT8 alone, the float weights
    drift until the FP32 datapath renders a visibly different image; trained for both
    errors alone, the float model goes on past the INT8 one, whose 8-bit activations put a
    floor of noise under it (the README has the measurement). The
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
