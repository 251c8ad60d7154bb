"""PSNR and SSIM on [0, 1] images."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from model.metrics import psnr, ssim


def test_psnr_identical_is_inf():
    img = np.random.default_rng(0).random((8, 9, 3))
    assert psnr(img, img) == math.inf
    assert psnr(img.astype(np.float32), img.astype(np.float32)) == math.inf


@pytest.mark.parametrize("d", [0.1, 0.01, 1 / 255])
def test_psnr_of_known_noise(d):
    # +-d in a checkerboard: MSE = d**2 exactly, PSNR = 10 log10(1 / d**2) = -20 log10(d)
    ref = np.full((6, 8, 1), 0.5)
    sign = np.where(np.indices((6, 8)).sum(axis=0) % 2 == 0, 1.0, -1.0)[:, :, None]
    assert psnr(ref, ref + d * sign) == pytest.approx(-20 * math.log10(d), rel=1e-9)


def test_psnr_of_random_noise_matches_formula():
    rng = np.random.default_rng(1)
    ref = rng.random((16, 16, 3))
    test = np.clip(ref + rng.normal(0, 0.05, ref.shape), 0, 1)
    mse = sum((a - b) ** 2 for a, b in zip(ref.ravel().tolist(), test.ravel().tolist())) / ref.size
    assert psnr(ref, test) == pytest.approx(10 * math.log10(1 / mse), rel=1e-9)
    assert psnr(ref, test) == psnr(test, ref)


def test_psnr_extremes():
    assert psnr(np.zeros((2, 2, 1)), np.ones((2, 2, 1))) == 0.0
    assert psnr(np.zeros((4, 4, 1)), np.full((4, 4, 1), 0.5)) == pytest.approx(6.0206, abs=1e-4)


def test_psnr_shape_mismatch():
    with pytest.raises(ValueError, match="image shapes differ"):
        psnr(np.zeros((4, 4, 1)), np.zeros((4, 4, 3)))


def test_ssim_identical_is_one():
    img = np.random.default_rng(2).random((16, 16, 3))
    assert ssim(img, img) == pytest.approx(1.0)


@settings(max_examples=25, deadline=None)
@given(h=st.integers(3, 20), w=st.integers(3, 20), c=st.sampled_from([1, 3]),
       seed=st.integers(0, 2 ** 32 - 1))
def test_ssim_in_range(h, w, c, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.random((h, w, c)), rng.random((h, w, c))
    v = ssim(a, b)
    assert -1.0 <= v <= 1.0
    assert ssim(a, 1 - a) < 0 < ssim(a, np.clip(a + rng.normal(0, 0.02, a.shape), 0, 1))


def test_ssim_orders_by_distortion():
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:32, 0:32] / 31.0
    img = np.stack([x, y, (x + y) / 2], axis=2)
    mild = np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1)
    strong = np.clip(img + rng.normal(0, 0.2, img.shape), 0, 1)
    assert 1 > ssim(img, mild) > ssim(img, strong)


@pytest.mark.parametrize("shape", [(2, 2, 1), (1, 9, 3), (9, 2, 1)])
def test_ssim_too_small(shape):
    with pytest.raises(ValueError, match="at least 3x3"):
        ssim(np.zeros(shape), np.zeros(shape))


def test_ssim_shape_mismatch():
    with pytest.raises(ValueError, match="image shapes differ"):
        ssim(np.zeros((4, 4, 1)), np.zeros((5, 4, 1)))
