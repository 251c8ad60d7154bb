"""Image quality metrics on [0, 1] float images."""

import numpy as np

__all__ = ["psnr", "ssim"]


def psnr(reference, test):
    """Peak signal-to-noise ratio in dB for images in [0, 1] (peak 1)."""
    ref = np.asarray(reference, dtype=np.float64)
    tst = np.asarray(test, dtype=np.float64)
    if ref.shape != tst.shape:
        raise ValueError(f"image shapes differ: {ref.shape} vs {tst.shape}")
    mse = np.mean((ref - tst) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))


def ssim(reference, test):
    """Structural similarity (scikit-image, Gaussian-free 7x7 windows), channels averaged."""
    from skimage.metrics import structural_similarity
    ref = np.asarray(reference, dtype=np.float64)
    tst = np.asarray(test, dtype=np.float64)
    if ref.shape != tst.shape:
        raise ValueError(f"image shapes differ: {ref.shape} vs {tst.shape}")
    win = min(7, *(s if s % 2 else s - 1 for s in ref.shape[:2]))
    if win < 3:     # a 1x1 window has no variance: scikit-image divides by zero
        raise ValueError(f"SSIM needs images of at least 3x3 pixels, not "
                         f"{ref.shape[1]}x{ref.shape[0]}")
    return float(structural_similarity(ref, tst, data_range=1.0, channel_axis=2, win_size=win))
