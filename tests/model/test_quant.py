"""INT8 quantization: the integer reference against the fake-quantized torch model (bit for
bit), both against a plain-Python rendering of the documented datapath, and the number formats."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings, strategies as st

from model.config import COORD_SCALE, PatchINRConfig, QuantSpec
from model.data import patch_centres, patch_centres_q
from model.network import PatchINR
from model.quant import (MAX_SHIFT, FakeQuantPatchINR, QuantLayer, QuantModel, calibrate,
                         int_forward, quantize, requant_params, sine_lut, weight_max)

# Helpers -----------------------------------------------------------------------------------

def python_forward(qm, coords):
    """The datapath as the module docstring states it, in Python integers (no numpy int64
    wrap-around, no float): acc = b + sum W a; p = (acc m + 2**(s-1)) >> s; then the table at
    p mod 2**phase_bits, or clamp(p, 0, 255). Returns the outputs and every layer's acc."""
    period = 1 << qm.config.quant.phase_bits
    lut = [int(v) for v in qm.lut]
    out, accs = [], []
    for x in coords:
        a = [int(v) for v in x]
        layer_accs = []
        for layer in qm.layers:
            w, b, m, s = (layer.w.tolist(), layer.b.tolist(), layer.m.tolist(), layer.s.tolist())
            acc = [b[j] + sum(wj * ak for wj, ak in zip(w[j], a)) for j in range(len(b))]
            layer_accs.append(acc)
            p = [(acc[j] * m[j] + (1 << (s[j] - 1))) >> s[j] for j in range(len(b))]
            a = [lut[pj % period] for pj in p] if layer.kind == "sine" else [min(max(pj, 0), 255) for pj in p]
        out.append(a)
        accs.append(layer_accs)
    return np.array(out), accs


def randomize(model, rng, scales):
    """Uniform weights and biases, layer ``i`` scaled by ``scales[i]``."""
    with torch.no_grad():
        for lin, (ws, bs) in zip(model.linears(), scales):
            lin.weight.copy_(torch.as_tensor(rng.uniform(-1, 1, lin.weight.shape) * ws))
            lin.bias.copy_(torch.as_tensor(rng.uniform(-1, 1, lin.bias.shape) * bs))
    return model


def fake_quant_out(model, coords):
    with torch.no_grad():
        out = FakeQuantPatchINR(model)(torch.as_tensor(coords))
    assert out.dtype == torch.float64
    return out.numpy()


# Bit-exact equality of the two implementations ---------------------------------------------

quant_specs = st.builds(
    QuantSpec, phase_bits=st.integers(4, 16), mult_bits=st.integers(8, 24),
    act_max=st.integers(1, 127), first_weight_bits=st.integers(8, 16))

configs = st.builds(
    PatchINRConfig, patch=st.integers(1, 4), channels=st.sampled_from([1, 3]),
    hidden=st.integers(1, 6), layers=st.integers(1, 3),
    omega0=st.floats(1.0, 60.0), quant=quant_specs)

int16 = st.integers(-32768, 32767)
EXTREMES = [[32767, 32767], [-32767, -32767], [32767, -32767], [-32768, 32767], [0, 0], [-1, 1]]


@settings(max_examples=40, deadline=None)
@given(cfg=configs, seed=st.integers(0, 2 ** 32 - 1),
       log_scales=st.lists(st.tuples(st.floats(-2, 1), st.floats(-2, 1)), min_size=4, max_size=4),
       coords=st.lists(st.tuples(int16, int16), min_size=1, max_size=24))
def test_int_forward_equals_fake_quant(cfg, seed, log_scales, coords):
    # weight scales from 0.01 to 10: phases wrap many times, outputs clamp at 0 and 255
    rng = np.random.default_rng(seed)
    model = randomize(PatchINR(cfg), rng, [(10 ** a, 10 ** b) for a, b in log_scales])
    try:
        qm = FakeQuantPatchINR(model).export()
    except ValueError:
        assume(False)       # a scale outside the datapath (shift or int32 bias): not exportable
    c = np.array(EXTREMES + coords, dtype=np.int16)
    got = int_forward(qm, c)
    assert got.dtype == np.uint8 and got.shape == (len(c), cfg.out_features)
    assert np.array_equal(got, fake_quant_out(model, c))


def test_fake_quant_covers_clamping_and_wrapping():
    # the regime the property above draws from does exercise both clamps and phase wrap-around
    cfg = PatchINRConfig(patch=2, channels=3, hidden=6, layers=2, quant=QuantSpec(phase_bits=10))
    model = randomize(PatchINR(cfg), np.random.default_rng(0), [(1, 1), (1, 1), (4, 1)])
    qm = quantize(model)
    c = np.random.default_rng(1).integers(-32767, 32768, (400, 2)).astype(np.int16)
    trace = []
    got = int_forward(qm, c, trace=trace)
    assert np.array_equal(got, fake_quant_out(model, c))
    assert (got == 0).any() and (got == 255).any() and ((got > 0) & (got < 255)).any()
    l0 = qm.layers[0]
    phase = (trace[0] * l0.m.astype(np.int64) + (1 << (l0.s.astype(np.int64) - 1))) >> l0.s
    assert phase.min() < -1024 and phase.max() >= 2 * 1024        # several periods both ways


@pytest.mark.parametrize("seed", [0, 1])
def test_int_forward_equals_python_integers(seed):
    rng = np.random.default_rng(seed)
    cfg = PatchINRConfig(patch=2, channels=3, hidden=5, layers=3,
                         quant=QuantSpec(phase_bits=9, act_max=100, first_weight_bits=14))
    model = randomize(PatchINR(cfg), rng, [(2, 1), (1, 0.5), (1, 0.5), (3, 1)])
    qm = quantize(model)
    c = np.concatenate([np.array(EXTREMES), rng.integers(-32768, 32768, (30, 2))]).astype(np.int16)
    want, accs = python_forward(qm, c)
    trace = []
    assert np.array_equal(int_forward(qm, c, trace=trace), want)
    for i, acc in enumerate(trace):
        assert acc.tolist() == [a[i] for a in accs]
    # calibrate reports the largest |acc| of every layer
    stats = calibrate(qm, c)
    assert [s["acc_max"] for s in stats] == [max(abs(v) for a in accs for v in a[i])
                                             for i in range(len(qm.layers))]
    assert [s["layer"] for s in stats] == list(range(len(qm.layers)))
    assert all(0 <= s["act_max"] <= 100 for s in stats[:-1]) and "act_max" not in stats[-1]


def test_fake_quant_has_straight_through_gradients():
    torch.manual_seed(0)
    model = PatchINR(PatchINRConfig(patch=2, channels=1, hidden=8, layers=2))
    with torch.no_grad():
        model.head.weight.mul_(20)
    out = FakeQuantPatchINR(model)(torch.as_tensor(patch_centres_q(8, 8)))
    ((out - 128.0) ** 2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


# The quantization itself -------------------------------------------------------------------

def test_quantized_weights_biases_and_multipliers():
    cfg = PatchINRConfig(patch=2, channels=3, hidden=8, layers=3, omega0=25.0,
                         quant=QuantSpec(phase_bits=11, act_max=120, first_weight_bits=12))
    torch.manual_seed(3)
    model = PatchINR(cfg)
    with torch.no_grad():
        model.sines[1].linear.weight[2] = 0          # an all-zero row quantizes to zeros
    qm = quantize(model)
    assert len(qm.layers) == 4
    assert [l.kind for l in qm.layers] == ["sine", "sine", "sine", "out"]
    assert qm.layers[0].w.dtype == np.int16 and qm.layers[1].w.dtype == np.int8
    s_in = [1 / COORD_SCALE] + [1 / 120] * 3
    for i, (layer, (w, b)) in enumerate(zip(qm.layers, model.state_arrays())):
        wmax = 2047 if i == 0 else 127
        assert weight_max(cfg, i) == wmax
        w, b = w.astype(np.float64), b.astype(np.float64)
        rowmax = np.abs(w).max(axis=1)
        wq = layer.w.astype(np.int64)
        nz = rowmax > 0
        # symmetric per output channel: the largest weight of a row becomes +-wmax
        assert (np.abs(wq).max(axis=1)[nz] == wmax).all()
        assert (wq[~nz] == 0).all()
        s_w = np.where(nz, rowmax / wmax, 1.0)
        assert (np.abs(wq * s_w[:, None] - w) <= s_w[:, None] * (0.5 + 1e-9)).all()
        s_acc = s_w * s_in[i]
        bias = b if layer.kind == "sine" else b + 1.0
        assert (np.abs(layer.b * s_acc - bias) <= s_acc * (0.5 + 1e-9)).all()
        scale = s_acc * (25.0 * 2 ** 11 / (2 * math.pi) if layer.kind == "sine" else 127.5)
        assert (np.abs(layer.m / 2.0 ** layer.s - scale) <= 2.0 ** -(layer.s + 1) * (1 + 1e-9)).all()
        assert ((layer.m >= 2 ** 14) & (layer.m < 2 ** 15)).all()
    assert np.array_equal(qm.lut, sine_lut(11, 120))


@pytest.mark.parametrize("phase_bits, mean_lsb", [(12, 1.0), (8, 1.5)])
def test_int8_datapath_approximates_float_model(phase_bits, mean_lsb):
    torch.manual_seed(0)
    cfg = PatchINRConfig(patch=2, channels=3, hidden=32, layers=3,
                         quant=QuantSpec(phase_bits=phase_bits))
    model = PatchINR(cfg)
    with torch.no_grad():
        model.head.weight.mul_(20)       # outputs well beyond [-1, 1]: both clamps used
    f = (model.render(patch_centres(32, 32)).astype(np.float64) + 1) / 2 * 255
    got = int_forward(quantize(model), patch_centres_q(32, 32)).astype(np.float64)
    inside = (f > 0.5) & (f < 254.5)
    err = np.abs(got - f)[inside]
    assert inside.mean() > 0.3
    assert err.mean() < mean_lsb and err.max() < 8
    assert (got[f < -4] == 0).all() and (got[f > 259] == 255).all()
    assert (f < -4).any() and (f > 259).any()


def test_export_rejects_bias_outside_int32():
    torch.manual_seed(0)
    model = PatchINR(PatchINRConfig(patch=1, channels=1, hidden=4, layers=2))
    with torch.no_grad():
        model.sines[1].linear.weight.mul_(1e-6)
        model.sines[1].linear.bias.fill_(1.0)
    with pytest.raises(ValueError, match="layer 1 bias does not fit int32"):
        quantize(model)


# Sine table --------------------------------------------------------------------------------

@pytest.mark.parametrize("phase_bits", range(4, 17))
@pytest.mark.parametrize("act_max", [1, 64, 100, 127])
def test_sine_lut_symmetry(phase_bits, act_max):
    lut = sine_lut(phase_bits, act_max)
    p = 1 << phase_bits
    i = np.arange(p)
    v = lut.astype(np.int64)
    assert lut.dtype == np.int8 and lut.shape == (p,)
    assert v[0] == 0 and v[p // 4] == act_max and v[p // 2] == 0 and v[3 * p // 4] == -act_max
    assert np.array_equal(v[(p - i) % p], -v)                 # odd
    assert np.array_equal(v[(i + p // 2) % p], -v)            # half-period antisymmetric
    assert np.array_equal(v[(p // 2 - i) % p], v)             # symmetric about pi/2
    assert (np.diff(v[:p // 4 + 1]) >= 0).all()               # rising on the first quarter
    assert np.abs(v - act_max * np.sin(2 * np.pi * i / p)).max() <= 0.5 + 1e-9


# Requantization multipliers ----------------------------------------------------------------

def check_requant(scale, m, s, mult_bits):
    m, s = int(m), int(s)
    assert 2 ** (mult_bits - 2) <= m < 2 ** (mult_bits - 1)
    assert 1 <= s <= MAX_SHIFT
    # within half an ulp (2**-s) of the scale, exactly
    assert abs(Fraction(m, 2 ** s) - Fraction(scale)) <= Fraction(1, 2 ** (s + 1))


@settings(max_examples=200, deadline=None)
@given(mult_bits=st.integers(8, 24), data=st.data())
def test_requant_params_in_range(mult_bits, data):
    scale = data.draw(st.floats(2.0 ** (mult_bits - 48), 2.0 ** (mult_bits - 3)))
    m, s = requant_params(scale, mult_bits)
    assert m.dtype == np.int32 and s.dtype == np.int32
    check_requant(scale, m, s, mult_bits)


@settings(max_examples=200, deadline=None)
@given(mult_bits=st.integers(8, 24), scale=st.floats(1e-30, 1e30))
def test_requant_params_valid_or_raises(mult_bits, scale):
    try:
        m, s = requant_params(scale, mult_bits)
    except ValueError as exc:
        assert "shift" in str(exc)
        # only scales that no shift in 1..MAX_SHIFT can represent are refused
        assert scale < 2.0 ** (mult_bits - 2 - MAX_SHIFT) or scale > 2.0 ** (mult_bits - 3)
    else:
        check_requant(scale, m, s, mult_bits)


def test_requant_params_vector_and_rounding_up():
    scales = np.array([1.0, 0.75, 1 / 3, 2 ** -20, 1 - 2 ** -40])
    m, s = requant_params(scales, 16)
    assert m.shape == s.shape == (5,)
    for sc, mm, ss in zip(scales, m, s):
        check_requant(sc, mm, ss, 16)
    # 1 - 2**-40 rounds up to the next binade: 2**14 / 2**14
    assert (int(m[-1]), int(s[-1])) == (2 ** 14, 14)


@pytest.mark.parametrize("scale", [0.0, -1.0, math.nan, math.inf])
def test_requant_params_rejects_non_positive(scale):
    with pytest.raises(ValueError, match="positive and finite"):
        requant_params(scale, 16)


@pytest.mark.parametrize("scale", [2.0 ** 20, 2.0 ** -40])
def test_requant_params_rejects_unreachable_scales(scale):
    with pytest.raises(ValueError, match="shift"):
        requant_params(scale, 16)


# calibrate ---------------------------------------------------------------------------------

def one_layer_model(*, w, b, m, s, mult_bits=16, first_weight_bits=16):
    cfg = PatchINRConfig(patch=1, channels=1, hidden=1, layers=1,
                         quant=QuantSpec(mult_bits=mult_bits, first_weight_bits=first_weight_bits,
                                         phase_bits=4))
    sine = QuantLayer(w=np.array([w], np.int16), b=np.array([b], np.int32),
                      m=np.array([m], np.int32), s=np.array([s], np.int32), kind="sine")
    out = QuantLayer(w=np.array([[1]], np.int8), b=np.array([0], np.int32),
                     m=np.array([2 ** 14], np.int32), s=np.array([14], np.int32), kind="out")
    return QuantModel(config=cfg, layers=[sine, out], lut=sine_lut(4, 127)).check()


def test_calibrate_accumulator_bounds():
    # acc = b + w . x exactly at the int32 limits passes, one past them fails
    top = one_layer_model(w=[1, 0], b=2 ** 31 - 1 - 5, m=2 ** 14, s=40)
    assert calibrate(top, np.array([[5, 0]], np.int16))[0]["acc_bits"] == 32
    with pytest.raises(ValueError, match="layer 0 accumulator needs 33 bits"):
        calibrate(top, np.array([[6, 0]], np.int16))
    bottom = one_layer_model(w=[1, 0], b=-2 ** 31 + 5, m=2 ** 14, s=40)
    assert calibrate(bottom, np.array([[-5, 0]], np.int16))[0]["acc_bits"] == 32
    with pytest.raises(ValueError, match="accumulator"):
        calibrate(bottom, np.array([[-6, 0]], np.int16))


def test_calibrate_product_bounds():
    # mult_bits 24: m up to 2**23 - 1, so acc * m can pass 48 bits with a small acc
    m = 2 ** 23 - 1
    model = one_layer_model(w=[2 ** 10, 0], b=0, m=m, s=47, mult_bits=24)
    ok = calibrate(model, np.array([[2 ** 14, 0]], np.int16))      # acc = 2**24
    assert ok[0]["acc_bits"] == 26 and ok[0]["product_bits"] == 48
    with pytest.raises(ValueError, match="layer 0 requantization product needs 49 bits"):
        calibrate(model, np.array([[2 ** 15 - 1, 0]], np.int16))   # acc ~ 2**25


def test_calibrate_real_model_fits():
    torch.manual_seed(0)
    cfg = PatchINRConfig(patch=2, channels=3, hidden=16, layers=3)
    qm = quantize(PatchINR(cfg))
    stats = calibrate(qm, patch_centres_q(16, 16))
    assert len(stats) == 4
    assert all(s["acc_bits"] <= 32 and s["product_bits"] <= 48 for s in stats)


# QuantModel / QuantLayer checks ------------------------------------------------------------

def small_quant():
    torch.manual_seed(0)
    return quantize(PatchINR(PatchINRConfig(patch=2, channels=1, hidden=4, layers=2)))


@pytest.mark.parametrize("breakage, message", [
    (lambda q: q.layers.pop(), "2 integer layers, configuration has 3"),
    (lambda q: setattr(q.layers[1], "w", np.zeros((4, 3), np.int8)), "layer 1 weights have shape"),
    (lambda q: setattr(q.layers[1], "kind", "out"), "layer 1 has kind 'out'"),
    (lambda q: q.layers[0].w.__setitem__((0, 0), 2048), r"layer 0 weights exceed \+-2047"),
    (lambda q: q.layers[1].m.__setitem__(0, 2 ** 15), "multipliers exceed 15 bits"),
    (lambda q: q.layers[1].m.__setitem__(0, -1), "multipliers"),
    (lambda q: q.layers[2].s.__setitem__(0, 0), "shifts outside 1..47"),
    (lambda q: q.layers[2].s.__setitem__(0, 48), "shifts outside"),
    (lambda q: setattr(q, "lut", q.lut[:-1]), "sine table has shape"),
])
def test_quant_model_check(breakage, message):
    qm = small_quant()
    breakage(qm)
    with pytest.raises(ValueError, match=message):
        qm.check()


def test_quant_layer_validation():
    w = np.zeros((3, 2), np.int8)
    z3 = np.zeros(3, np.int32)
    with pytest.raises(ValueError, match=r"b has shape \(2,\), expected \(3,\)"):
        QuantLayer(w=w, b=np.zeros(2, np.int32), m=z3, s=z3, kind="sine")
    with pytest.raises(ValueError, match="layer kind"):
        QuantLayer(w=w, b=z3, m=z3, s=z3, kind="relu")


def test_int_forward_rejects_bad_input():
    qm = small_quant()
    with pytest.raises(ValueError, match=r"shape \[Q, 2\]"):
        int_forward(qm, np.zeros((4, 3), np.int16))
    qm.layers.pop()
    with pytest.raises(ValueError, match="no output layer"):
        int_forward(qm, np.zeros((1, 2), np.int16))
