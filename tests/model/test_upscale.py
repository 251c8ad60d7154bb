"""Rendering at an integer upscale through sub-patch phases."""

from fractions import Fraction

import numpy as np
import pytest
import torch

from model.config import COORD_SCALE, PatchINRConfig
from model.data import patch_centres_q
from model.evaluate import render_fp32, render_int8
from model.network import PatchINR
from model.quant import quantize
from model.support.errors import UserError
from model.upscale import (MAX_UPSCALE, interleave, render_upscaled_fp32, render_upscaled_int8,
                           upscale_coords, upscale_coords_q)


def test_scale_one_is_the_frame():
    for w, h, n in ((8, 4, 2), (6, 9, 3), (5, 5, 1)):
        assert np.array_equal(upscale_coords_q(w, h, n, 1), patch_centres_q(w // n, h // n))


@pytest.mark.parametrize("w, h, n, s", [(8, 4, 2, 2), (6, 6, 3, 3), (4, 8, 4, 4), (5, 3, 1, 2)])
def test_integer_coordinates_are_the_exact_rounding(w, h, n, s):
    # round_half_up(v * 32767) of the exact rational centres, against the module's integers.
    q = upscale_coords_q(w, h, n, s)
    got = iter(q.tolist())
    for b in range(s):
        for a in range(s):
            for py in range(h // n):
                for px in range(w // n):
                    want = []
                    for p, phase, side in ((px, a, w), (py, b, h)):
                        v = Fraction(s * ((2 * p + 1) * n - side) + 2 * phase + 1 - s, s * side)
                        want.append((v * COORD_SCALE + Fraction(1, 2)).__floor__())
                    assert next(got) == want
    assert np.allclose(upscale_coords(w, h, n, s) * COORD_SCALE, q, atol=0.5 + 1e-9)


def test_a_pixelwise_model_upscaled_is_the_larger_frame():
    # At n = 1 the phases of pixel j are exactly the pixel centres of the s-times frame.
    torch.manual_seed(0)
    net = PatchINR(PatchINRConfig(patch=1, channels=3, hidden=8, layers=2))
    quant = quantize(net)
    for s in (2, 3):
        assert np.array_equal(render_upscaled_int8(quant, 6, 4, s),
                              render_int8(quant, 6 * s, 4 * s))
        assert np.allclose(render_upscaled_fp32(net, 6, 4, s), render_fp32(net, 6 * s, 4 * s),
                           atol=1e-6)


def test_interleave_places_each_phase():
    w, h, n, s, ch = 4, 2, 2, 2, 1
    per = (w // n) * (h // n)
    # Every answer's values are its phase index: the output shows the phase pattern.
    answers = np.repeat(np.arange(s * s), per)[:, None].repeat(n * n * ch, axis=1)
    up = interleave(answers, w, h, n, ch, s)[:, :, 0]
    assert up.shape == (s * h, s * w)
    assert (up[0::2, 0::2] == 0).all() and (up[0::2, 1::2] == 1).all()
    assert (up[1::2, 0::2] == 2).all() and (up[1::2, 1::2] == 3).all()
    with pytest.raises(UserError, match="expected 8 answers"):
        interleave(answers[:-1], w, h, n, ch, s)


def test_bad_factors():
    with pytest.raises(UserError, match="positive integer"):
        upscale_coords_q(4, 4, 2, 0)
    with pytest.raises(UserError, match="exceeds the limit"):
        upscale_coords_q(4, 4, 2, MAX_UPSCALE + 1)
    with pytest.raises(UserError, match="not divisible"):
        upscale_coords_q(5, 4, 2, 2)
