"""The torch PatchINR: shapes, SIREN initialisation, the array interface and batched rendering."""

import math

import numpy as np
import pytest
import torch

from model.config import PatchINRConfig
from model.network import PatchINR, SineLayer


def make(seed=0, **kwargs):
    torch.manual_seed(seed)
    return PatchINR(PatchINRConfig(**{"hidden": 8, "layers": 3, **kwargs}))


@pytest.mark.parametrize("patch, channels", [(1, 1), (2, 3), (3, 1), (4, 3)])
def test_output_shape(patch, channels):
    model = make(patch=patch, channels=channels)
    out = model(torch.zeros(5, 2))
    assert out.shape == (5, channels * patch * patch) and out.dtype == torch.float32
    assert model(torch.zeros(2, 3, 2)).shape == (2, 3, channels * patch * patch)


def test_structure_follows_config():
    cfg = PatchINRConfig(patch=2, channels=3, hidden=6, layers=4, omega0=12.0)
    model = PatchINR(cfg)
    assert len(model.sines) == 4
    assert all(s.omega0 == 12.0 for s in model.sines)
    assert [tuple(l.weight.shape) for l in model.linears()] == [(6, 2), (6, 6), (6, 6), (6, 6), (12, 6)]
    assert model.linears()[-1] is model.head


def test_rejects_non_config():
    with pytest.raises(TypeError, match="PatchINRConfig"):
        PatchINR({"patch": 2})


def test_siren_initialisation_bounds():
    cfg = PatchINRConfig(hidden=64, layers=3, omega0=30.0, channels=3, patch=2)
    torch.manual_seed(1)
    ws = [l.weight.detach() for l in PatchINR(cfg).linears()]
    # first layer U(-1/in, 1/in) with in = 2; later layers U(-sqrt(6/in)/omega0, ..)
    bounds = [1 / 2] + [math.sqrt(6 / 64) / 30] * 3
    for w, b in zip(ws, bounds):
        assert w.abs().max() <= b
        assert w.abs().max() > 0.9 * b           # spread over the range, not collapsed
        assert abs(w.mean()) < 0.2 * b


def test_sine_layer_is_sine_of_scaled_affine():
    torch.manual_seed(2)
    layer = SineLayer(3, 4, omega0=7.0, first=False)
    x = torch.randn(10, 3)
    want = torch.sin(7.0 * (x @ layer.linear.weight.T + layer.linear.bias))
    np.testing.assert_allclose(layer(x).detach().numpy(), want.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_forward_is_the_composition():
    model = make(seed=3, patch=2, channels=1)
    x = torch.rand(7, 2) * 2 - 1
    h = x
    for (w, b) in model.state_arrays()[:-1]:
        h = torch.sin(model.config.omega0 * (h @ torch.as_tensor(w).T + torch.as_tensor(b)))
    w, b = model.state_arrays()[-1]
    want = h @ torch.as_tensor(w).T + torch.as_tensor(b)
    np.testing.assert_allclose(model(x).detach().numpy(), want.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_state_arrays_round_trip():
    a = make(seed=4, patch=3, channels=3)
    b = make(seed=5, patch=3, channels=3)
    arrays = a.state_arrays()
    assert all(w.dtype == np.float32 and bb.dtype == np.float32 for w, bb in arrays)
    assert [(w.shape, bb.shape) for w, bb in arrays] == [((o, i), (o,)) for o, i in a.config.layer_shapes]
    x = torch.rand(9, 2) * 2 - 1
    assert not torch.equal(a(x), b(x))
    assert b.load_arrays(arrays) is b
    assert torch.equal(a(x), b(x))
    # the arrays are copies: changing them later does not touch the model
    arrays[0][0][:] = 0
    assert torch.equal(a(x), b(x))


def test_load_arrays_rejects_wrong_layer_count():
    model = make()
    with pytest.raises(ValueError, match="expected 4 layers, not 3"):
        model.load_arrays(model.state_arrays()[:3])


def test_render_batches_equal_one_pass():
    model = make(seed=6, patch=2, channels=3)
    coords = np.random.default_rng(0).uniform(-1, 1, (23, 2))
    out = model.render(coords, batch=5)
    assert out.dtype == np.float32 and out.shape == (23, 12)
    with torch.no_grad():
        want = model(torch.as_tensor(coords, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.render(coords, batch=1), want, rtol=0, atol=1e-6)
