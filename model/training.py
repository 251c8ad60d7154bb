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
datapaths' disagreement; the state kept is the best for what the model is for
(``--keep``): by default the best whose FP32 and INT8 frames agree within 1 dB (both
datapaths of a ``dual`` build), or the best INT8 or FP32 frame. A run with a checkpoint
file survives interruption: ``--resume`` continues it to the same weights, bit for bit
(:class:`Checkpoint`). Post-training quantization alone does not hold up: a float-only fit goes far past
what 8-bit activations can represent and its weights then rely on that precision (the
README has the numbers). The model file holds the
final float weights and their quantization, so its FP32 and INT8 datapaths render the same
model; ``psnr_fp32_pretrain`` and ``psnr_int8_ptq`` record the float phase's end.
"""

import copy
import hashlib
import io
import math
import os
import signal
import sys
import threading
import time

import numpy as np
import torch

from .config import DEFAULT_LR, DEFAULT_QAT_CONSISTENCY, default_qat_consistency
from .data import patch_centres, patch_centres_q, patch_grid, patchify, to_signal
from .evaluate import render_fp32, render_int8, score, shifted_psnr
from .network import PatchINR
from .quant import FakeQuantPatchINR, calibrate, quantize
from .support.errors import UserError
from .support.files import write_bytes
from .support.limits import LR_MAX, QAT_CONSISTENCY_MAX, SEED_MAX, check_memory, training_bytes
from .support.validate import (nonnegative_int, nonnegative_number, one_of, positive_int,
                               positive_number)

__all__ = ["TrainSettings", "Checkpoint", "recipe_fingerprint", "DATA_FINGERPRINT", "KEEP_CHOICES", "Samples", "fit", "fit_clip", "fit_samples", "train_image",
           "train_clip", "lr_at", "DEFAULT_LR", "DEFAULT_QAT_CONSISTENCY", "GRAD_EMA"]



#: Weight of the past in the running mean of the gradient norm that ``clip_grad`` scales
#: (about the last 20 steps).
GRAD_EMA = 0.95

#: The largest gradient clip factor accepted (a larger one never clips).
CLIP_GRAD_MAX = 1e6

#: The largest rewind threshold accepted, in dB (training PSNR spans far less).
REWIND_MAX_DB = 1000.0

#: What a model can be kept for (``TrainSettings(keep=...)``, ``model.train --keep``).
KEEP_CHOICES = ("dual", "int8", "fp32")


class TrainSettings:
    """Optimiser settings (keyword-only, validated).

    ``qat_steps`` of the ``steps`` (the last ones; default a quarter) train through the
    exact INT8 datapath; 0 trains in float only and quantizes after training.
    ``qat_consistency`` weighs the FP32/INT8 disagreement in their loss (see
    ``_int8_loss``; ``None``: :func:`~model.config.default_qat_consistency` of ``keep``,
    100 where both datapaths must agree and 1 for an INT8-only model). ``keep`` says what
    the model is for, and so which state of the quantization-aware phase is kept:
    ``"dual"`` (the default; both datapaths of a ``dual`` build) the best whose FP32 and
    INT8 frames agree within 1 dB, ``"int8"`` the best INT8 frame, ``"fp32"`` the best FP32
    frame; the float phase's end state is a candidate too, so ``int8`` never keeps less
    than its post-training quantization. ``batch`` is the queries per float step: ``None``
    trains on all of them each step (full batch, the image default); fewer draw a fresh
    random subset every step (a clip's million queries do not fit one step), and then the final
    weights are kept, the cosine having brought the rate down to 1/100. ``curve_every``
    (0: never) records the convergence curve: every that many steps and at the end, the
    FP32 and INT8 PSNR of the current weights on the ranking queries (every query of an
    image, a clip's ``eval_queries``), outside the training time it is recorded against.
    ``qat_lr`` (``None``: the schedule goes on) is a constant learning rate for the
    quantization-aware phase: a step of the schedule's size there moves the weights by
    about one step of their INT8 grid, which on a converged clip model loses INT8 PSNR
    instead of gaining it (``docs/results.md`` has the measurement).
    ``clip_grad`` (``None``: off) guards the float phase against loss spikes: each step's
    gradient norm is clipped to ``clip_grad`` times the running mean (:data:`GRAD_EMA`)
    of the previous steps' clipped norms. A spike builds over a few steps as an
    oscillation whose gradient grows by tens of percent a step while Adam's second-moment
    estimate lags, so its steps grow too; bounding the gradient to its recent scale stops
    it, and steps of the usual size are left alone (``docs/results.md`` has the run).
    ``rewind`` (``None``: off) guards it against collapses: when a float step's training
    PSNR (on its batch) is more than ``rewind`` dB below the best the phase has reached,
    the weights and the optimiser's state go back to those of that best step and the
    learning rate is halved for the rest of the run (the step count goes on: the steps
    since are spent). A fit that never falls that far trains exactly as without it.
    """

    def __init__(self, *, steps=2000, lr=DEFAULT_LR, schedule="cosine", warmup=0, seed=0,
                 device="auto", qat_steps=None, qat_batch=16384, qat_eval_every=20,
                 qat_consistency=None, batch=None, keep="dual",
                 curve_every=0, qat_lr=None, clip_grad=None, rewind=None):
        positive_int("steps", steps)
        positive_number("learning rate", lr, maximum=LR_MAX)
        nonnegative_int("seed", seed, maximum=SEED_MAX)
        nonnegative_int("warm-up steps", warmup)
        if warmup >= steps:
            raise UserError(f"warm-up steps ({warmup}) must be fewer than steps ({steps})")
        if qat_steps is None:
            qat_steps = steps // 4
        nonnegative_int("QAT steps", qat_steps)
        if qat_steps >= steps:
            raise UserError(f"QAT steps ({qat_steps}) must be fewer than steps ({steps}): "
                            f"they are the last steps of the training")
        positive_int("QAT batch", qat_batch)
        positive_int("QAT evaluation interval", qat_eval_every)
        one_of("learning-rate schedule", schedule, ("cosine", "constant"))
        one_of("datapath to keep the best state for", keep, KEEP_CHOICES)
        if qat_consistency is None:
            qat_consistency = default_qat_consistency(keep)
        nonnegative_number("QAT consistency weight", qat_consistency,
                           maximum=QAT_CONSISTENCY_MAX)
        if batch is not None:
            positive_int("batch", batch)
        nonnegative_int("convergence-curve interval", curve_every)
        if qat_lr is not None:
            positive_number("QAT learning rate", qat_lr, maximum=LR_MAX)
            qat_lr = float(qat_lr)
        self.qat_lr = qat_lr
        if clip_grad is not None:
            positive_number("gradient clip factor", clip_grad, maximum=CLIP_GRAD_MAX)
            if clip_grad < 1:
                raise UserError(f"gradient clip factor must be at least 1 (a multiple of the "
                                f"running mean of the gradient norm), not {clip_grad:g}")
            clip_grad = float(clip_grad)
        self.clip_grad = clip_grad
        if rewind is not None:
            positive_number("rewind threshold (dB)", rewind, maximum=REWIND_MAX_DB)
            rewind = float(rewind)
        self.rewind = rewind
        self.steps, self.lr, self.warmup, self.seed = steps, float(lr), warmup, int(seed)
        self.schedule = schedule
        self.qat_steps, self.qat_batch, self.qat_eval_every = qat_steps, qat_batch, qat_eval_every
        self.qat_consistency = float(qat_consistency)
        self.batch, self.keep = batch, keep
        self.curve_every = curve_every
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


def fit(image, config, settings, *, progress=True, checkpoint=None, on_step=None):
    """Fit ``config``'s network to ``image`` (float32 ``[H, W, C]`` in [0, 1]).

    The first ``steps - qat_steps`` steps train the float network on the patch centres
    of the frame (all of them each step, or a random ``batch`` of them) and keep the
    weights of lowest loss (full batch) or the last (mini-batches). The last
    ``qat_steps`` continue the same optimiser and schedule through the exact INT8 datapath
    (:class:`~model.quant.FakeQuantPatchINR`, straight-through gradients) on random batches
    of up to ``qat_batch`` patch centres, minimising the INT8 and the float error and
    ``qat_consistency`` times their disagreement; every ``qat_eval_every`` steps the whole
    frame is rendered both ways and the best state for ``settings.keep`` is kept (see
    ``_int8_loss``). ``checkpoint`` (a :class:`Checkpoint`) makes the run resumable;
    ``on_step(step)`` is called after each step (:func:`fit_samples`).

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
                       progress=progress, checkpoint=checkpoint, on_step=on_step)


def fit_clip(clip, config, settings, *, progress=True, eval_queries=65536, checkpoint=None,
             on_step=None):
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
                       progress=progress, eval_queries=eval_queries, checkpoint=checkpoint,
                       on_step=on_step)


def fit_samples(samples, config, settings, *, progress=True, eval_queries=None,
                checkpoint=None, on_step=None):
    """The training loop of :func:`fit` and :func:`fit_clip` on :class:`Samples`.

    ``checkpoint`` (a :class:`Checkpoint`) saves the whole state of the run every few
    minutes, on Ctrl-C (at the end of the step under way, then ``KeyboardInterrupt`` is
    raised) and at the end; with ``checkpoint.resume`` a run continues from the file and
    ends with the same weights, bit for bit, as one that was never interrupted (same
    device). ``on_step(step)`` is called after every finished step (0-based).
    """
    dev = settings.device
    queries = len(samples)
    per_step = min(queries, settings.batch or queries)
    check_memory(f"training a {config.layers} x {config.hidden} network on {per_step:,} "
                 f"queries a step", training_bytes(config, per_step))
    run = _Fit(samples, config, settings, eval_queries, checkpoint, on_step)
    bar = _progress(settings.steps, f"fit n={config.patch}", progress)
    try:
        with _StopOnInterrupt(checkpoint is not None) as stop:
            return run.run(bar, stop)
    finally:
        bar.close()                 # also on an error or an interrupt: the line is cleared


class Checkpoint:
    """Where a fit keeps its state: ``path`` (a torch file, replaced atomically), written
    every ``every`` seconds of training, on an interrupt and at the end; ``resume``
    continues from it when it exists (and must be of the same run: configuration, recipe,
    seed and data; with ``restart_other`` one of another run is started over instead)."""

    def __init__(self, path, *, every=300.0, resume=False, restart_other=False):
        nonnegative_number("checkpoint interval", every)
        self.path, self.every, self.resume = os.fspath(path), float(every), bool(resume)
        self.restart_other = restart_other   # a sweep retrains a point whose recipe changed
        #: The step the last :meth:`load` continued from (``None``: it started afresh).
        self.resumed_from = None

    @property
    def resumed_note(self):
        """``", resumed at step N"`` when the run continued from this checkpoint, else
        ``""``: the end of a run's log line."""
        step = self.resumed_from
        return "" if step is None else f", resumed at step {step:,}"

    def load(self, fingerprint):
        """The saved state, or ``None`` when there is none to resume."""
        self.resumed_from = None
        if not (self.resume and os.path.exists(self.path)):
            return None
        state = self._read()
        if state["fingerprint"] != fingerprint:
            if self.restart_other:
                return None
            diff = _differs(state["fingerprint"], fingerprint)
            raise UserError(f"checkpoint {self.path!r} is of another run (differs in "
                            f"{', '.join(diff)}): resume with the same settings, or delete it")
        self.resumed_from = int(state["step"])
        return state

    def progress(self, recipe=None):
        """Where the saved run stands, without continuing it; ``None`` when there is no file.

        A dict: ``step`` (steps done) of ``steps``, ``seconds`` of training so far, ``psnr``
        (the last logged training PSNR, ``None`` before the first), ``curve`` (the last
        point of the convergence curve, ``(step, seconds, psnr_fp32, psnr_int8)``, or
        ``None``) and ``differs``: the settings in which the run's recipe differs from
        ``recipe`` (a :func:`recipe_fingerprint`; a sweep starts such a run over)."""
        if not os.path.exists(self.path):
            return None
        state = self._read()
        saved = state["fingerprint"]
        differs = [] if recipe is None else _differs(
            {k: v for k, v in saved.items() if k not in DATA_FINGERPRINT}, recipe)
        history, curve = state.get("history") or [], state.get("curve") or []
        return {"step": int(state["step"]), "steps": int(saved["steps"]),
                "seconds": float(state["seconds"]),
                "psnr": float(history[-1][1]) if history else None,
                "curve": tuple(curve[-1]) if curve else None, "differs": differs}

    def _read(self):
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:        # a truncated or foreign file: say which
            raise UserError(f"checkpoint {self.path!r} cannot be read ({exc.__class__.__name__}"
                            f"): delete it to start again") from None
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise UserError(f"{self.path!r} is not a training checkpoint of this package")
        return state

    def save(self, state):
        buf = io.BytesIO()
        torch.save(state, buf)
        write_bytes(self.path, buf.getvalue())       # atomically: a kill leaves the last one


CHECKPOINT_FORMAT = "patchinr-train-checkpoint-1"


#: The fingerprint's entries that the data fixes (:func:`recipe_fingerprint` has the rest).
DATA_FINGERPRINT = ("queries", "eval_queries", "data")


def _differs(a, b):
    """The keys on which two fingerprints differ, sorted."""
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def recipe_fingerprint(config, settings):
    """The part of a run's checkpoint fingerprint that the network and the training settings
    fix (the rest is the data's: its hash and query counts). Two runs with the same recipe
    fingerprint on the same data continue each other's checkpoints."""
    return {
        "config": config.to_dict(),
        "steps": settings.steps, "lr": settings.lr, "schedule": settings.schedule,
        "warmup": settings.warmup, "seed": settings.seed, "batch": settings.batch,
        "qat_steps": settings.qat_steps, "qat_batch": settings.qat_batch,
        "qat_eval_every": settings.qat_eval_every,
        "qat_consistency": settings.qat_consistency, "keep": settings.keep,
        # Only when asked for: checkpoints of runs without them stay resumable.
        **({"curve_every": settings.curve_every} if settings.curve_every else {}),
        **({"qat_lr": settings.qat_lr} if settings.qat_lr is not None else {}),
        **({"clip_grad": settings.clip_grad} if settings.clip_grad is not None else {}),
        **({"rewind": settings.rewind} if settings.rewind is not None else {})}


class _StopOnInterrupt:
    """While active (and asked for), the first Ctrl-C only sets ``requested``: the loop
    finishes its step, saves and raises ``KeyboardInterrupt``; a second one interrupts at
    once."""

    def __init__(self, enabled):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.requested = False

    def _handler(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)

    def __enter__(self):
        if self.enabled:
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.enabled:
            signal.signal(signal.SIGINT, self._previous)


class _Fit:
    """One training run's whole state, stepped one optimiser step at a time so that it can
    be saved between any two steps and continued from there."""

    def __init__(self, samples, config, settings, eval_queries, checkpoint, on_step):
        self.settings, self.checkpoint, self.on_step = settings, checkpoint, on_step
        dev = self.dev = settings.device
        torch.manual_seed(settings.seed)
        np.random.seed(settings.seed)
        self.model = PatchINR(config).to(dev)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=settings.lr)
        self.coords = torch.as_tensor(samples.coords, device=dev)
        self.target = torch.as_tensor(samples.target, device=dev)
        self.samples, self.eval_queries = samples, eval_queries
        self.float_steps = settings.steps - settings.qat_steps
        q = len(samples)
        self.batch = settings.batch if settings.batch and settings.batch < q else None
        self.gen = torch.Generator(device="cpu").manual_seed(settings.seed)
        self.qat_gen = torch.Generator(device="cpu").manual_seed(settings.seed)
        self.step, self.seconds, self.history, self.curve = 0, 0.0, [], []
        self.best_loss, self.best, self.best_state, self.pretrain = float("inf"), None, None, None
        self.fq = None
        self.grad_mean = None
        # The rewind guard: the best training PSNR so far, the state it was reached from
        # (step, weights, optimiser, gradient-norm mean), the rate's factor, the rewinds.
        self.rw_psnr, self.rw_state, self.lr_scale, self.rewinds = -math.inf, None, 1.0, []
        self.fingerprint = {
            **recipe_fingerprint(config, settings), "queries": q, "eval_queries": eval_queries,
            "data": hashlib.sha256(np.ascontiguousarray(samples.target).tobytes()).hexdigest()}

    # -- the saved state --------------------------------------------------------------------

    def state(self):
        return {"format": CHECKPOINT_FORMAT, "fingerprint": self.fingerprint,
                "step": self.step, "seconds": self.seconds, "history": list(self.history),
                "curve": list(self.curve),
                "model": self.model.state_dict(), "opt": self.opt.state_dict(),
                "gen": self.gen.get_state(), "qat_gen": self.qat_gen.get_state(),
                "best_loss": self.best_loss, "best": self.best, "best_state": self.best_state,
                "pretrain": self.pretrain, "grad_mean": self.grad_mean,
                **({"rewind": {"psnr": self.rw_psnr, "state": self.rw_state,
                               "lr_scale": self.lr_scale, "rewinds": list(self.rewinds)}}
                   if self.settings.rewind is not None else {})}

    def restore(self, s):
        self.step, self.seconds = s["step"], s["seconds"]
        self.history = [tuple(h) for h in s["history"]]
        self.curve = [tuple(c) for c in s.get("curve", [])]
        self.model.load_state_dict(s["model"])
        self.opt.load_state_dict(s["opt"])
        self.gen.set_state(s["gen"])
        self.qat_gen.set_state(s["qat_gen"])
        self.best_loss, self.best = s["best_loss"], s["best"]
        self.best_state, self.pretrain = s["best_state"], s["pretrain"]
        self.grad_mean = s.get("grad_mean")
        if "rewind" in s:
            rw = s["rewind"]
            self.rw_psnr, self.rw_state = rw["psnr"], rw["state"]
            self.lr_scale, self.rewinds = rw["lr_scale"], [tuple(r) for r in rw["rewinds"]]
        if self.best is not None:
            self.best = (bool(self.best[0]), float(self.best[1]))

    # -- the loop ---------------------------------------------------------------------------

    def run(self, bar, stop):
        ck, settings = self.checkpoint, self.settings
        if ck is not None:
            saved = ck.load(self.fingerprint)
            if saved is not None:
                self.restore(saved)
                bar.update(self.step)
        last_save = time.perf_counter()
        while self.step < settings.steps:
            t0 = time.perf_counter()
            if self.step < self.float_steps:
                self._float_step(bar)
            else:
                self._int8_step(bar)
            if self.step == self.float_steps - 1:
                self._end_float_phase()
            self.step += 1
            self.seconds += time.perf_counter() - t0
            bar.update(1)
            every = settings.curve_every
            if every and (self.step % every == 0 or self.step == settings.steps):
                self._curve_point()
            if self.on_step is not None:
                self.on_step(self.step - 1)
            if ck is not None and (stop.requested
                                   or time.perf_counter() - last_save >= ck.every):
                ck.save(self.state())
                last_save = time.perf_counter()
            if stop.requested:
                raise KeyboardInterrupt
        if ck is not None:
            ck.save(self.state())
        if self.settings.qat_steps:
            self.model.load_state_dict(self.best_state)
        pretrain = copy.deepcopy(self.model)
        pretrain.load_state_dict(self.pretrain)
        if self.dev.type == "cuda":
            torch.cuda.synchronize()
        return self.model.cpu().eval(), pretrain.cpu().eval(), {
            "train_seconds": self.seconds, "seconds_per_step": self.seconds / settings.steps,
            "history": self.history, "curve": self.curve, "rewinds": self.rewinds}

    def _float_step(self, bar):
        model, step, settings = self.model, self.step, self.settings
        _set_lr(self.opt, step, settings, scale=self.lr_scale)
        self.opt.zero_grad(set_to_none=True)
        if self.batch:
            idx = torch.randperm(len(self.coords), generator=self.gen)[:self.batch].to(self.dev)
            loss = torch.mean((model(self.coords[idx]) - self.target[idx]) ** 2)
        else:
            loss = torch.mean((model(self.coords) - self.target) ** 2)
        if settings.rewind is not None and self._rewound(loss, step, bar):
            return
        loss.backward()
        if settings.clip_grad is not None:
            self._clip()
        self.opt.step()
        lv = _finite(loss, step)
        if not self.batch and lv < self.best_loss:
            self.best_loss = lv
            self.best_state = copy.deepcopy(model.state_dict())
        if step % 10 == 0 or step == self.float_steps - 1:
            self._log(step, lv, bar)

    def _log(self, step, lv, bar):
        p = _psnr(lv)
        self.history.append((step, p))
        bar.set_postfix_str(f"psnr {p:.2f} dB", refresh=False)

    def _rewound(self, loss, step, bar):
        """The rewind guard, before the step's update: remember the state of a new best
        training PSNR; on a fall of more than ``rewind`` dB below it, go back to that
        state, halve the rate, and skip the update (True)."""
        lv = _finite(loss, step)
        p = _psnr(lv)
        if p > self.rw_psnr:
            self.rw_psnr = p
            self.rw_state = {"step": step, "model": copy.deepcopy(self.model.state_dict()),
                             "opt": copy.deepcopy(self.opt.state_dict()),
                             "grad_mean": self.grad_mean}
            return False
        if p >= self.rw_psnr - self.settings.rewind:
            return False
        rw = self.rw_state
        self.model.load_state_dict(rw["model"])
        self.opt.load_state_dict(copy.deepcopy(rw["opt"]))
        self.grad_mean = rw["grad_mean"]
        self.lr_scale *= 0.5
        self.rewinds.append((step, rw["step"], self.lr_scale))
        if step % 10 == 0 or step == self.float_steps - 1:
            self._log(step, lv, bar)
        return True

    def _clip(self):
        """Clip the gradient's norm to ``clip_grad`` times the running mean of the previous
        steps' (clipped) norms; the first step sets the mean."""
        params = list(self.model.parameters())
        limit = (float("inf") if self.grad_mean is None
                 else self.settings.clip_grad * self.grad_mean)
        norm = float(torch.nn.utils.clip_grad_norm_(params, limit))
        kept = min(norm, limit)
        self.grad_mean = (kept if self.grad_mean is None
                          else GRAD_EMA * self.grad_mean + (1 - GRAD_EMA) * kept)

    def _end_float_phase(self):
        """The float phase keeps its lowest-loss weights (full batch) or its last; the
        quantization-aware phase starts from them, ranked as its first candidate."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        self.pretrain = copy.deepcopy(self.model.state_dict())
        if self.settings.qat_steps:
            self.best = self._rank()[0]
            self.best_state = copy.deepcopy(self.model.state_dict())

    def _int8_parts(self):
        """The fake-quantized model and the INT8 phase's tensors, made on first use."""
        if self.fq is None:
            dev, samples, seed = self.dev, self.samples, self.settings.seed
            self.fq = FakeQuantPatchINR(self.model).to(dev)
            self.coords_q = torch.as_tensor(samples.coords_q.astype(np.int64), device=dev)
            self.target_q = torch.as_tensor(samples.pixels, device=dev)
            q, eq = len(self.coords_q), self.eval_queries
            # The states are ranked on every query, or on a fixed random subset of a clip's.
            self.rank_idx = (torch.randperm(q, generator=torch.Generator().manual_seed(seed))
                             [:eq].to(dev) if eq and q > eq else slice(None))
        return self.fq

    def _rank(self):
        """The current state's rank for what the model is kept for (``settings.keep``) and
        its INT8 PSNR.

        ``dual``: states whose FP32 and INT8 frames agree within 1 dB come first, then the
        better worse-of-the-two PSNR; ``int8`` or ``fp32``: that datapath's PSNR."""
        p32, p8 = self._scores()
        keep = self.settings.keep
        key = {"dual": (abs(p8 - p32) <= 1.0, min(p8, p32)),
               "int8": (True, p8), "fp32": (True, p32)}[keep]
        return key, p8

    def _scores(self):
        """The current weights' FP32 and INT8 PSNR on the ranking queries."""
        fq, idx = self._int8_parts(), self.rank_idx
        with torch.no_grad():
            err8 = torch.mean((fq(self.coords_q[idx]) - self.target_q[idx]) ** 2).item()
            err32 = torch.mean((self.model(self.coords[idx]) - self.target[idx]) ** 2).item()
        return (10 * math.log10(4.0 / max(err32, 1e-20)),
                10 * math.log10(255.0 ** 2 / max(err8, 1e-20)))

    def _curve_point(self):
        """``(step, training seconds, FP32 PSNR, INT8 PSNR)`` of the weights after
        ``self.step`` steps (in the float phase the INT8 figure is their post-training
        quantization)."""
        p32, p8 = self._scores()
        self.curve.append((self.step, self.seconds, p32, p8))

    def _int8_step(self, bar):
        """One step of the quantization-aware phase (see :func:`_int8_loss`)."""
        settings, step, start = self.settings, self.step, self.float_steps
        fq = self._int8_parts()
        q = len(self.coords_q)
        _set_lr(self.opt, step, settings, qat=True, scale=self.lr_scale)
        idx = (torch.randperm(q, generator=self.qat_gen)[:settings.qat_batch].to(self.dev)
               if q > settings.qat_batch else slice(None))
        self.opt.zero_grad(set_to_none=True)
        loss, loss_q = _int8_loss(fq(self.coords_q[idx]), self.model(self.coords[idx]),
                                  self.target_q[idx], self.target[idx], settings)
        loss.backward()
        self.opt.step()
        lv = _finite(loss_q, step)
        if step % 10 == 0:
            self.history.append((step, 10 * math.log10(255.0 ** 2 / max(lv, 1e-20))))
        if (step + 1 - start) % settings.qat_eval_every == 0 or step == settings.steps - 1:
            key, p8 = self._rank()
            if key > self.best:
                self.best, self.best_state = key, copy.deepcopy(self.model.state_dict())
            bar.set_postfix_str(f"int8 {p8:.2f} dB", refresh=False)


def _set_lr(opt, step, settings, *, qat=False, scale=1.0):
    """The step's rate: the schedule's times ``scale`` (halved by each rewind), or the
    quantization-aware phase's constant ``qat_lr`` when one is given."""
    lr = (settings.qat_lr if qat and settings.qat_lr is not None
          else lr_at(step, settings) * scale)
    for g in opt.param_groups:
        g["lr"] = lr


def _psnr(mse):
    """A float-phase loss as training PSNR: the targets span [-1, 1], peak-to-peak 2."""
    return 10 * math.log10(4.0 / max(mse, 1e-20))


def _finite(loss, step):
    lv = loss.item()
    if not math.isfinite(lv):
        raise UserError(f"training diverged at step {step} (loss {lv}): lower the learning "
                        f"rate (--lr) or omega0 (--omega0)")
    return lv


def _int8_loss(pix_q, out_f, target_q, target, settings):
    """The quantization-aware phase's loss and its INT8 part.

    The loss is the INT8 datapath's error plus the float model's plus
    ``qat_consistency`` times the mean squared difference of their outputs, all on the same
    batch and in the float model's [-1, 1] units. Trained for INT8 alone, the float weights
    drift until the FP32 datapath renders a visibly different image; trained for both
    errors alone, the float model goes on past the INT8 one, whose 8-bit activations put a
    floor of noise under it (the README has the measurement). The
    disagreement term asks the two datapaths of one model file for the same picture, which
    is what a ``dual`` build switching precision at run time should show.

    Every ``qat_eval_every`` steps the whole frame (or clip subset) is rendered both ways
    and the state kept is the best for ``settings.keep`` (``_Fit._rank``): for ``dual``,
    the best whose two frames are within 1 dB of each other (or, while none is, the best
    worse PSNR); the float phase's end state is the first candidate.
    """
    # The INT8 error in pixel units, / 127.5**2: the float phase's [-1, 1] scale, so
    # Adam's moment estimates carry over.
    loss_q = torch.mean((pix_q - target_q) ** 2)
    loss_f = torch.mean((out_f - target) ** 2)
    # The two datapaths' disagreement, in the same [-1, 1] units.
    loss_c = torch.mean((out_f.double() - (pix_q / 127.5 - 1.0)) ** 2)
    return loss_q / 127.5 ** 2 + loss_f + settings.qat_consistency * loss_c, loss_q


def _rewind_results(settings, info):
    """The rewind guard's threshold and its rewinds ``(step, back to step, rate factor)``,
    when it is on (results of runs without it keep their keys)."""
    if settings.rewind is None:
        return {}
    return {"rewind": settings.rewind, "rewinds": [list(r) for r in info["rewinds"]]}


def train_image(image, config, settings, *, progress=True, image_name=None, checkpoint=None):
    """Fit, quantize and score. Returns ``(model, quant, results)``: the float model and the
    integer model the model file should hold (the quantization of that float model)."""
    h, w, _ = image.shape
    model, pretrain, info = fit(image, config, settings, progress=progress,
                                checkpoint=checkpoint)
    quant = quantize(model)
    fp32 = score(image, render_fp32(model, w, h))
    int8 = score(image, render_int8(quant, w, h))
    results = {"qat_steps": settings.qat_steps, "qat_consistency": settings.qat_consistency,
               "qat_lr": settings.qat_lr, "clip_grad": settings.clip_grad,
               "keep": settings.keep, **_rewind_results(settings, info)}
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
        "warmup": settings.warmup, "seed": settings.seed,
        "train_seconds": info["train_seconds"], "seconds_per_step": info["seconds_per_step"],
        "device": str(settings.device), "calibration": calib,
        "history": info["history"], "curve": info["curve"],
    })
    return model, quant, results


def train_clip(clip, config, settings, *, progress=True, video_name=None, eval_queries=65536,
               checkpoint=None):
    """Fit a video configuration to ``clip``, quantize and score every frame. Returns
    ``(model, quant, results)`` as :func:`train_image` does; ``psnr_fp32`` and
    ``psnr_int8`` are the mean over the frames of each frame's PSNR, and
    ``psnr_fp32_frames`` / ``psnr_int8_frames`` list them."""
    from .evaluate import render_clip_fp32, render_clip_int8, score_clip
    frames, h, w, _ = clip.shape
    model, pretrain, info = fit_clip(clip, config, settings, progress=progress,
                                     eval_queries=eval_queries, checkpoint=checkpoint)
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
        "schedule": settings.schedule, "warmup": settings.warmup, "seed": settings.seed,
        "qat_steps": settings.qat_steps, "qat_consistency": settings.qat_consistency,
        "qat_lr": settings.qat_lr, "clip_grad": settings.clip_grad,
        **_rewind_results(settings, info),
        "keep": settings.keep, "train_seconds": info["train_seconds"], "seconds_per_step": info["seconds_per_step"],
        "device": str(settings.device), "calibration": calib, "history": info["history"],
        "curve": info["curve"],
    }
    return model, quant, results
