"""Where a clip's larger patches lose to n = 1: ``python -m accel.bench --videos ... --stage
gap``.

Reads the sweep's model files (``OUT/video/models``) and the clip, and measures, for each
patch size against n = 1 of the same clip (FP32 and the INT8 reference alike):

* the gap per frame (is it a few frames, or all of them?);
* the PSNR at each position inside the patch (does the head serve some of its ``n*n``
  pixels worse than others?);
* the gap on pixels grouped by the target's local detail (gradient magnitude: flat half,
  50-90 %, 90-99 %, top 1 %) and by motion (frame-to-frame change: still half, 50-90 %,
  top 10 %);
* what the best linear head on the model's own final features would reach (least
  squares over the whole clip): if it gains little, the head is not what limits the
  model, the shared features are;
* where its INT8 loss comes from: the float model with each of the integer datapath's
  roundings alone, and each layer's weights alone (:func:`model.rounding.rounding_costs`).

Writes ``RESULTS/video/gap.json`` and ``gap.md``; rows there of clips this run does not
measure (same size, frames and steps) are kept, so clips can be measured one at a time.
"""

import os

import numpy as np

from model.support.errors import UserError
from model.support.files import write_bytes, write_json

__all__ = ["video_gap", "DETAIL_BANDS", "MOTION_BANDS"]

#: Quantile bands of the target's gradient magnitude (luma).
DETAIL_BANDS = (("flat half", 0.0, 0.5), ("50-90 %", 0.5, 0.9), ("90-99 %", 0.9, 0.99),
                ("top 1 %", 0.99, 1.0))
#: Quantile bands of the target's frame-to-frame change (luma; the first frame left out).
MOTION_BANDS = (("still half", 0.0, 0.5), ("50-90 %", 0.5, 0.9), ("top 10 %", 0.9, 1.0))


def _psnr(mse):
    return float(10 * np.log10(1.0 / max(float(mse), 1e-20)))


def _bands(values, error, bands, mask=None):
    """``{band: PSNR}`` of the pixels whose ``values`` fall in each quantile band."""
    chosen = values if mask is None else values[mask]
    edges = np.quantile(chosen, [b for _, b, _ in bands] + [1.0])
    out = {}
    for (name, _, _), lo, hi in zip(bands, edges[:-1], edges[1:]):
        sel = (values >= lo) & ((values < hi) if hi < edges[-1] else (values <= hi))
        if mask is not None:
            sel &= mask
        out[name] = _psnr(error[sel].mean())
    return out


def _renders(sweep, out, video, patch):
    """``(fp32, int8, least-squares head)`` clips in [0, 1] of the point's model file, and
    its rounding costs (:func:`model.rounding.rounding_costs`)."""
    import torch

    from model import export
    from model.data import patch_grid
    from model.evaluate import render_clip_fp32, render_clip_int8
    from model.rounding import rounding_costs
    from model.video import clip_coords, patchify_clip, unpatchify_clip
    path = os.path.join(out, "video", "models", f"{sweep.key(video, patch)}.npz")
    if not os.path.exists(path):
        raise UserError(f"no model file {path!r}: train the point first (--stage train "
                        f"with the same --out)")
    mf = export.load(path)
    S, F = sweep.size, sweep.frames
    model = mf.torch_model()
    fp32 = render_clip_fp32(model, S, S, F)
    int8 = render_clip_int8(mf.quant, S, S, F).astype(np.float32) / 255.0
    # The best linear head on the model's own last features, over the whole clip.
    pw, ph = patch_grid(S, S, patch)
    with torch.no_grad():
        x = torch.as_tensor(clip_coords(pw, ph, F), dtype=torch.float32)
        for layer in model.sines:
            x = layer(x)
    feats = np.concatenate([x.numpy().astype(np.float64), np.ones((len(x), 1))], axis=1)
    target = patchify_clip(sweep.clip(video) * 2.0 - 1.0, patch).astype(np.float64)
    head, *_ = np.linalg.lstsq(feats, target, rcond=None)
    best = unpatchify_clip((feats @ head).astype(np.float32), S, S, F, patch, 3)
    costs = rounding_costs(mf.config, mf.fp32, clip_coords(pw, ph, F), (target + 1.0) / 2.0)
    return fp32, int8, np.clip((best + 1.0) / 2.0, 0.0, 1.0), costs


def _measure(target, recon, base, patch):
    """The figures of one reconstruction against the target and against n = 1's."""
    err = ((recon - target) ** 2).mean(-1)                  # [F, H, W]
    base_err = ((base - target) ** 2).mean(-1)
    luma = target.mean(-1)
    detail = (np.abs(np.diff(luma, axis=2, append=luma[:, :, -1:]))
              + np.abs(np.diff(luma, axis=1, append=luma[:, -1:, :])))
    motion = np.abs(np.diff(luma, axis=0, prepend=luma[:1]))
    moving = np.ones_like(motion, dtype=bool)
    moving[0] = False
    frames = [_psnr(e.mean()) for e in err]
    base_frames = [_psnr(e.mean()) for e in base_err]
    gaps = np.subtract(base_frames, frames)
    positions = {f"{dx},{dy}": _psnr(err[:, dy::patch, dx::patch].mean())
                 for dy in range(patch) for dx in range(patch)}
    return {
        "psnr": _psnr(err.mean()),
        "gap_db": _psnr(base_err.mean()) - _psnr(err.mean()),
        "frame_gap_db": {"min": float(gaps.min()), "max": float(gaps.max()),
                         "mean": float(gaps.mean())},
        "positions": positions,
        "detail": {k: {"psnr": v, "n1": b, "gap_db": b - v} for (k, v), b in zip(
            _bands(detail, err, DETAIL_BANDS).items(),
            _bands(detail, base_err, DETAIL_BANDS).values())},
        "motion": {k: {"psnr": v, "n1": b, "gap_db": b - v} for (k, v), b in zip(
            _bands(motion, err, MOTION_BANDS, moving).items(),
            _bands(motion, base_err, MOTION_BANDS, moving).values())},
    }


def video_gap(sweep, out, results, *, log=print):
    """Measure every clip's patch sizes against its n = 1 point (module docstring); returns
    the rows written to ``RESULTS/video/gap.json``."""
    if 1 not in sweep.patches or len(sweep.patches) < 2:
        raise UserError("the gap is measured against n = 1: sweep --patches 1 and at least "
                        "one other")
    rows = []
    for video in sweep.videos:
        target = np.asarray(sweep.clip(video), dtype=np.float32)
        base = {}
        for patch in sweep.patches:
            log(f"gap: {video} n={patch}")
            fp32, int8, best, costs = _renders(sweep, out, video, patch)
            if patch == 1:
                base = {"fp32": fp32, "int8": int8}
            row = {"video": video, "patch": patch,
                   "head_refit_gain_db": _psnr(((best - target) ** 2).mean())
                   - _psnr(((fp32 - target) ** 2).mean()),
                   "rounding": costs}
            for kind, recon in (("fp32", fp32), ("int8", int8)):
                row[kind] = _measure(target, recon, base[kind], patch)
            rows.append(row)
    folder = os.path.join(results, "video")
    os.makedirs(folder, exist_ok=True)
    kept = _other_clips(os.path.join(folder, "gap.json"), sweep)
    write_json(os.path.join(folder, "gap.json"),
               {"size": sweep.size, "frames": sweep.frames, "steps": sweep.steps,
                "rows": kept + rows})
    write_bytes(os.path.join(folder, "gap.md"), markdown(kept + rows, sweep).encode())
    return rows


def _other_clips(path, sweep):
    """The rows of ``path`` (an earlier ``gap.json`` of the same size, frames and steps)
    for clips this sweep does not measure: one clip's gap is measured at a time when the
    others' model files are elsewhere, and the table keeps them."""
    import json
    try:
        with open(path) as f:
            old = json.load(f)
    except (OSError, ValueError):
        return []
    if not isinstance(old, dict) or [old.get(k) for k in ("size", "frames", "steps")] != \
            [sweep.size, sweep.frames, sweep.steps]:
        return []
    return [r for r in old.get("rows", ()) if isinstance(r, dict)
            and r.get("video") not in sweep.videos]


def markdown(rows, sweep):
    """The INT8 figures of :func:`video_gap` as a Markdown table."""
    lines = [f"Clips at {sweep.size}x{sweep.size}, {sweep.frames} frames, {sweep.steps} "
             f"steps; INT8 PSNR against n = 1 of the same clip (gap: n = 1 minus this).", "",
             "| clip | n | gap | per frame | patch positions | detail: flat half / 50-90 % "
             "/ 90-99 % / top 1 % | motion: still half / 50-90 % / top 10 % | "
             "least-squares head |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["patch"] == 1:
            continue
        m = r["int8"]
        pos = m["positions"].values()
        lines.append(
            f"| {r['video']} | {r['patch']} | {m['gap_db']:.2f} dB | "
            f"{m['frame_gap_db']['min']:.2f}-{m['frame_gap_db']['max']:.2f} dB | "
            f"{min(pos):.2f}-{max(pos):.2f} dB | "
            + " / ".join(f"{b['gap_db']:.2f}" for b in m["detail"].values()) + " dB | "
            + " / ".join(f"{b['gap_db']:.2f}" for b in m["motion"].values()) + " dB | "
            f"{r['head_refit_gain_db']:+.2f} dB FP32 |")
    return "\n".join(lines + [""] + _rounding_table(rows)) + "\n"


def _rounding_table(rows):
    """Each point's INT8 loss by rounding (:mod:`model.rounding`)."""
    from model.rounding import ROUNDINGS
    lines = ["Where each point's INT8 loss comes from: the float model's PSNR (over the whole "
             "clip) less its PSNR with one rounding of the integer datapath alone; all of "
             "them together simulate the INT8 reference.", "",
             "| clip | n | FP32 | all roundings | " + " | ".join(ROUNDINGS)
             + " | weights, by layer |",
             "|---|---:|---:|---:|" + "---:|" * len(ROUNDINGS) + "---|"]
    def db(x):                          # no "-0.00": a cost below the last digit is none
        return f"{0.0 if abs(x) < 0.005 else x:.2f}"
    for r in rows:
        c = r.get("rounding")
        if c is None:                   # measured before the rounding costs were
            lines.append(f"| {r['video']} | {r['patch']} | not measured |" + " |" * 7)
            continue
        layers = " / ".join(db(c["fp32"] - v) for v in c["weights_by_layer"])
        lines.append(f"| {r['video']} | {r['patch']} | {c['fp32']:.2f} dB | "
                     f"{c['all']:.2f} dB | "
                     + " | ".join(f"{db(c['cost'][k])} dB" for k in ROUNDINGS)
                     + f" | {layers} dB |")
    return lines
