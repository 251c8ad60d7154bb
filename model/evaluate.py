"""Rendering frames from a PatchINR (float32 or the integer datapath) and scoring them."""

import numpy as np

from .data import patch_centres, patch_centres_q, patch_grid, unpatchify
from .metrics import psnr, ssim
from .quant import int_forward

__all__ = ["render_fp32", "render_int8", "render_clip_fp32", "render_clip_int8",
           "shifted_psnr", "save_png", "png_bytes", "score", "score_clip"]


def render_fp32(model, width, height, *, offset=(0.0, 0.0)):
    """Float32 ``[H, W, C]`` image in [0, 1] from the torch model.

    ``offset`` shifts the query grid by that fraction of a patch: pixel ``(x, y)`` of the
    result then shows position ``(x + offset_x * n, y + offset_y * n)`` of the original.
    """
    cfg = model.config
    pw, ph = patch_grid(width, height, cfg.patch)
    out = model.render(patch_centres(pw, ph, offset))
    img = unpatchify(out, width, height, cfg.patch, cfg.channels)
    return np.clip((img + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)


def render_int8(quant, width, height):
    """uint8 ``[H, W, C]`` image from the integer reference (the accelerator's exact output)."""
    cfg = quant.config
    pw, ph = patch_grid(width, height, cfg.patch)
    pix = int_forward(quant, patch_centres_q(pw, ph))
    return unpatchify(pix, width, height, cfg.patch, cfg.channels)


def render_clip_fp32(model, width, height, frames):
    """Float32 ``[F, H, W, C]`` clip in [0, 1] from a video model (:mod:`model.video`)."""
    from .video import clip_coords, unpatchify_clip
    cfg = model.config
    pw, ph = patch_grid(width, height, cfg.patch)
    out = model.render(clip_coords(pw, ph, frames))
    clip = unpatchify_clip(out, width, height, frames, cfg.patch, cfg.channels)
    return np.clip((clip + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)


def render_clip_int8(quant, width, height, frames):
    """uint8 ``[F, H, W, C]`` clip from the integer reference."""
    from .video import clip_coords_q, unpatchify_clip
    cfg = quant.config
    pw, ph = patch_grid(width, height, cfg.patch)
    pix = int_forward(quant, clip_coords_q(pw, ph, frames))
    return unpatchify_clip(pix, width, height, frames, cfg.patch, cfg.channels)


def score_clip(target, recon):
    """``{"psnr", "ssim"}`` (means over the frames) and ``psnr_frames`` of a clip."""
    per = [score(t, r) for t, r in zip(target, recon)]
    return {"psnr": float(np.mean([p["psnr"] for p in per])),
            "ssim": float(np.mean([p["ssim"] for p in per])),
            "psnr_frames": [p["psnr"] for p in per]}


def score(target, recon):
    """``{"psnr": dB, "ssim": ...}`` of a [0, 1] float or uint8 reconstruction."""
    recon = np.asarray(recon)
    if recon.dtype == np.uint8:
        recon = recon.astype(np.float32) / 255.0
    return {"psnr": psnr(target, recon), "ssim": ssim(target, recon)}


def shifted_psnr(model, target, offset=(0.5, 0.5)):
    """PSNR of a render on a grid shifted by ``offset`` patches against the target image
    resampled (bilinearly) at the same positions; the border of one patch is left out.

    A continuous representation scores close to its on-grid PSNR here; a lookup table of
    patches would not.
    """
    from scipy.ndimage import shift as nd_shift
    h, w, c = target.shape
    n = model.config.patch
    img = render_fp32(model, w, h, offset=offset)
    dx, dy = offset[0] * n, offset[1] * n
    ref = np.stack([nd_shift(target[:, :, ch].astype(np.float64), (-dy, -dx), order=1, mode="nearest")
                    for ch in range(c)], axis=2)
    b = max(n, 1)
    return psnr(ref[b:-b, b:-b], img[b:-b, b:-b])


def png_bytes(img):
    """A [0, 1] float or uint8 ``[H, W, C]`` image encoded as PNG."""
    import io

    from PIL import Image

    from .data import to_uint8
    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = to_uint8(img)
    if img.shape[2] == 1:
        img = img[:, :, 0]
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def save_png(path, img):
    """Write a [0, 1] float or uint8 ``[H, W, C]`` image as PNG, atomically."""
    from .support.files import check_output, write_bytes
    check_output(path, suffixes=(".png",))
    write_bytes(path, png_bytes(img))
