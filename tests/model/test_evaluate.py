"""Rendering frames (float32 and the integer datapath), shifted rendering, PNG output, scores."""

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import shift as nd_shift

from model.config import PatchINRConfig
from model.data import load_image, to_uint8
from model.evaluate import render_fp32, render_int8, save_png, score, shifted_psnr
from model.metrics import psnr, ssim
from model.network import PatchINR
from model.quant import int_forward, quantize
from model.support.errors import UserError


def make(*, patch, channels, omega0=30.0, head_gain=30.0, seed=0):
    torch.manual_seed(seed)
    model = PatchINR(PatchINRConfig(patch=patch, channels=channels, hidden=12, layers=2,
                                    omega0=omega0))
    with torch.no_grad():
        model.head.weight.mul_(head_gain)       # use the whole [0, 1] range
    return model.eval()


def place(values, width, height, n, c):
    """Patch outputs [Q, n*n*c] to an image by explicit indexing (raster patches, (dy, dx, c))."""
    pw = width // n
    img = np.zeros((height, width, c), values.dtype)
    for y in range(height):
        for x in range(width):
            q = (y // n) * pw + x // n
            for ch in range(c):
                img[y, x, ch] = values[q, ((y % n) * n + x % n) * c + ch]
    return img


@pytest.mark.parametrize("patch, channels, w, h", [(1, 1, 6, 5), (2, 3, 8, 6), (3, 1, 9, 12),
                                                    (4, 3, 8, 8)])
def test_render_fp32(patch, channels, w, h):
    model = make(patch=patch, channels=channels)
    img = render_fp32(model, w, h)
    assert img.shape == (h, w, channels) and img.dtype == np.float32
    assert 0 <= img.min() and img.max() <= 1
    assert (img == 0).any() and (img == 1).any()          # clipped at both ends
    # against the model evaluated at patch centres x = (2i + 1)/pw - 1 by hand
    pw, ph = w // patch, h // patch
    coords = [[(2 * i + 1) / pw - 1, (2 * j + 1) / ph - 1] for j in range(ph) for i in range(pw)]
    with torch.no_grad():
        out = model(torch.tensor(coords, dtype=torch.float32)).double().numpy()
    want = np.clip((place(out, w, h, patch, channels) + 1) / 2, 0, 1)
    np.testing.assert_allclose(img, want, atol=1e-6)


def test_render_rejects_indivisible_frame():
    with pytest.raises(UserError, match="not divisible"):
        render_fp32(make(patch=2, channels=1), 7, 8)
    with pytest.raises(UserError, match="not divisible"):
        render_int8(quantize(make(patch=3, channels=1)), 9, 10)


@pytest.mark.parametrize("patch, channels, w, h", [(1, 3, 6, 5), (2, 1, 8, 6), (3, 3, 6, 9)])
def test_render_int8(patch, channels, w, h):
    model = make(patch=patch, channels=channels)
    qm = quantize(model)
    img = render_int8(qm, w, h)
    assert img.shape == (h, w, channels) and img.dtype == np.uint8
    # the integer datapath at x_q = round_half_up(32767 (2i + 1 - pw) / pw), placed by hand
    pw, ph = w // patch, h // patch
    xq = [(2 * 32767 * (2 * i + 1 - pw) + pw) // (2 * pw) for i in range(pw)]
    yq = [(2 * 32767 * (2 * j + 1 - ph) + ph) // (2 * ph) for j in range(ph)]
    coords = np.array([[x, y] for y in yq for x in xq], np.int16)
    assert np.array_equal(img, place(int_forward(qm, coords), w, h, patch, channels))
    # and it renders the same picture as the float model, to a few codes
    f = render_fp32(model, w, h).astype(np.float64) * 255
    assert np.abs(img - f).mean() < 1.5 and np.abs(img - f).max() < 8


def test_offset_half_patch_queries_patch_boundaries():
    n, w, h = 2, 8, 6
    model = make(patch=n, channels=3)
    img = render_fp32(model, w, h, offset=(0.5, 0.5))
    assert img.shape == (h, w, 3) and img.dtype == np.float32
    pw, ph = w // n, h // n
    # half a patch right/down of centre i is the boundary between patches i and i + 1
    coords = [[2 * (i + 1) / pw - 1, 2 * (j + 1) / ph - 1] for j in range(ph) for i in range(pw)]
    with torch.no_grad():
        out = model(torch.tensor(coords, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(img, np.clip((place(out, w, h, n, 3) + 1) / 2, 0, 1), atol=1e-6)
    assert not np.allclose(img, render_fp32(model, w, h))


def test_offset_of_one_patch_shifts_by_patch_size():
    # pixel (x, y) of the shifted render shows position (x + offset_x n, y + offset_y n)
    n, w, h = 2, 12, 8
    model = make(patch=n, channels=1)
    base = render_fp32(model, w, h)
    np.testing.assert_allclose(render_fp32(model, w, h, offset=(1.0, 0.0))[:, :-n], base[:, n:],
                               atol=1e-6)
    np.testing.assert_allclose(render_fp32(model, w, h, offset=(0.0, 1.0))[:-n], base[n:],
                               atol=1e-6)


def test_shifted_psnr_of_a_continuous_model():
    # a smooth pixel-wise model, scored against its own on-grid frame: the render at the
    # half-pixel grid matches the bilinear resampling closely, the unshifted frame does not
    model = make(patch=1, channels=3, omega0=2.0, head_gain=3.0)
    target = render_fp32(model, 32, 32)
    assert target.std() > 0.2
    good = shifted_psnr(model, target)
    ref = np.stack([nd_shift(target[:, :, c].astype(np.float64), (-0.5, -0.5), order=1,
                             mode="nearest") for c in range(3)], axis=2)
    lookup = psnr(ref[1:-1, 1:-1], target[1:-1, 1:-1])
    assert good > 45 and good > lookup + 15
    assert shifted_psnr(model, target, offset=(0.0, 0.0)) == np.inf


@pytest.mark.parametrize("channels", [1, 3])
def test_save_png_round_trip(tmp_path, channels):
    img = np.random.default_rng(0).random((5, 7, channels)).astype(np.float32)
    path = tmp_path / "out" / "img.png"                 # folders are made
    save_png(path, img)
    with Image.open(path) as im:
        assert im.mode == ("L" if channels == 1 else "RGB") and im.size == (7, 5)
        back = np.asarray(im)
    assert np.array_equal(back.reshape(5, 7, channels), to_uint8(img))
    assert np.array_equal(to_uint8(load_image(str(path))), to_uint8(img))


def test_save_png_uint8_is_written_unchanged(tmp_path):
    img = np.random.default_rng(1).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    path = tmp_path / "u.png"
    save_png(str(path), img)
    assert np.array_equal(np.asarray(Image.open(path)), img)


def test_score():
    rng = np.random.default_rng(2)
    target = rng.random((8, 8, 3)).astype(np.float32)
    recon = to_uint8(np.clip(target + rng.normal(0, 0.03, target.shape), 0, 1))
    s = score(target, recon)
    assert set(s) == {"psnr", "ssim"}
    as_float = recon.astype(np.float64) / 255
    assert s["psnr"] == pytest.approx(psnr(target, as_float))
    assert s["ssim"] == pytest.approx(ssim(target, as_float))
    assert score(target, target)["psnr"] == np.inf
