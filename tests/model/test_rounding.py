"""Where the INT8 datapath's PSNR goes (model/rounding.py): the float simulation against the
torch model and the integer reference, and costs worked out by hand."""

import math

import numpy as np
import pytest
import torch

from model.config import PatchINRConfig
from model.data import patch_centres, patch_centres_q
from model.network import PatchINR
from model.quant import int_forward, quantize
from model.rounding import ROUNDINGS, rounding_costs, simulate


@pytest.mark.parametrize("seed", [0, 1])
def test_no_rounding_is_the_float_model_and_every_rounding_is_the_integer_reference(seed):
    torch.manual_seed(seed)
    cfg = PatchINRConfig(patch=2, channels=3, hidden=32, layers=3)
    model = PatchINR(cfg)
    coords = patch_centres(16, 12)
    float_out = simulate(cfg, model.state_arrays(), coords)
    assert np.abs(float_out - np.clip((model.render(coords) + 1) / 2, 0, 1)).max() < 1e-6
    # All five roundings: the integer reference's pixels, but for the requantization
    # multipliers' and the biases' own grids (off by one code on under 1 % of the values).
    pixels = np.round(simulate(cfg, model.state_arrays(), coords, rounded=ROUNDINGS) * 255)
    ref = int_forward(quantize(model), patch_centres_q(16, 12)).astype(np.float64)
    off = np.abs(pixels - ref)
    assert off.max() <= 1 and (off > 0).mean() < 0.01


def _constant_model(bias):
    """A model whose sine layers give 0 everywhere and whose head adds ``bias``: its output
    is ``(bias + 1) / 2`` at every query."""
    cfg = PatchINRConfig(patch=1, channels=1, hidden=4, layers=1)
    arrays = [(np.zeros((4, 2)), np.zeros(4)),
              (np.array([[0.5, -0.25, 0.0, 0.125]]), np.array([bias]))]
    return cfg, arrays


def test_output_rounding_costs_what_the_nearest_code_is_away():
    # Output 127.8 / 255 against a target of exactly that: the 8-bit output rounds it to
    # 128 / 255, 0.2 codes off everywhere; no other rounding changes anything (zero
    # weights and phases, sin(0) = 0).
    cfg, arrays = _constant_model(2 * 127.8 / 255 - 1)
    coords = patch_centres(4, 4)
    target = np.full((16, 1), 127.8 / 255)
    got = rounding_costs(cfg, arrays, coords, target)
    assert got["fp32"] > 150                                   # exact up to float64
    assert got["alone"]["output"] == pytest.approx(10 * math.log10(255 ** 2 / 0.2 ** 2))
    for other in ("coordinates", "weights", "phase", "activations"):
        assert got["alone"][other] > 150
    assert got["all"] == pytest.approx(got["alone"]["output"])
    assert got["cost"]["output"] == pytest.approx(got["fp32"] - got["alone"]["output"])


def test_weights_on_their_grid_cost_nothing_and_off_it_cost_their_layer():
    torch.manual_seed(3)
    cfg = PatchINRConfig(patch=2, channels=3, hidden=16, layers=2)
    arrays = [(w.astype(np.float64), b.astype(np.float64))
              for w, b in PatchINR(cfg).state_arrays()]
    # Move layer 1's weights onto its grid (each row's largest stays, the rest round to
    # multiples of max / 127): rounding that layer then changes nothing.
    w, b = arrays[1]
    step = np.abs(w).max(axis=1, keepdims=True) / 127
    arrays[1] = (np.round(w / step) * step, b)
    coords = patch_centres(8, 8)
    target = np.clip(simulate(cfg, arrays, coords), 0, 1)     # the float model is exact
    got = rounding_costs(cfg, arrays, coords, target)
    assert got["weights_by_layer"][1] > 150                 # no error but float64's
    assert got["weights_by_layer"][0] < 100 and got["weights_by_layer"][2] < 100
    assert len(got["weights_by_layer"]) == 3


def test_an_unknown_rounding_is_refused():
    cfg, arrays = _constant_model(0.0)
    with pytest.raises(ValueError, match="unknown roundings"):
        simulate(cfg, arrays, patch_centres(2, 2), rounded=("bias",))
