"""PatchINRConfig / QuantSpec: validation, serialisation and the parameter-count formula."""

import dataclasses
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from model.config import COORD_SCALE, PatchINRConfig, QuantSpec
from model.network import PatchINR


def expected_params(*, patch, channels, hidden, layers):
    """Weights + biases from the layer shapes: 2 -> hidden, (layers-1) x hidden -> hidden,
    hidden -> channels * patch**2."""
    first = 2 * hidden + hidden
    middle = (layers - 1) * (hidden * hidden + hidden)
    head = hidden * channels * patch ** 2 + channels * patch ** 2
    return first + middle + head


def module_params(config):
    return sum(p.numel() for p in PatchINR(config).parameters())


# Parameter count ---------------------------------------------------------------------------

@pytest.mark.parametrize("patch, channels, hidden, layers", [
    (1, 1, 1, 1), (1, 3, 4, 1), (2, 1, 3, 2), (2, 3, 16, 3), (3, 3, 5, 4), (4, 1, 7, 2),
    (8, 3, 2, 1), (2, 3, 64, 5),
])
def test_params_match_module(patch, channels, hidden, layers):
    cfg = PatchINRConfig(patch=patch, channels=channels, hidden=hidden, layers=layers)
    want = expected_params(patch=patch, channels=channels, hidden=hidden, layers=layers)
    assert module_params(cfg) == want
    assert cfg.params == want


@settings(max_examples=25, deadline=None)
@given(patch=st.integers(1, 6), channels=st.sampled_from([1, 3]), hidden=st.integers(1, 24),
       layers=st.integers(1, 5))
def test_params_and_overhead_match_module(patch, channels, hidden, layers):
    cfg = PatchINRConfig(patch=patch, channels=channels, hidden=hidden, layers=layers)
    n = module_params(cfg)
    base = module_params(PatchINRConfig(patch=1, channels=channels, hidden=hidden, layers=layers))
    assert cfg.params == n
    assert cfg.param_overhead == pytest.approx((n - base) / base, rel=1e-12, abs=0)
    # Only the head grows with the patch: (hidden + 1) * channels * (patch**2 - 1) parameters.
    assert n - base == (hidden + 1) * channels * (patch ** 2 - 1)


def test_default_config_overhead_is_about_0_6_percent():
    cfg = PatchINRConfig()
    assert (cfg.patch, cfg.channels) == (2, 3)
    n2 = module_params(cfg)
    n1 = module_params(cfg.with_patch(1))
    # Independently: 2->256, six 256->256, 256->12 (n = 2) or 256->3 (n = 1).
    want_n1 = (2 * 256 + 256) + 6 * (256 * 256 + 256) + (256 * 3 + 3)
    want_n2 = (2 * 256 + 256) + 6 * (256 * 256 + 256) + (256 * 12 + 12)
    assert (n1, n2) == (want_n1, want_n2) == (396291, 398604)
    assert cfg.params == n2 and cfg.with_patch(1).params == n1
    assert n2 - n1 == 2313
    assert cfg.param_overhead == pytest.approx(2313 / 396291, rel=1e-12)
    assert round(100 * cfg.param_overhead, 1) == 0.6


def test_pixelwise_has_no_overhead():
    assert PatchINRConfig(patch=1, hidden=8, layers=2).param_overhead == 0


# Derived geometry --------------------------------------------------------------------------

def test_widths_and_layer_shapes():
    cfg = PatchINRConfig(patch=3, channels=3, hidden=5, layers=3)
    assert cfg.in_features == 2
    assert cfg.out_features == 27
    assert cfg.widths == [2, 5, 5, 5, 27]
    assert cfg.layer_shapes == [(5, 2), (5, 5), (5, 5), (27, 5)]
    assert [tuple(l.weight.shape) for l in PatchINR(cfg).linears()] == cfg.layer_shapes


def test_with_patch_keeps_everything_else():
    cfg = PatchINRConfig(patch=2, channels=1, hidden=9, layers=4, omega0=12.5,
                         quant=QuantSpec(phase_bits=10))
    other = cfg.with_patch(4)
    assert other.patch == 4
    assert {**other.to_dict(), "patch": 2} == cfg.to_dict()


def test_coord_scale():
    assert COORD_SCALE == 2 ** 15 - 1


# Serialisation -----------------------------------------------------------------------------

def test_to_dict_from_dict_round_trip():
    cfg = PatchINRConfig(patch=3, channels=1, hidden=7, layers=2, omega0=20.0,
                         quant=QuantSpec(phase_bits=9, mult_bits=18, act_max=100,
                                         first_weight_bits=14))
    d = cfg.to_dict()
    assert d["quant"] == {"phase_bits": 9, "mult_bits": 18, "act_max": 100,
                          "first_weight_bits": 14}
    assert PatchINRConfig.from_dict(d) == cfg
    assert PatchINRConfig.from_dict({}) == PatchINRConfig()


def test_quant_dict_is_converted():
    cfg = PatchINRConfig(quant={"phase_bits": 8})
    assert cfg.quant == QuantSpec(phase_bits=8)


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown configuration keys: bar, foo"):
        PatchINRConfig.from_dict({"patch": 2, "foo": 1, "bar": 2})


@pytest.mark.parametrize("d", [None, [1, 2], "patch=2"])
def test_from_dict_rejects_non_mappings(d):
    with pytest.raises(ValueError, match="configuration must be a mapping"):
        PatchINRConfig.from_dict(d)


def test_from_dict_rejects_unknown_quant_keys():
    with pytest.raises(TypeError, match="bogus"):
        PatchINRConfig.from_dict({"quant": {"bogus": 1}})


def test_frozen_and_keyword_only():
    cfg = PatchINRConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.patch = 3
    with pytest.raises(TypeError):
        PatchINRConfig(2)
    with pytest.raises(TypeError):
        QuantSpec(12)


# Validation --------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"patch": 0}, "patch size must be a positive integer, not 0"),
    ({"patch": -2}, "patch size"),
    ({"patch": 2.0}, "patch size"),
    ({"patch": True}, "patch size"),
    ({"patch": "2"}, "patch size"),
    ({"channels": 2}, "channels must be 1 or 3, not 2"),
    ({"channels": 0}, "channels"),
    ({"channels": 3.0}, "channels"),
    ({"channels": 1.0}, "channels"),
    ({"channels": True}, "channels"),
    ({"hidden": 0}, "hidden width"),
    ({"hidden": 4.5}, "hidden width"),
    ({"layers": 0}, "number of sine layers"),
    ({"layers": False}, "number of sine layers"),
    ({"omega0": 0}, "omega0"),
    ({"omega0": -30.0}, "omega0"),
    ({"omega0": math.nan}, "omega0"),
    ({"omega0": math.inf}, "omega0"),
    ({"omega0": True}, "omega0"),
    ({"omega0": "30"}, "omega0"),
    ({"quant": "int8"}, "quant"),
    ({"quant": None}, "quant"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PatchINRConfig(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"phase_bits": 3}, "phase bits"),
    ({"phase_bits": 17}, "phase bits"),
    ({"phase_bits": 12.0}, "phase bits"),
    ({"mult_bits": 7}, "multiplier bits"),
    ({"mult_bits": 25}, "multiplier bits"),
    ({"act_max": 0}, "activation maximum"),
    ({"act_max": 128}, "activation maximum"),
    ({"act_max": True}, "activation maximum"),
    ({"first_weight_bits": 7}, "first-layer weight bits"),
    ({"first_weight_bits": 17}, "first-layer weight bits"),
])
def test_quantspec_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        QuantSpec(**kwargs)


@pytest.mark.parametrize("kwargs", [
    {"phase_bits": 4}, {"phase_bits": 16}, {"mult_bits": 8}, {"mult_bits": 24},
    {"act_max": 1}, {"act_max": 127}, {"first_weight_bits": 8}, {"first_weight_bits": 16},
])
def test_quantspec_accepts_its_bounds(kwargs):
    assert dataclasses.asdict(QuantSpec(**kwargs)).items() >= kwargs.items()


def test_config_accepts_integer_omega0():
    cfg = PatchINRConfig(omega0=30, hidden=2, layers=1)
    assert torch.isfinite(PatchINR(cfg)(torch.zeros(1, 2))).all()
