"""The whole core in simulation: frames and query streams against the references.

Every job here is checked pixel for pixel against the integer reference (INT8) or the
float32 reference of the hardware's operation order (FP32), and its CYCLES register against
the analytic cycle model.
"""

import os

import numpy as np
import pytest
from hypothesis import Phase, example, given, settings, strategies as st

from accel.config import AccelConfig
from accel.cycles import frame_cycles
from accel.flows.reference import reference_frame
from accel.flows.simulation import render
from accel.host.errors import ErrorCode
from accel.host.weights import memory_images
from model.quant import int_forward
from tests.accel.models import random_model


def build(*, patch=2, channels=1, hidden=8, layers=2, rows=4, cols=4, batch=8, width=12,
          height=8, precision="int8", seed=0, max_width=None, device="xcvu9p", bank_words=None,
          pixels_per_beat=1, dsp_clock=1):
    mf = random_model(patch=patch, channels=channels, hidden=hidden, layers=layers, seed=seed)
    cfg = AccelConfig(model=mf.config, rows=rows, cols=cols, batch=batch, precision=precision,
                      max_width=max_width or width, max_height=height, device=device,
                      bank_words=bank_words, pixels_per_beat=pixels_per_beat,
                      dsp_clock=dsp_clock)
    return mf, cfg


def cycle_limit(cfg, width, height):
    """A bound for the simulator: a hung design fails the test instead of hanging it."""
    return 10 * frame_cycles(cfg, width, height)["total"] + 20_000


def check_frame(mf, cfg, width, height, *, precision="int8", **kw):
    kw.setdefault("max_cycles", cycle_limit(cfg, width, height))
    res = render(cfg, width=width, height=height, precision=precision,
                 images=None if kw.get("stream_weights") else memory_images(cfg, mf),
                 model_file=mf, **kw)
    assert res.status.done and not res.status.error, f"STATUS {res.status}"
    expected = reference_frame(mf, cfg, width, height, precision)
    mismatches = np.argwhere(np.any(res.frame != expected, axis=2))
    assert len(mismatches) == 0, f"{len(mismatches)} pixels differ, first at {mismatches[:3].tolist()}"
    return res


@pytest.mark.parametrize("case", [
    dict(patch=1, width=6, height=4),
    dict(patch=2, width=12, height=8),
    dict(patch=3, width=9, height=6, hidden=6),                 # width 6: not a multiple of 4
    dict(patch=4, width=16, height=8, rows=4, cols=2, batch=16),  # non-square array
    dict(patch=2, channels=3, width=8, height=4, hidden=10),    # RGB, width 10 over 4x4
    dict(patch=2, width=8, height=8, rows=2, cols=2, batch=4, layers=3),
    # The ECP5's array: one product per multiplier, no packed pairs.
    dict(patch=2, channels=3, width=8, height=4, hidden=10, device="lfe5u-85f"),
    # The ECP5's banked memories, with banks small enough that this small build has them:
    # weights in 27 banks (three levels of read tree, 5 cycles a read), activations in 12
    # (two levels, 4 cycles).
    dict(patch=2, channels=3, width=8, height=4, hidden=10, layers=3, device="lfe5u-85f",
         bank_words=4),
    # Several pixels per beat: a whole patch line of a gray 4x4 patch, half an RGB one
    # (its 6 values wrap past the last of 8 output banks).
    dict(patch=4, width=16, height=8, pixels_per_beat=4),
    dict(patch=4, channels=3, width=16, height=8, rows=8, cols=8, hidden=10,
         pixels_per_beat=2),
    # DSP48E2s at twice the fabric clock (two clocks in the simulator): 7 packed rows, the
    # last slice with one PE, and 3 columns, so a single-DSP column beside the pair.
    dict(patch=2, channels=3, width=8, height=4, hidden=10, rows=9, cols=3, batch=12,
         dsp_clock=2),
], ids=["n1", "n2", "n3-width6", "n4-array4x2", "rgb-width10", "array2x2-3layers",
        "ecp5-unpacked", "ecp5-banked", "n4-4ppb", "n4-rgb-2ppb", "dsp-2x"])
def test_frame_matches_reference_and_cycle_model(case):
    width, height = case.pop("width"), case.pop("height")
    mf, cfg = build(width=width, height=height, **case)
    if case.get("bank_words"):
        assert (cfg.weight_read_latency, cfg.act_read_latency) == (5, 4), cfg.memory_geometry
    res = check_frame(mf, cfg, width, height)
    assert res.cycles == frame_cycles(cfg, width, height)["total"]


# Bounded for the suite: a handful of fresh examples, no shrinking (one simulated frame is
# ~1 s, and shrinking a failure took minutes); a failure prints its example, which then
# belongs in an @example below.
@settings(max_examples=10, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
# A random first-layer neuron whose int32 bias overflowed the accumulator: the model did not
# fit the datapath (tests/accel/models.py now draws only models that do).
@example(patch=2, channels=1, hidden=4, layers=3, shape=(2, 2), batch=5, grid=(4, 1), seed=463)
@given(patch=st.integers(1, 3), channels=st.sampled_from([1, 3]), hidden=st.integers(3, 9),
       layers=st.integers(1, 3), shape=st.sampled_from([(4, 4), (4, 2), (2, 2), (6, 3), (3, 3)]),
       batch=st.integers(4, 12), grid=st.tuples(st.integers(1, 4), st.integers(1, 3)),
       seed=st.integers(0, 1000))
def test_random_configurations(patch, channels, hidden, layers, shape, batch, grid, seed):
    rows, cols = shape
    if cols < channels:
        cols = rows = 3 * (rows // 3 or 1)
    width, height = grid[0] * patch, grid[1] * patch
    mf, cfg = build(patch=patch, channels=channels, hidden=hidden, layers=layers, rows=rows,
                    cols=cols, batch=batch, width=width, height=height, seed=seed)
    res = check_frame(mf, cfg, width, height)
    assert res.cycles == frame_cycles(cfg, width, height)["total"]


@pytest.mark.parametrize("pixels_per_beat", [1, 2])
def test_backpressure_and_streamed_weights_lose_nothing(pixels_per_beat):
    """tready drops at random on the output, the weights arrive over the stream with gaps:
    the same frame, every pixel exactly once, in order (tuser on the first, tlast per line;
    with two pixels per beat, on the first and last pixel of their beats)."""
    mf, cfg = build(width=12, height=8, pixels_per_beat=pixels_per_beat)
    res = check_frame(mf, cfg, 12, 8, stall=0.4, gaps=0.3, stream_weights=True, seed=3)
    users = [b[2] for b in res.beats]
    lasts = [i for i, b in enumerate(res.beats) if b[1]]
    assert users[0] == 1 and sum(users) == 1
    assert lasts == [12 * (y + 1) - 1 for y in range(8)]


def test_reset_mid_frame_then_a_new_frame():
    mf, cfg = build(width=12, height=8)
    full = frame_cycles(cfg, 12, 8)["total"]
    for after in (40, full // 2):
        check_frame(mf, cfg, 12, 8, reset_after=after)


@pytest.mark.parametrize("pixels_per_beat", [1, 2])
def test_query_stream_with_gaps(pixels_per_beat):
    """Arbitrary coordinates (whole int16 range) over s_axis_coord: each query's patch."""
    mf, cfg = build(width=12, height=8, pixels_per_beat=pixels_per_beat)
    rng = np.random.default_rng(5)
    q = np.concatenate([[[-32767, -32767], [32767, 32767], [0, 0]],
                        rng.integers(-32767, 32768, size=(18, 2))])
    res = render(cfg, width=12, height=8, images=memory_images(cfg, mf), queries=q,
                 gaps=0.3, stall=0.3, seed=2, max_cycles=cycle_limit(cfg, 12, 8))
    assert res.status.done and not res.status.error
    np.testing.assert_array_equal(res.frame, int_forward(mf.quant, q))
    # One packet per job: tlast on the last pixel of the last query only.
    assert [i for i, b in enumerate(res.beats) if b[1]] == [4 * len(q) - 1]


@pytest.mark.parametrize("width, height", [(0, 8), (14, 8), (12, 10), (13, 8)],
                         ids=["zero", "too-wide", "too-tall", "not-multiple-of-patch"])
def test_bad_frame_size_sets_error_and_renders_nothing(width, height):
    mf, cfg = build(width=12, height=8)          # patch 2, at most 12x8
    res = render(cfg, width=12, height=8, images=memory_images(cfg, mf), jobs=["int8"],
                 override_size=(width, height), max_cycles=20_000)
    assert res.status.error and not res.status.done and not res.status.busy
    assert res.error_code == ErrorCode.FRAME_SIZE.value
    assert res.beats == []


def test_precision_not_carried_sets_error():
    mf, cfg = build(width=12, height=8)          # an INT8-only build
    res = render(cfg, width=12, height=8, precision="fp32", images=memory_images(cfg, mf),
                 max_cycles=20_000)
    assert res.status.error and not res.status.done and not res.status.busy
    assert res.error_code == ErrorCode.PRECISION.value and res.beats == []


def test_fp32_frame():
    mf, cfg = build(width=12, height=8, precision="fp32")
    res = check_frame(mf, cfg, 12, 8, precision="fp32")
    assert res.cycles == frame_cycles(cfg, 12, 8)["total"]


def test_dual_build_switches_precision_by_register_alone():
    """INT8, then FP32, then INT8 again, without reset: each frame exact, each INT8 job in
    the cycles the INT8-only build of the same shape takes, each FP32 job in the FP32-only
    build's."""
    mf, cfg = build(width=8, height=4, precision="dual")
    _, int8_only = build(width=8, height=4, precision="int8")
    _, fp32_only = build(width=8, height=4, precision="fp32")
    only = {"int8": frame_cycles(int8_only, 8, 4)["total"],
            "fp32": frame_cycles(fp32_only, 8, 4)["total"]}
    assert only["int8"] < only["fp32"]
    res = render(cfg, width=8, height=4, images=memory_images(cfg, mf),
                 jobs=["int8", "fp32", "int8"], max_cycles=3 * cycle_limit(cfg, 8, 4))
    for job, prec in zip(res.results, ["int8", "fp32", "int8"]):
        assert job.status.done and not job.status.error
        np.testing.assert_array_equal(job.frame, reference_frame(mf, cfg, 8, 4, prec))
        assert job.cycles == only[prec] == frame_cycles(cfg, 8, 4, precision=prec)["total"]


def test_clear_zeroes_the_counters_of_a_finished_job():
    """CTRL.CLEAR: DONE and ERROR, and between jobs CYCLES, QUERIES and PIXELS too."""
    from accel.flows.simulation import AmaranthTransport
    from accel.host.driver import PatchINRDriver

    mf, cfg = build(width=4, height=4)
    core = PatchINRDriver(AmaranthTransport(cfg, images=memory_images(cfg, mf), width=4,
                                            height=4))
    core.attach(mf)
    core.render(4, 4)
    assert core.status().done
    assert core.counters() == {"cycles": frame_cycles(cfg, 4, 4)["total"], "queries": 4,
                               "pixels": 16}
    core.clear()
    assert core.status().word == 0
    assert core.counters() == {"cycles": 0, "queries": 0, "pixels": 0}


@pytest.mark.skipif(not os.environ.get("PATCHINR_SLOW_TESTS"),
                    reason="slow (about 5 minutes; the suite runs the same check through "
                           "Verilator in tests/accel/flows/test_verilator.py): set "
                           "PATCHINR_SLOW_TESTS=1")
def test_memory_deeper_than_16_bits_of_address():
    """A deep weight memory behind a tiny array: 66,048 INT8 weight words (17 address
    bits) on a 2x1 array, loaded over s_axis_wgt, then a frame bit for bit. With 16-bit
    weight addresses (the widths before they followed the configuration) the top words
    alias the bottom ones and the frame is wrong without an error."""
    mf = random_model(patch=2, channels=1, hidden=128, layers=5, seed=4)
    cfg = AccelConfig(model=mf.config, rows=2, cols=1, batch=4, max_width=4, max_height=4)
    depth = cfg.memory_geometry["weights_int8"][0]
    assert depth > 1 << 16 and cfg.weight_addr_bits == cfg.buffer_addr_bits == 17
    res = check_frame(mf, cfg, 4, 4, stream_weights=True)
    assert res.cycles == frame_cycles(cfg, 4, 4)["total"]
