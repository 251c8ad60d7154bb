"""Co-simulation of the exported Verilog in Verilator against the integer reference.

The shared build of ``tests/accel/conftest.py`` (camera 24x24 at n = 2 on a 4x4 INT8 array,
compiled once per session) serves every test: frames must equal the integer reference
pixel for pixel, and CYCLES the cycle model (which ``tests/accel/test_core.py`` holds to the
Amaranth simulation).

The FP32 datapath's Verilog is linted in ``test_verilog.py`` and simulated bit-exactly in
Amaranth; its Verilator co-simulation compiles a second, larger model, so it runs only with
``PATCHINR_SLOW_TESTS=1``.
"""

import json
import os

import numpy as np
import pytest

from accel.config import AccelConfig
from accel.cycles import frame_cycles
from accel.flows.reference import reference_frame
from accel.flows.verilator import build_model
from accel.host.driver import PatchINRDriver
from model.support.errors import UserError
from tests.accel.conftest import BATCH, CAMERA_FIXTURE, COLS, HEIGHT, ROWS, WIDTH
from tests.accel.models import random_model
from tests.tools import needs_verilator

pytestmark = needs_verilator

FIXTURE = CAMERA_FIXTURE


@pytest.fixture(scope="module")
def model_file(camera_build):
    return camera_build.model_file


@pytest.fixture(scope="module")
def config(camera_build):
    return camera_build.config


@pytest.fixture(scope="module")
def build_dir(verilator_build_dir):
    return verilator_build_dir


@pytest.fixture(scope="module")
def built(camera_build):
    return camera_build.built


def assert_frames_equal(frame, expected):
    assert frame.shape == expected.shape and frame.dtype == np.uint8
    bad = np.argwhere(np.any(frame != expected, axis=2))
    assert len(bad) == 0, f"{len(bad)} pixels differ, first at {bad[:3].tolist()}"


def _render(built, mf, *, width, height, precision="int8", stall=0.0, seed=0, clip=None):
    """A frame (or a video build's clip) through the driver on the Verilator transport."""
    with built.open(stall=stall, seed=seed) as link:
        core = PatchINRDriver(link)
        core.load_weights(mf)
        if clip:
            frame = core.render_clip(width, height, clip_frames=clip[0], first_frame=clip[1],
                                     frame_count=clip[2], precision=precision)
        else:
            frame = core.render(width, height, precision)
        assert link.stats()["hold_violations"] == 0
        return frame, core.cycles


def _query(built, mf, q, *, stall=0.0, seed=0):
    with built.open(stall=stall, seed=seed) as link:
        core = PatchINRDriver(link)
        core.load_weights(mf)
        return core.query(q, quantized=True), core.cycles


def _frame_with_and_without_back_pressure(built, mf, config, width, height, *, seed):
    """The integer reference's frame under back-pressure, then again without it in the
    cycle model's CYCLES."""
    expected = reference_frame(mf, config, width, height, "int8")
    frame, _ = _render(built, mf, width=width, height=height, stall=0.3, seed=seed)
    assert_frames_equal(frame, expected)
    frame, cycles = _render(built, mf, width=width, height=height)
    assert_frames_equal(frame, expected)
    assert cycles == frame_cycles(config, width, height)["total"]


def test_frame_matches_integer_reference_and_cycle_model(built, model_file, config):
    frame, cycles = _render(built, model_file, width=WIDTH, height=HEIGHT, precision="int8")
    assert_frames_equal(frame, reference_frame(model_file, config, WIDTH, HEIGHT, "int8"))
    assert cycles == frame_cycles(config, WIDTH, HEIGHT)["total"]


def test_back_pressure_and_smaller_frame(built, model_file, config):
    # A frame below the build's maximum, the sink stalling a third of the time.
    frame, cycles = _render(built, model_file, width=12, height=8, precision="int8", stall=0.3,
                              seed=5)
    assert_frames_equal(frame, reference_frame(model_file, config, 12, 8, "int8"))
    assert cycles > frame_cycles(config, 12, 8)["total"]


def test_sim_command_line(built, build_dir, tmp_path, monkeypatch, capsys):
    # The same configuration through `python -m accel.sim --backend verilator`: the model
    # comes from the cache that PATCHINR_VERILATOR_DIR names (exported again and hashed, not
    # compiled again).
    from accel.cli import sim
    monkeypatch.setenv("PATCHINR_VERILATOR_DIR", build_dir)
    out = tmp_path / "result.json"
    rc = sim.main(["--backend", "verilator", "--verilator-opt=-O0", "--weights", FIXTURE,
                   "--array", f"{ROWS}x{COLS}", "--size", f"{WIDTH}x{HEIGHT}",
                   "--json", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    assert result["backend"] == "verilator"
    assert result["mismatches"] == 0 and result["mismatches_torch"] == 0
    assert result["cycles"] == result["cycles_model"]
    assert result["compile_seconds"] >= 0 and result["verilator_cached"] is True


def test_user_errors(built, model_file):
    with pytest.raises(UserError, match="exceeds the build's maximum"):
        _render(built, model_file, width=WIDTH + 2, height=HEIGHT, precision="int8")
    with pytest.raises(UserError, match="no fp32 datapath"):
        _render(built, model_file, width=WIDTH, height=HEIGHT, precision="fp32")
    with pytest.raises(UserError, match="network differs"):
        _render(built, random_model(patch=2, hidden=6, layers=2), width=WIDTH, height=HEIGHT,
                  precision="int8")


@pytest.mark.skipif(not os.environ.get("PATCHINR_SLOW_TESTS"),
                    reason="slow (a second Verilator model): set PATCHINR_SLOW_TESTS=1")
def test_fp32_frame_matches_float32_reference(model_file, build_dir):
    config = AccelConfig(model=model_file.config, rows=ROWS, cols=COLS, batch=BATCH,
                         precision="fp32", max_width=WIDTH, max_height=HEIGHT)
    built = build_model(config, build_dir=build_dir, opt="-O0", progress=False)
    frame, cycles = _render(built, model_file, width=WIDTH, height=HEIGHT, precision="fp32",
                            stall=0.2, seed=1)
    assert_frames_equal(frame, reference_frame(model_file, config, WIDTH, HEIGHT, "fp32"))
    assert cycles >= frame_cycles(config, WIDTH, HEIGHT)["total"]


def test_missing_compiler_names_the_install_step(monkeypatch, config):
    monkeypatch.setenv("CXX", "no-such-compiler")
    with pytest.raises(UserError, match="apt-get install g\\+\\+"):
        build_model(config, progress=False)


def test_query_mode_renders_sub_patch_phases(built, model_file):
    # The upscale's queries (off the patch grid) through the driver's query mode.
    from model.quant import int_forward
    from model.upscale import upscale_coords_q
    q = upscale_coords_q(8, 8, 2, 3)
    patches, cycles = _query(built, model_file, q, stall=0.2, seed=2)
    want = int_forward(model_file.quant, q).reshape(patches.shape)
    assert np.array_equal(patches, want) and cycles > 0


def test_video_clip_and_queries(build_dir):
    # A video build through the driver: one START renders 3 frames of a 5-frame clip from
    # frame 2, tuser per frame checked by the driver, CYCLES the cycle model; 3-coordinate
    # queries over the 64-bit coordinate stream.
    from model.evaluate import render_clip_int8
    from model.quant import int_forward
    mf = random_model(patch=2, hidden=6, layers=1, seed=11, coords=3)
    config = AccelConfig(model=mf.config, rows=2, cols=2, batch=8, precision="int8",
                         max_width=8, max_height=8)
    built = build_model(config, build_dir=build_dir, opt="-O0", progress=False)
    clip, cycles = _render(built, mf, width=8, height=4, precision="int8", stall=0.2, seed=3,
                             clip=(5, 2, 3))
    assert np.array_equal(clip, render_clip_int8(mf.quant, 8, 4, 5)[2:])
    clip, cycles = _render(built, mf, width=8, height=4, precision="int8", clip=(5, 2, 3))
    assert cycles == frame_cycles(config, 8, 4, frames=3, first_frame=2)["total"]
    q = np.array([[0, 0, -32767], [32767, -32767, 32767], [123, -456, 789]], dtype=np.int16)
    patches, _ = _query(built, mf, q)
    assert np.array_equal(patches.reshape(3, -1), int_forward(mf.quant, q))


def test_memory_deeper_than_16_bits_of_address(build_dir):
    # 66,048 INT8 weight words (17 address bits) behind a 2x1 array, streamed over
    # s_axis_wgt by the driver, then a frame bit for bit and the cycle model's cycles.
    # With 16-bit weight addresses the top words would alias the bottom ones. (The same
    # check in the Amaranth simulator, tests/accel/gateware/test_core.py, takes minutes.)
    mf = random_model(patch=2, channels=1, hidden=128, layers=5, seed=4)
    config = AccelConfig(model=mf.config, rows=2, cols=1, batch=4, max_width=4, max_height=4)
    assert config.memory_geometry["weights_int8"][0] > 1 << 16
    assert config.weight_addr_bits == config.buffer_addr_bits == 17
    built = build_model(config, build_dir=build_dir, opt="-O0", progress=False)
    frame, cycles = _render(built, mf, width=4, height=4)
    assert_frames_equal(frame, reference_frame(mf, config, 4, 4, "int8"))
    assert cycles >= frame_cycles(config, 4, 4)["total"]


def test_ecp5_core_with_its_registered_multipliers(build_dir):
    # An ECP5 build's exported core multiplies in MULT18X18D primitives (input and output
    # registers on: the PEs and the lanes' requantization), simulated through the
    # package's model of the cell; wide (int16) rows and int8 rows, banked memories,
    # back-pressure: the frame is the integer reference's
    # and, without back-pressure, CYCLES the cycle model's.
    from accel.flows.export import export_core
    mf = random_model(patch=2, channels=1, hidden=8, layers=2, seed=7)
    config = AccelConfig(model=mf.config, rows=4, cols=2, batch=8, device="lfe5u-12f",
                         max_width=8, max_height=8, bank_words=16)
    verilog = export_core(config, zero_init=False)
    # The wide and the int8 PE modules' products, and each lane's two partial products.
    assert verilog.count("MULT18X18D #(") == 2 + 2 * config.cols
    for reg in ("INPUTA", "INPUTB", "OUTPUT"):
        assert f'.REG_{reg}_CLK("CLK0")' in verilog
    xcvu9p = AccelConfig(model=mf.config, rows=4, cols=2, batch=8, max_width=8, max_height=8)
    assert "MULT18X18D" not in export_core(xcvu9p, zero_init=False)
    built = build_model(config, build_dir=build_dir, opt="-O0", progress=False)
    _frame_with_and_without_back_pressure(built, mf, config, 8, 6, seed=2)


def test_four_rgb_pixels_per_beat(build_dir):
    # Four RGB pixels per beat: a 96-bit tdata, which Verilator holds as a wide word; the
    # harness hands the driver its pixels one by one (tuser on a beat's first, tlast on its
    # last, the driver checking both per frame and line). Back-pressure, then CYCLES.
    mf = random_model(patch=4, channels=3, hidden=6, layers=1, seed=9)
    config = AccelConfig(model=mf.config, rows=12, cols=12, batch=8, max_width=16,
                         max_height=8, pixels_per_beat=4)
    assert config.pix_bits == 96
    built = build_model(config, build_dir=build_dir, opt="-O0", progress=False)
    _frame_with_and_without_back_pressure(built, mf, config, 16, 8, seed=4)
    with built.open() as link:
        assert PatchINRDriver(link).info.pixels_per_beat == 4


def test_dsp48e2s_at_twice_the_clock(build_dir):
    # The exported core with aclk2x: two rows' packed pairs on each DSP slice, the harness
    # driving the second clock's edges with and between aclk's; 7 packed rows (the last
    # slice with one PE) and a single-DSP column beside the pair.
    mf = random_model(patch=2, channels=3, hidden=10, layers=2, seed=12)
    config = AccelConfig(model=mf.config, rows=9, cols=3, batch=12, max_width=8,
                         max_height=8, dsp_clock=2)
    assert config.int8_plan.pumped
    built = build_model(config, build_dir=build_dir, opt="-O0", progress=False)
    _frame_with_and_without_back_pressure(built, mf, config, 8, 6, seed=6)
