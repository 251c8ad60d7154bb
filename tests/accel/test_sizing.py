"""accel.sizing: --array auto stays within the device's margins and beats the arrays it
passed over; accel.size prints the comparison."""

import json

import pytest

from accel.cli.size import main as size_main
from accel.config import AccelConfig
from accel.cycles import frame_cycles, useful_macs
from accel.device import DSP_CONTROL, DSP_PER_LANE, MARGINS, XCVU9P, dsp_count
from accel.flows.build import resolve
from accel.sizing import auto_array, lut_estimate, pixels_per_beat, throughput
from model.config import PatchINRConfig
from model.support.errors import UserError


@pytest.mark.parametrize("patch, precision", [(2, "int8"), (4, "int8"), (2, "fp32")])
def test_auto_fits_the_margins_and_beats_its_neighbours(patch, precision):
    model = PatchINRConfig(patch=patch)
    choice = auto_array(model, precision=precision, max_frame=(1920, 1080))
    c = choice.config
    assert dsp_count(c) <= MARGINS["dsp"] * XCVU9P["dsp"]
    assert lut_estimate(c) <= MARGINS["lut"] * XCVU9P["lut"]
    # The figure is the cycle model's.
    w, h = c.max_width, c.max_height
    q = (w // patch) * (h // patch)
    assert choice.macs_per_cycle == pytest.approx(
        useful_macs(c, q) / frame_cycles(c, w, h)["total"])
    # Twice the columns does not fit; the same array at a quarter of the batch is slower.
    bigger = dict(model=model, rows=2 * c.rows, cols=2 * c.cols, batch=c.batch,
                  precision=precision, max_width=w, max_height=h)
    try:
        big = AccelConfig(**bigger, lut_cols=(2 * c.cols if precision == "int8" else 0))
    except UserError:
        big = None
    if big is not None:
        assert (dsp_count(big) > MARGINS["dsp"] * XCVU9P["dsp"]
                or lut_estimate(big) > MARGINS["lut"] * XCVU9P["lut"])
    if c.batch >= 1024:
        small = AccelConfig(model=model, rows=c.rows, cols=c.cols, batch=c.batch // 4,
                            precision=precision, lut_cols=c.lut_cols, max_width=w,
                            max_height=h)
        assert throughput(small, w, h)[0] < choice.macs_per_cycle


@pytest.mark.parametrize("patch", [8, 16])
def test_large_patches_send_several_pixels_per_beat(patch):
    # One pixel per cycle cannot leave a 1080p frame in fewer cycles than it has pixels;
    # with k per beat the auto build gets within reach of the device's INT8 limit.
    choice = auto_array(PatchINRConfig(patch=patch), precision="int8",
                        max_frame=(1920, 1080))
    c = choice.config
    w, h = c.max_width, c.max_height
    k = c.pixels_per_beat
    assert k > 1
    assert frame_cycles(c, w, h)["total"] >= w * h // k
    assert frame_cycles(c.replace(pixels_per_beat=1), w, h)["total"] >= w * h
    assert choice.macs_per_cycle >= 0.85 * XCVU9P["dsp"] * 2
    # The fewest pixels that keep up: half as many is more than 1 % slower.
    assert throughput(c.replace(pixels_per_beat=k // 2), w, h)[0] < 0.99 * choice.macs_per_cycle


def test_one_pixel_per_beat_where_the_array_bounds_the_frame():
    # n = 2: a query's 4 pixels leave in 4 cycles, well within the array's time for it.
    c = auto_array(PatchINRConfig(patch=2), precision="int8", max_frame=(1920, 1080)).config
    assert c.pixels_per_beat == 1
    assert pixels_per_beat(c.replace(pixels_per_beat=1), c.max_width, c.max_height) == 1


def test_auto_int8_uses_the_dsps_and_lut_columns():
    c = auto_array(PatchINRConfig(patch=2), precision="int8", max_frame=(1920, 1080)).config
    plan = c.array_plan
    # Nearly every DSP48E2 the margin allows, the rest of the columns in LUTs.
    budget = MARGINS["dsp"] * XCVU9P["dsp"] - c.cols * DSP_PER_LANE["int8"] - DSP_CONTROL
    assert plan.dsps <= budget < plan.dsps + plan.packed_rows
    assert 0 < c.lut_cols < c.cols


def test_resolve_auto_says_why(tmp_path):
    lines = []
    request = resolve(array="auto", out=tmp_path / "b", say=lines.append)
    c = request.config
    assert lines and lines[0].startswith(f"--array auto: {c.rows}x{c.cols}")
    assert "useful MACs/cycle" in lines[0] and "DSP 95%" in lines[0]


def test_auto_searches_on_the_builds_largest_frame(tmp_path):
    """A build for frames up to 256x256 at n = 4: the search picks the array fastest on
    that frame, which keeps the array busier on it than the 1080p build's choice does."""
    small = resolve(array="auto", patch=4, max_frame=(256, 256), out=tmp_path / "s").config
    big = resolve(array="auto", patch=4, out=tmp_path / "b").config
    assert (small.max_width, small.max_height) == (256, 256)
    assert (big.max_width, big.max_height) == (1920, 1080)
    # The 1080p choice, asked for the same 256x256 frame:
    same = AccelConfig.fitting(model=PatchINRConfig(patch=4), rows=big.rows, cols=big.cols,
                               batch=big.batch, lut_cols=big.lut_cols, max_frame=(256, 256))
    assert throughput(small, 256, 256)[0] > 1.2 * throughput(same, 256, 256)[0]
    with pytest.raises(UserError, match="largest frame 2x256 holds no whole 4x4 patch"):
        resolve(array="auto", patch=4, max_frame=(2, 256), out=tmp_path / "x")


def test_size_command_prints_both_builds(tmp_path, capsys):
    out = tmp_path / "size.json"
    assert size_main(["--patches", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| 2 | 32x32 | 32x32 |" in text and "| 2 | auto |" in text
    rows = json.loads(out.read_text())
    assert [r["build"] for r in rows] == ["32x32", "auto"]
    assert rows[1]["1920x1080"]["macs_per_cycle"] > 10 * rows[0]["1920x1080"]["macs_per_cycle"]


def test_size_command_rejects_a_bad_precision(capsys):
    assert size_main(["--precision", "int4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "int4" in err


def test_auto_on_the_ecp5():
    """On the LFE5U-85F the search takes one product per MULT18X18D, no LUT columns, and
    stays within the ECP5's margins (multipliers at most 55 %); the default 7 x 256 model
    fits no array there, a 7 x 128 one does."""
    from accel.device import LFE5U_85F, MARGINS_ECP5, margins, onchip_bits
    from model.support.errors import UserError
    assert margins(LFE5U_85F) is MARGINS_ECP5 and MARGINS_ECP5["dsp"] == 0.55
    with pytest.raises(UserError, match="no int8 array fits the LFE5U-85F"):
        auto_array(PatchINRConfig(patch=2), precision="int8", max_frame=(1920, 1080),
                   device="lfe5u-85f")
    choice = auto_array(PatchINRConfig(patch=2, hidden=128, layers=7), precision="int8",
                        max_frame=(1920, 1080), device="lfe5u-85f", clock_hz=100_000_000)
    c = choice.config
    assert c.device == "lfe5u-85f" and c.lut_cols == 0 and c.array_plan.pairs == 0
    assert choice.dsp == c.rows * c.cols + c.cols * DSP_PER_LANE["int8"] <= 0.55 * 156
    assert c.onchip_bits <= 0.8 * onchip_bits(LFE5U_85F)
    # No larger array of the same shapes fits the multipliers.
    assert (2 * c.rows) * c.cols + c.cols * 2 > 0.55 * 156
    assert "LFE5U-85F" in choice.reason() and "100 MHz" in choice.reason()


def test_on_the_ecp5_auto_takes_the_smallest_batch_within_one_percent():
    """Block RAM is what an ECP5 lacks, and a fuller one routes worse: of the chosen
    array's batches, the search keeps the smallest whose speed is within 1 % of the
    fastest's. On the XCVU9P (no tolerance) it keeps the fastest."""
    from accel.sizing import BATCHES
    model = PatchINRConfig(patch=2, hidden=128, layers=7)
    choice = auto_array(model, precision="int8", max_frame=(1920, 1080), device="lfe5u-85f")
    c = choice.config
    speed = {}
    for batch in BATCHES:
        try:
            cfg = AccelConfig.fitting(model=model, rows=c.rows, cols=c.cols, batch=batch,
                                      device="lfe5u-85f", max_frame=(1920, 1080))
        except UserError:
            continue
        speed[batch] = throughput(cfg, 1920, 1080)[0]
    fastest = max(speed.values())
    assert c.batch == min(b for b, s in speed.items() if s >= 0.99 * fastest)
    assert choice.macs_per_cycle == pytest.approx(speed[c.batch])
    assert c.batch < max(speed, key=speed.get)     # a smaller batch than the fastest's
    vu = auto_array(model, precision="int8", max_frame=(1920, 1080))
    vu_speed = throughput(vu.config, 1920, 1080)[0]
    for batch in BATCHES:
        if batch == vu.config.batch:
            continue
        try:
            other = AccelConfig.fitting(model=model, rows=vu.config.rows, cols=vu.config.cols,
                                        batch=batch, lut_cols=vu.config.lut_cols,
                                        max_frame=(1920, 1080))
        except UserError:
            continue
        assert throughput(other, 1920, 1080)[0] <= vu_speed + 1e-9


def test_a_video_build_is_sized_for_its_clip():
    # A clip renders as one job, its frames' batches overlapping: the search weighs each
    # array on the clip, and its pick is at least as fast on it as the single frame's pick.
    model = PatchINRConfig(patch=2, coords=3)
    clip = auto_array(model, precision="int8", max_frame=(128, 128), frames=16)
    frame = auto_array(model, precision="int8", max_frame=(128, 128))
    assert clip.frames == 16 and "a clip of 16 128x128 frames" in clip.reason()
    c = clip.config
    assert clip.macs_per_cycle == pytest.approx(
        useful_macs(c, 64 * 64 * 16) / frame_cycles(c, 128, 128, frames=16)["total"])
    assert clip.macs_per_cycle >= throughput(frame.config, 128, 128, frames=16)[0]


def test_pumped_search_and_why_it_cannot_double_the_array():
    # At twice the fabric clock each slice does four INT8 products a cycle: the search
    # sizes pumped arrays within the margins, one slice per two packed rows.
    choice = auto_array(PatchINRConfig(patch=2), precision="int8", max_frame=(1920, 1080),
                        dsp_clock=2)
    c = choice.config
    assert c.dsp_clock == 2 and c.int8_plan.pumped
    assert dsp_count(c) <= MARGINS["dsp"] * XCVU9P["dsp"]
    assert lut_estimate(c) <= MARGINS["lut"] * XCVU9P["lut"]
    from accel.sizing import plan_budget
    assert plan_budget(c.int8_plan)["ff"] <= MARGINS["ff"] * XCVU9P["ff"]
    w, h = c.max_width, c.max_height
    assert choice.macs_per_cycle == pytest.approx(
        useful_macs(c, (w // 2) * (h // 2)) / frame_cycles(c, w, h)["total"])
    # The pumped 128x128 array is past the flip-flop margin (a pumped PE keeps in fabric
    # what a single-rate slice holds in its registers); the single-rate one is within it.
    pumped = AccelConfig(model=PatchINRConfig(patch=2), rows=128, cols=128, batch=4096,
                         dsp_clock=2)
    single = AccelConfig(model=PatchINRConfig(patch=2), rows=128, cols=128, batch=4096,
                         lut_cols=34)
    assert plan_budget(pumped.int8_plan)["ff"] > MARGINS["ff"] * XCVU9P["ff"]
    assert plan_budget(single.int8_plan)["ff"] <= MARGINS["ff"] * XCVU9P["ff"]
    # The next array up, 256x128, fits neither way: all its pairs pumped need more DSP48E2s
    # than the device has, and enough LUT columns to fit the DSP margin more LUTs than it
    # has (and 256 rows exceed HWINFO.ROWS).
    from accel.plan import ArrayPlan
    all_dsp = plan_budget(ArrayPlan(rows=256, cols=128, wide_rows=2, lut_cols=0, pumped=True))
    assert all_dsp["dsp"] > XCVU9P["dsp"]
    lut = next(n for n in range(0, 129, 2) if plan_budget(ArrayPlan(
        rows=256, cols=128, wide_rows=2, lut_cols=n, pumped=True))["dsp"]
        <= MARGINS["dsp"] * XCVU9P["dsp"])
    assert plan_budget(ArrayPlan(rows=256, cols=128, wide_rows=2, lut_cols=lut,
                                 pumped=True))["lut"] > XCVU9P["lut"]


@pytest.mark.parametrize("patch, channels, coords, rows, cols, batch, size, frames", [
    (1, 1, 2, 4, 4, 8, (24, 24), 1),             # small batches, many of them
    (2, 3, 2, 8, 4, 64, (30, 18), 1),            # a last batch shorter than the others
    (2, 3, 2, 8, 8, 4096, (16, 16), 1),          # one batch, shorter than the batch size
    (4, 3, 2, 16, 16, 256, (64, 32), 1),
    (2, 3, 3, 8, 4, 32, (16, 12), 5),            # a clip
])
def test_the_cycle_floor_never_exceeds_the_model(patch, channels, coords, rows, cols, batch,
                                                 size, frames):
    # --array auto skips arrays by this floor, so it must hold for every shape; it is
    # also no looser than the tiles' own sum minus one tile.
    from accel.cycles import frame_cycles_floor
    model = PatchINRConfig(patch=patch, channels=channels, hidden=16, layers=2, coords=coords)
    for precision in ("int8", "fp32"):
        config = AccelConfig.fitting(model=model, rows=rows, cols=cols, batch=batch,
                                     precision=precision)
        kw = {"frames": frames} if frames > 1 else {}
        model_cycles = frame_cycles(config, *size, **kw)
        floor = frame_cycles_floor(config, *size, **kw)
        assert 0 < floor <= model_cycles["total"]
        assert floor >= model_cycles["compute"] - config.timing.period(batch,
                                                                      last_of_layer=True)
