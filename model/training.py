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
from .evaluate import render_fp32, render_int8, score, shifted_psnr
from .network import PatchINR
from .quant import FakeQuantPatchINR, calibrate, quantize
from .support.errors import UserError
from .support.limits import LR_MAX, QAT_CONSISTENCY_MAX, SEED_MAX, check_memory, training_bytes
from .support.validate import (nonnegative_int, nonnegative_number, one_of, positive_int,
                               positive_number)

__all__ = ["TrainSettings", "Samples", "fit", "fit_clip", "fit_samples", "train_image",
           "train_clip", "lr_at", "DEFAULT_LR", "DEFAULT_QAT_CONSISTENCY"]



class TrainSettings:
    """Optimiser settings (keyword-only, validated).

    ``qat_steps`` of the ``steps`` (the last ones; default a quarter) train through the
    exact INT8 datapath; 0 trains in float only and quantizes after training.
    ``qat_consistency`` weighs the FP32/INT8 disagreement in their loss (see
    ``_train_int8``). ``batch`` is the queries per float step: ``None`` trains on all
    of them each step (full batch, the image default); fewer draw a fresh random subset
    every step (a clip's million queries do not fit one step), and then the final
    weights are kept, the cosine having brought the rate down to 1/100.
    """

    def __init__(self, *, steps=2000, lr=DEFAULT_LR, schedule="cosine", warmup=0, seed=0,
                 device="auto", qat_steps=None, qat_batch=16384, qat_eval_every=20,
                 qat_consistency=DEFAULT_QAT_CONSISTENCY, batch=None):
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
        if batch is not None:
            positive_int("batch", batch)
        self.steps, self.lr, self.warmup, self.seed = steps, float(lr), warmup, int(seed)
        self.schedule = schedule
        self.qat_steps, self.qat_batch, self.qat_eval_every = qat_steps, qat_batch, qat_eval_every
        self.qat_consistency = float(qat_consistency)
        self.batch = batch
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


class Samples:
    """What a fit trains on, one row per query: ``coords`` (float32 ``[Q, coords]``),
    ``coords_q`` (their int16 quantization), ``target`` (the patches in [-1, 1], float32
    ``[Q, n*n*C]``) and ``pixels`` (the same in 0..255, float64)."""

    def __init__(self, coords, coords_q, patches):
        self.coords, self.coords_q = coords, coords_q
        self.target = to_signal(patches).astype(np.float32)
        self.pixels = patches.astype(np.float64) * 255.0

    @classmethod
    def image(cls, image, patch):
        h, w, _ = image.shape
        pw, ph = patch_grid(w, h, patch)
        return cls(patch_centres(pw, ph), patch_centres_q(pw, ph), patchify(image, patch))

    @classmethod
    def clip(cls, clip, patch):
        from .video import clip_coords, clip_coords_q, patchify_clip
        f, h, w, _ = clip.shape
        pw, ph = patch_grid(w, h, patch)
        return cls(clip_coords(pw, ph, f), clip_coords_q(pw, ph, f), patchify_clip(clip, patch))

    def __len__(self):
        return len(self.coords)


def fit(image, config, settings, *, progress=True):
    """Fit ``config``'s network to ``image`` (float32 ``[H, W, C]`` in [0, 1]).

    The first ``steps - qat_steps`` steps train the float network on the patch centres
    of the frame (all of them each step, or a random ``batch`` of them) and keep the
    weights of lowest loss (full batch) or the last (mini-batches). The last
    ``qat_steps`` continue the same optimiser and schedule through the exact INT8 datapath
    (:class:`~model.quant.FakeQuantPatchINR`, straight-through gradients) on random batches
    of up to ``qat_batch`` patch centres, minimising the INT8 and the float error and
    ``qat_consistency`` times their disagreement; every ``qat_eval_every`` steps the whole
    frame is rendered both ways and the best state whose two frames agree within 1 dB is
    kept (see ``_train_int8``).

    Returns ``(model, pretrain, info)``: the final float model, the float model as the
    float phase left it, and ``info`` with ``train_seconds``, ``seconds_per_step`` (both
    phases) and the ``history`` of ``(step, psnr_db)``, every 10 steps (float PSNR in the
    float phase, INT8 PSNR of the batch after it).
    """
    h, w, c = image.shape
    if c != config.channels:
        raise UserError(f"image has {c} channels, configuration has {config.channels}")
    if config.is_video:
        raise UserError("a video configuration (coords = 3) is fitted to a clip, not an image")
    return fit_samples(Samples.image(image, config.patch), config, settings,
                       progress=progress)


def fit_clip(clip, config, settings, *, progress=True, eval_queries=65536):
    """Fit a video configuration (``coords = 3``) to ``clip`` (float32 ``[F, H, W, C]``).

    As :func:`fit`, over every frame's patch centres with ``t`` (:mod:`model.video`). The
    quantization-aware phase ranks its states on a fixed random ``eval_queries`` of the
    clip's queries rather than all of them (a clip has up to millions).
    """
    if clip.ndim != 4 or clip.shape[3] != config.channels:
        raise UserError(f"clip must be [frames, height, width, {config.channels}], not "
                        f"{list(clip.shape)}")
    if not config.is_video:
        raise UserError("an image configuration (coords = 2) is fitted to an image, not a clip")
    return fit_samples(Samples.clip(clip, config.patch), config, settings,
                       progress=progress, eval_queries=eval_queries)


def fit_samples(samples, config, settings, *, progress=True, eval_queries=None):
    """The training loop of :func:`fit` and :func:`fit_clip` on :class:`Samples`."""
    torch.manual_seed(settings.seed)
    np.random.seed(settings.seed)
    dev = settings.device
    queries = len(samples)
    per_step = min(queries, settings.batch or queries)
    check_memory(f"training a {config.layers} x {config.hidden} network on {per_step:,} "
                 f"queries a step", training_bytes(config, per_step))
    model = PatchINR(config).to(dev)
    coords = torch.as_tensor(samples.coords, device=dev)
    target = torch.as_tensor(samples.target, device=dev)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    float_steps = settings.steps - settings.qat_steps
    bar = _progress(settings.steps, f"fit n={config.patch}", progress)
    try:
        return _fit(model, opt, coords, target, samples, settings, bar, float_steps, dev,
                    eval_queries)
    finally:
        bar.close()                 # also on an error or an interrupt: the line is cleared


def _fit(model, opt, coords, target, samples, settings, bar, float_steps, dev, eval_queries):
    best_loss, best_state, history = float("inf"), None, []
    q = len(coords)
    batch = settings.batch if settings.batch and settings.batch < q else None
    gen = torch.Generator(device="cpu").manual_seed(settings.seed)
    t0 = time.perf_counter()
    for step in range(float_steps):
        _set_lr(opt, step, settings)
        opt.zero_grad(set_to_none=True)
        if batch:
            idx = torch.randperm(q, generator=gen)[:batch].to(dev)
            loss = torch.mean((model(coords[idx]) - target[idx]) ** 2)
        else:
            loss = torch.mean((model(coords) - target) ** 2)
        loss.backward()
        opt.step()
        lv = _finite(loss, step)
        if not batch and lv < best_loss:
            best_loss = lv
            best_state = copy.deepcopy(model.state_dict())
        if step % 10 == 0 or step == float_steps - 1:
            p = 10 * math.log10(4.0 / max(lv, 1e-20))   # targets span [-1, 1]: peak-to-peak 2
            history.append((step, p))
            bar.set_postfix_str(f"psnr {p:.2f} dB", refresh=False)
        bar.update(1)
    if best_state is not None:
        model.load_state_dict(best_state)
    pretrain = copy.deepcopy(model).cpu().eval()
    if settings.qat_steps:
        _train_int8(model, opt, coords, target, samples, settings, bar, history,
                    start=float_steps, eval_queries=eval_queries)
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


def _train_int8(model, opt, coords, target, samples, settings, bar, history, *, start,
                eval_queries=None):
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
    dev = settings.device
    fq = FakeQuantPatchINR(model).to(dev)
    coords_q = torch.as_tensor(samples.coords_q.astype(np.int64), device=dev)
    target_q = torch.as_tensor(samples.pixels, device=dev)
    gen = torch.Generator(device="cpu").manual_seed(settings.seed)
    q = len(coords_q)
    # The states are ranked on every query, or on a fixed random subset of a clip's.
    rank_idx = (torch.randperm(q, generator=torch.Generator().manual_seed(settings.seed))
                [:eval_queries].to(dev) if eval_queries and q > eval_queries else slice(None))

    def rank():
        with torch.no_grad():
            err8 = torch.mean((fq(coords_q[rank_idx]) - target_q[rank_idx]) ** 2).item()
            err32 = torch.mean((model(coords[rank_idx]) - target[rank_idx]) ** 2).item()
        p8 = 10 * math.log10(255.0 ** 2 / max(err8, 1e-20))
        p32 = 10 * math.log10(4.0 / max(err32, 1e-20))
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


def train_clip(clip, config, settings, *, progress=True, video_name=None, eval_queries=65536):
    """Fit a video configuration to ``clip``, quantize and score every frame. Returns
    ``(model, quant, results)`` as :func:`train_image` does; ``psnr_fp32`` and
    ``psnr_int8`` are the mean over the frames of each frame's PSNR, and
    ``psnr_fp32_frames`` / ``psnr_int8_frames`` list them."""
    from .evaluate import render_clip_fp32, render_clip_int8, score_clip
    frames, h, w, _ = clip.shape
    model, pretrain, info = fit_clip(clip, config, settings, progress=progress,
                                     eval_queries=eval_queries)
    quant = quantize(model)
    fp32 = score_clip(clip, render_clip_fp32(model, w, h, frames))
    int8 = score_clip(clip, render_clip_int8(quant, w, h, frames))
    pre = score_clip(clip, render_clip_fp32(pretrain, w, h, frames))
    pre8 = score_clip(clip, render_clip_int8(quantize(pretrain), w, h, frames))
    from .video import clip_coords_q
    pw, ph = patch_grid(w, h, config.patch)
    calib = calibrate(quant, clip_coords_q(pw, ph, frames))
    results = {
        "video": video_name, "width": w, "height": h, "frames": frames,
        "patch": config.patch, "channels": config.channels, "config": config.to_dict(),
        "psnr_fp32": fp32["psnr"], "ssim_fp32": fp32["ssim"],
        "psnr_int8": int8["psnr"], "ssim_int8": int8["ssim"],
        "psnr_fp32_frames": fp32["psnr_frames"], "psnr_int8_frames": int8["psnr_frames"],
        "psnr_fp32_pretrain": pre["psnr"], "psnr_int8_ptq": pre8["psnr"],
        "queries_per_frame": pw * ph,
        "params": config.params, "param_overhead": config.param_overhead,
        "steps": settings.steps, "batch": settings.batch, "lr": settings.lr,
        "schedule": settings.schedule, "seed": settings.seed,
        "qat_steps": settings.qat_steps, "qat_consistency": settings.qat_consistency,
        "train_seconds": info["train_seconds"], "seconds_per_step": info["seconds_per_step"],
        "device": str(settings.device), "calibration": calib, "history": info["history"],
    }
    return model, quant, results
