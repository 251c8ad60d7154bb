"""Rendering at an integer upscale: a PatchINR is continuous, so a finer grid is more queries.

A query at patch centre ``c`` returns the patch's ``n x n`` pixels at ``c`` plus each pixel's
offset. Shifted by ``delta``, it returns those pixels shifted by ``delta``. A frame ``s``
times as fine in each direction, ``(s W) x (s H)``, has pixel ``J = s j + a`` (``a`` in
``0 .. s-1``) at the centre of original pixel ``j`` plus ``(2a + 1 - s) / (2 s)`` pixels, so
it is ``s x s`` ordinary frames whose query grids are shifted by those sub-pixel phases,
interleaved: ``up[s y + b, s x + a] = frame_ab[y, x]``. The queries cost ``s^2`` frames.

Coordinates are exact integers: ``round_half_up(v * 32767)`` of the shifted centre
``v = (s ((2p + 1) n - W) + 2a + 1 - s) / (s W)``, computed without floating point, so the
accelerator's query mode and the integer reference see the same int16 codes.
"""

import numpy as np

from .config import COORD_SCALE
from .data import patch_grid, unpatchify
from .support.errors import UserError
from .support.validate import positive_int

__all__ = ["upscale_coords", "upscale_coords_q", "interleave", "render_upscaled_fp32",
           "render_upscaled_int8", "MAX_UPSCALE"]

#: Largest factor: beyond it neighbouring phases of a 1920-pixel side share int16 codes.
MAX_UPSCALE = 16


def _check(width, height, patch, scale):
    positive_int("upscale factor", scale, maximum=MAX_UPSCALE)
    return patch_grid(width, height, patch)


def _axis(patches, side, patch, scale):
    """Numerators (over ``scale * side``) of every phase's centres along one axis:
    ``[scale, patches]``."""
    p = np.arange(patches, dtype=np.int64)
    a = np.arange(scale, dtype=np.int64)[:, None]
    return scale * ((2 * p + 1) * patch - side) + 2 * a + 1 - scale


def upscale_coords(width, height, patch, scale):
    """float64 ``[s*s*Q, 2]`` query coordinates: phase ``(a, b)`` by phase (``b`` outer),
    each phase's patch centres in raster order."""
    pw, ph = _check(width, height, patch, scale)
    xs = _axis(pw, width, patch, scale) / (scale * width)
    ys = _axis(ph, height, patch, scale) / (scale * height)
    out = []
    for b in range(scale):
        for a in range(scale):
            yy, xx = np.meshgrid(ys[b], xs[a], indexing="ij")
            out.append(np.stack([xx.ravel(), yy.ravel()], axis=1))
    return np.concatenate(out)


def upscale_coords_q(width, height, patch, scale):
    """int16 :func:`upscale_coords`, ``round_half_up(v * 32767)`` in integer arithmetic."""
    pw, ph = _check(width, height, patch, scale)

    def q(num, den):
        return np.floor_divide(2 * COORD_SCALE * num + den, 2 * den)

    xs = q(_axis(pw, width, patch, scale), scale * width)
    ys = q(_axis(ph, height, patch, scale), scale * height)
    out = []
    for b in range(scale):
        for a in range(scale):
            yy, xx = np.meshgrid(ys[b], xs[a], indexing="ij")
            out.append(np.stack([xx.ravel(), yy.ravel()], axis=1))
    return np.concatenate(out).astype(np.int16)


def interleave(patches, width, height, patch, channels, scale):
    """The ``(s H) x (s W) x C`` frame from the answers ``[s*s*Q, n*n*C]`` to
    :func:`upscale_coords` (phase by phase)."""
    pw, ph = _check(width, height, patch, scale)
    patches = np.asarray(patches)
    per = pw * ph
    if patches.shape[0] != scale * scale * per:
        raise UserError(f"expected {scale * scale * per} answers for a {scale}x upscale of "
                        f"{width}x{height}, not {patches.shape[0]}")
    out = np.empty((scale * height, scale * width, channels), dtype=patches.dtype)
    for b in range(scale):
        for a in range(scale):
            k = b * scale + a
            out[b::scale, a::scale] = unpatchify(patches[k * per:(k + 1) * per], width,
                                                 height, patch, channels)
    return out


def render_upscaled_int8(quant, width, height, scale):
    """uint8 ``(s H) x (s W) x C`` from the integer reference: what the accelerator's query
    mode returns for :func:`upscale_coords_q`, bit for bit."""
    from .quant import int_forward
    cfg = quant.config
    pix = int_forward(quant, upscale_coords_q(width, height, cfg.patch, scale))
    return interleave(pix, width, height, cfg.patch, cfg.channels, scale)


def render_upscaled_fp32(model, width, height, scale):
    """float32 ``(s H) x (s W) x C`` in [0, 1] from the torch model."""
    cfg = model.config
    out = model.render(upscale_coords(width, height, cfg.patch, scale).astype(np.float32))
    img = interleave(out, width, height, cfg.patch, cfg.channels, scale)
    return np.clip((img + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)
