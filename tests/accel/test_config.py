"""AccelConfig: validation messages and derived geometry against independent arithmetic."""

import math
import re

import pytest

from accel.config import AccelConfig
from model.config import PatchINRConfig
from model.support.errors import UserError


def _model(**kw):
    args = dict(patch=2, channels=3, hidden=10, layers=3)
    args.update(kw)
    return PatchINRConfig(**args)


def _raises(msg):
    return pytest.raises(UserError, match=f"^{re.escape(msg)}$")


# Validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, kw, shown", [
    ("array rows", {"rows": 0}, "0"),
    ("array rows", {"rows": -4}, "-4"),
    ("array rows", {"rows": 4.0}, "4.0"),
    ("array rows", {"rows": True}, "True"),
    ("array columns", {"cols": 0}, "0"),
    ("array columns", {"cols": -1}, "-1"),
    ("batch", {"batch": 0}, "0"),
    ("batch", {"batch": -16}, "-16"),
    ("maximum width", {"max_width": 0}, "0"),
    ("maximum height", {"max_height": -2}, "-2"),
])
def test_non_positive_parameters(name, kw, shown):
    args = dict(model=_model(), rows=4, cols=4, batch=8)
    args.update(kw)
    with _raises(f"{name} must be a positive integer, not {shown}"):
        AccelConfig(**args)


@pytest.mark.parametrize("rows, cols", [(4, 3), (6, 4), (3, 6), (5, 2)])
def test_cols_must_divide_rows(rows, cols):
    with _raises(f"array {rows}x{cols}: the column count must divide the row count"):
        AccelConfig(model=_model(channels=1), rows=rows, cols=cols)


@pytest.mark.parametrize("rows, cols", [(2, 2), (4, 2), (1, 1), (4, 1)])
def test_cols_at_least_channels(rows, cols):
    with _raises(f"array {rows}x{cols}: needs at least 3 columns for 3-channel pixels"):
        AccelConfig(model=_model(channels=3), rows=rows, cols=cols)
    # One channel fits any column count.
    AccelConfig(model=_model(channels=1), rows=rows, cols=cols)


@pytest.mark.parametrize("k, kw, message", [
    (3, {}, "pixels per beat must be one of 1, 2, 4, 8, not 3"),
    (True, {}, "pixels per beat must be one of 1, 2, 4, 8, not True"),
    (16, {"patch": 16}, "pixels per beat must be one of 1, 2, 4, 8, not 16"),
    (4, {"patch": 2}, "4 pixels per beat: must divide the patch size 2 (a beat is part of "
                      "one patch line)"),
    (2, {"patch": 6, "channels": 1}, None),
    (2, {"patch": 4, "channels": 3}, "2 pixels per beat of 3 channels: needs at least 6 "
                                     "array columns (one output bank per value of a beat), "
                                     "not 4"),
    (4, {"patch": 4, "channels": 1}, None),
])
def test_pixels_per_beat(k, kw, message):
    args = dict(model=_model(**kw), rows=4, cols=4, pixels_per_beat=k, max_width=48,
                max_height=48)
    if message is None:
        assert AccelConfig(**args).pix_bits == 8 * args["model"].channels * k
    else:
        with _raises(message):
            AccelConfig(**args)


@pytest.mark.parametrize("kw, message", [
    ({"dsp_clock": 3}, "DSP clock must be 1 or 2 (times the fabric clock), not 3"),
    ({"dsp_clock": True}, "DSP clock must be 1 or 2 (times the fabric clock), not True"),
    ({"dsp_clock": 2, "precision": "dual"}, "a DSP clock of twice the fabric's is for INT8 "
     "builds on the XCVU9P (its packed DSP48E2s), not dual on the XCVU9P"),
    ({"dsp_clock": 2, "device": "lfe5u-85f"}, "a DSP clock of twice the fabric's is for "
     "INT8 builds on the XCVU9P (its packed DSP48E2s), not int8 on the LFE5U-85F"),
])
def test_dsp_clock(kw, message):
    with _raises(message):
        AccelConfig(model=_model(), rows=4, cols=4, **kw)
    plan = AccelConfig(model=_model(), rows=4, cols=4, dsp_clock=2).int8_plan
    assert plan.pumped and plan.latency == 4 + 5


@pytest.mark.parametrize("precision", ["fp16", "INT8", "", None, "bf16"])
def test_unknown_precision(precision):
    with _raises(f"unknown precision {precision!r} (choose int8, fp32 or dual)"):
        AccelConfig(model=_model(), rows=3, cols=3, precision=precision)


@pytest.mark.parametrize("patch, w, h", [(2, 1921, 1080), (2, 1920, 1081), (3, 1920, 1081),
                                         (4, 30, 32)])
def test_max_frame_divisible_by_patch(patch, w, h):
    with _raises(f"maximum frame {w}x{h} is not divisible by the patch size {patch}"):
        AccelConfig(model=_model(patch=patch), rows=3, cols=3, max_width=w, max_height=h)


def test_max_frame_side():
    with _raises("maximum frame side is 32767 pixels"):
        AccelConfig(model=_model(patch=1), rows=3, cols=3, max_width=32768, max_height=8)


def test_model_type():
    with pytest.raises(TypeError, match="model must be a PatchINRConfig"):
        AccelConfig(model={"patch": 2}, rows=4, cols=4)


def test_valid_precisions():
    for precision, int8, fp32 in (("int8", True, False), ("fp32", False, True),
                                  ("dual", True, True)):
        cfg = AccelConfig(model=_model(), rows=3, cols=3, precision=precision)
        assert (cfg.has_int8, cfg.has_fp32) == (int8, fp32)
        assert cfg.elem_bits == (32 if fp32 else 8)
        assert cfg.param_bits == 64 * int8 + 32 * fp32


# Derived geometry ---------------------------------------------------------------------------

CONFIGS = [
    # (model kwargs, rows, cols, batch, max_width)
    (dict(patch=2, channels=3, hidden=10, layers=3), 6, 3, 8, 64),
    (dict(patch=1, channels=1, hidden=7, layers=2), 4, 2, 5, 33),
    (dict(patch=3, channels=1, hidden=16, layers=1), 4, 4, 16, 1920),
    (dict(patch=2, channels=3, hidden=256, layers=7), 16, 16, 64, 1920),
    (dict(patch=4, channels=3, hidden=5, layers=4), 3, 3, 1, 12),
]


def _expected_geometry(widths, rows, cols):
    """Walk every tile of every layer and count words, independently of the config."""
    layers = []
    wword = pword = 0
    for i in range(len(widths) - 1):
        k, n = widths[i], widths[i + 1]
        kt = 0
        while kt * rows < k:
            kt += 1
        nt = 0
        while nt * cols < n:
            nt += 1
        layers.append(dict(index=i, k=k, n=n, kt=kt, nt=nt, weight_base=wword, param_base=pword,
                           kind="out" if i == len(widths) - 2 else "sine"))
        for _ in range(nt):
            for _ in range(kt):
                wword += rows       # one word per array row per tile
            pword += 1              # one lane-parameter word per output tile
    return layers, wword, pword


@pytest.mark.parametrize("mkw, rows, cols, batch, max_width", CONFIGS)
def test_geometry(mkw, rows, cols, batch, max_width):
    model = PatchINRConfig(**mkw)
    cfg = AccelConfig(model=model, rows=rows, cols=cols, batch=batch, max_width=max_width,
                      max_height=model.patch * 4)
    widths = [2] + [mkw["hidden"]] * mkw["layers"] + [mkw["channels"] * mkw["patch"] ** 2]
    layers, wdepth, pdepth = _expected_geometry(widths, rows, cols)
    assert len(cfg.layers) == len(layers)
    for g, want in zip(cfg.layers, layers):
        got = dict(index=g.index, k=g.k, n=g.n, kt=g.kt, nt=g.nt, weight_base=g.weight_base,
                   param_base=g.param_base, kind=g.kind)
        assert got == want
        assert g.tiles == want["kt"] * want["nt"]
        # Tiles cover the layer, and no tile is entirely padding.
        assert (g.kt - 1) * rows < g.k <= g.kt * rows
        assert (g.nt - 1) * cols < g.n <= g.nt * cols
    assert cfg.weight_depth == wdepth
    assert cfg.param_depth == pdepth
    assert cfg.tiles_per_batch == sum(l["kt"] * l["nt"] for l in layers)
    assert cfg.act_words == math.ceil(mkw["hidden"] / rows)
    assert cfg.act_depth == 2 * batch * math.ceil(mkw["hidden"] / rows)
    assert cfg.patches_per_row_max == max_width // mkw["patch"]
    assert cfg.out_slots == 2 * (max_width // mkw["patch"] + batch)
    assert cfg.out_words == math.ceil(widths[-1] / cols)


def test_geometry_by_hand():
    """One configuration worked out on paper: widths [2, 6, 6, 4], array 4x2."""
    cfg = AccelConfig(model=PatchINRConfig(patch=2, channels=1, hidden=6, layers=2),
                      rows=4, cols=2, batch=5, max_width=8, max_height=8)
    assert [(g.kt, g.nt) for g in cfg.layers] == [(1, 3), (2, 3), (2, 2)]
    assert [g.weight_base for g in cfg.layers] == [0, 12, 36]
    assert [g.param_base for g in cfg.layers] == [0, 3, 6]
    assert cfg.weight_depth == 52           # (3 + 6 + 4) tiles x 4 rows
    assert cfg.param_depth == 8
    assert cfg.act_words == 2
    assert cfg.out_slots == 2 * (4 + 5)
    assert [g.kind for g in cfg.layers] == ["sine", "sine", "out"]


# check_frame --------------------------------------------------------------------------------

@pytest.fixture
def frame_cfg():
    return AccelConfig(model=_model(patch=2), rows=3, cols=3, max_width=64, max_height=32)


@pytest.mark.parametrize("w, h, msg", [
    (0, 8, "frame width must be a positive integer, not 0"),
    (-2, 8, "frame width must be a positive integer, not -2"),
    (8.0, 8, "frame width must be a positive integer, not 8.0"),
    (True, 8, "frame width must be a positive integer, not True"),
    (8, 0, "frame height must be a positive integer, not 0"),
    (8, "8", "frame height must be a positive integer, not '8'"),
    (66, 8, "frame width 66 exceeds the build's maximum 64"),
    (8, 34, "frame height 34 exceeds the build's maximum 32"),
    (7, 8, "frame size 7x8 is not divisible by the model's patch size 2"),
    (8, 9, "frame size 8x9 is not divisible by the model's patch size 2"),
])
def test_check_frame_errors(frame_cfg, w, h, msg):
    with _raises(msg):
        frame_cfg.check_frame(w, h)


@pytest.mark.parametrize("w, h", [(2, 2), (64, 32), (10, 30)])
def test_check_frame_accepts(frame_cfg, w, h):
    assert frame_cfg.check_frame(w, h) is None


@pytest.mark.parametrize("patch, expected", [(1, (1920, 1080)), (2, (1920, 1080)),
                                             (7, (1918, 1078)), (16, (1920, 1072))])
def test_fitting_rounds_the_largest_frame_down_to_whole_patches(patch, expected):
    c = AccelConfig.fitting(model=_model(patch=patch), rows=4, cols=4, batch=8)
    assert (c.max_width, c.max_height) == expected
    assert c.rows == 4 and c.batch == 8


@pytest.mark.parametrize("kw, message", [
    (dict(hidden=70000), r"70000 does not fit the register field LAYERS.HIDDEN \(16 bits, at most 65535\)"),
    (dict(layers=300), r"300 does not fit the register field LAYERS.SINE_LAYERS \(8 bits"),
    (dict(rows=256, cols=2), r"256 does not fit the register field HWINFO.ROWS \(8 bits, at most 255\)"),
    (dict(rows=512, cols=256), r"does not fit the register field HWINFO"),
])
def test_refuses_figures_the_register_map_cannot_report(kw, message):
    model = PatchINRConfig(patch=1, channels=1, hidden=kw.pop("hidden", 8),
                           layers=kw.pop("layers", 1))
    with pytest.raises(UserError, match=message):
        AccelConfig(model=model, **kw)


def test_refuses_a_memory_a_weight_header_cannot_address(monkeypatch):
    import accel.config as config_mod
    model = PatchINRConfig(patch=2, channels=1, hidden=64, layers=3)
    deepest = max(d for d, _ in AccelConfig(model=model, rows=2, cols=1).memory_geometry.values())
    # The same check at a field width this small model's memories exceed.
    monkeypatch.setattr(config_mod, "WEIGHT_ADDRESS_BITS", (deepest - 1).bit_length() - 1)
    with pytest.raises(UserError, match=r"memory \w+ would hold [\d,]+ words, more than a weight "
                                        r"packet's \d+-bit address reaches"):
        AccelConfig(model=model, rows=2, cols=1)


def test_video_builds_take_three_coordinates():
    # The first layer has 3 inputs: on 2 rows it needs 2 input tiles (the third coordinate
    # alone in the second), on 4 rows one; one more set-up division than an image build.
    video = PatchINRConfig(patch=2, channels=1, hidden=8, layers=1, coords=3)
    image = PatchINRConfig(patch=2, channels=1, hidden=8, layers=1)
    for rows, tiles in ((2, 2), (4, 1)):
        v, i = (AccelConfig(model=m, rows=rows, cols=2) for m in (video, image))
        assert v.layers[0].k == 3 and v.layers[0].kt == tiles
        assert v.first_words == tiles * v.layers[0].nt * rows
        # One more division and its derivation (the t axis), and the cycle entering the
        # first frame.
        assert v.timing.coord_setup == (i.timing.coord_setup + v.timing.division
                                        + v.timing.COORD_DERIVE + 1)


def test_device_decides_the_array_plan():
    """The XCVU9P packs two INT8 products per DSP48E2; an ECP5 takes one per MULT18X18D,
    every DSP column of single-product PEs; FP32 and dual builds are for the XCVU9P."""
    from accel.device import check_fit
    model = PatchINRConfig(patch=2)
    xcup = AccelConfig.fitting(model=model, rows=16, cols=8, batch=256)
    ecp5 = AccelConfig.fitting(model=PatchINRConfig(patch=2, hidden=128, layers=5), rows=16,
                               cols=8, batch=256, device="lfe5u-85f")
    assert xcup.array_plan.pairs == 4 and xcup.array_plan.dsps == 2 * 8 + 14 * 4
    assert ecp5.array_plan.pairs == 0 and ecp5.array_plan.single_cols == 8
    assert ecp5.array_plan.dsps == 16 * 8
    with pytest.raises(UserError, match="fp32 builds are for the XCVU9P"):
        AccelConfig(model=model, precision="fp32", device="lfe5u-85f")
    with pytest.raises(UserError, match="unknown device 'xc7a35t'"):
        AccelConfig(model=model, device="xc7a35t")
    # The default model's 3.6 Mbit of weights and its buffers exceed the 85F's EBR.
    with pytest.raises(UserError, match="more than the LFE5U-85F's 3.8 Mbit of block RAM"):
        AccelConfig.fitting(model=model, rows=8, cols=8, batch=256, device="lfe5u-85f")
    big = AccelConfig.fitting(model=PatchINRConfig(patch=2, hidden=64, layers=2), rows=32,
                              cols=8, batch=64, device="lfe5u-85f")
    with pytest.raises(UserError, match=r"does not fit the LFE5U-85F: 256 MULT18X18Ds"):
        check_fit(big)


@pytest.mark.parametrize("patch, rows, cols, batch, hidden, layers", [
    (2, 4, 4, 8, 8, 2), (1, 2, 1, 4, 5, 1), (4, 8, 2, 32, 24, 3), (3, 16, 16, 64, 40, 4),
    (2, 32, 32, 4096, 256, 7),
])
def test_dual_build_runs_each_precision_on_its_single_build_schedule(patch, rows, cols, batch,
                                                                      hidden, layers):
    """A dual build's INT8 jobs take the INT8 build's cycles and its FP32 jobs the FP32
    build's, on every frame the model is asked about (the RTL is held to the model in
    tests/accel/gateware/test_core.py)."""
    from accel.cycles import frame_cycles
    model = _model(patch=patch, channels=1, hidden=hidden, layers=layers)
    one = {p: AccelConfig.fitting(model=model, rows=rows, cols=cols, batch=batch, precision=p)
           for p in ("int8", "fp32", "dual")}
    dual = one["dual"]
    assert dual.precisions == ("int8", "fp32") and dual.timing is dual.timing_for("fp32")
    for w, h in ((patch * 3, patch * 2), (256 - 256 % patch, 256 - 256 % patch),
                 (dual.max_width, dual.max_height)):
        got = {p: frame_cycles(dual, w, h, precision=p)["total"] for p in ("int8", "fp32")}
        assert got == {p: frame_cycles(one[p], w, h)["total"] for p in ("int8", "fp32")}
        assert got["int8"] < got["fp32"]
    with _raises("this int8 build runs no fp32 jobs"):
        one["int8"].timing_for("fp32")
