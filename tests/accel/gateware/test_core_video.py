"""A video build (coords = 3) in Amaranth's simulator: clips from one START, bit for bit.

The smallest models that show the point (one or two sine layers of 6): a few 12x12 frames
at n = 2 and n = 1, every pixel against the integer reference of the clip's (x, y, t)
queries, CYCLES against the cycle model, ``tuser`` on each frame's first pixel and
``tlast`` on each line's last; arrays with fewer rows than coordinates (the first layer's
coordinates then span input tiles); 3-coordinate queries; and the clip-range error.
"""

import numpy as np
import pytest

from accel.config import AccelConfig
from accel.cycles import frame_cycles
from accel.flows.simulation import render
from accel.host.errors import ErrorCode
from accel.host.weights import memory_images
from model.evaluate import render_clip_int8
from model.quant import int_forward
from tests.accel.models import random_model


def _build(patch, rows, cols, *, channels=1, hidden=6, layers=1, seed=0, size=12,
           precision="int8"):
    mf = random_model(patch=patch, channels=channels, hidden=hidden, layers=layers, seed=seed,
                      coords=3)
    config = AccelConfig(model=mf.config, rows=rows, cols=cols, batch=8, precision=precision,
                         max_width=size, max_height=size)
    return mf, config


def _check_framing(beats, width, height, frames):
    index = np.arange(len(beats))
    user = np.array([b[2] for b in beats], dtype=bool)
    last = np.array([b[1] for b in beats], dtype=bool)
    assert len(beats) == width * height * frames
    assert np.array_equal(user, index % (width * height) == 0), "tuser not per frame"
    assert np.array_equal(last, index % width == width - 1), "tlast not per line"


@pytest.mark.parametrize("patch, array, clip", [
    (2, (4, 4), (5, 1, 3)),       # 3 of a 5-frame clip from frame 1, n = 2
    (1, (2, 2), (2, 0, 2)),       # n = 1, two rows for three coordinates
])
def test_clip_matches_the_integer_reference_and_cycle_model(patch, array, clip):
    mf, config = _build(patch, *array, seed=patch)
    width = height = 12
    frames, first, count = clip
    res = render(config, width=width, height=height, images=memory_images(config, mf),
                 clip=clip, stall=0.1, seed=3)
    want = render_clip_int8(mf.quant, width, height, frames)[first:first + count]
    assert res.frame.shape == want.shape and np.array_equal(res.frame, want)
    _check_framing(res.beats, width, height, count)
    # The stalls only delay; without them, CYCLES is the cycle model's.
    res = render(config, width=width, height=height, images=memory_images(config, mf),
                 clip=clip)
    assert res.cycles == frame_cycles(config, width, height, frames=count,
                                      first_frame=first)["total"]


def test_one_row_array_and_streamed_weights():
    # Rows = 1: each coordinate its own input tile; the weights in over s_axis_wgt.
    mf, config = _build(2, 1, 1, seed=4, size=4)
    res = render(config, width=4, height=4, model_file=mf, stream_weights=True,
                 clip=(3, 0, 3))
    assert np.array_equal(res.frame, render_clip_int8(mf.quant, 4, 4, 3))
    assert res.cycles == frame_cycles(config, 4, 4, frames=3)["total"]


def test_three_coordinate_queries():
    mf, config = _build(2, 2, 2, seed=5, size=4)
    rng = np.random.default_rng(0)
    q = rng.integers(-32767, 32768, size=(11, 3)).astype(np.int16)
    q[:3] = [[-32767, -32767, -32767], [32767, 32767, 32767], [0, 0, 0]]
    res = render(config, width=4, height=4, images=memory_images(config, mf), queries=q,
                 gaps=0.2, seed=1)
    assert np.array_equal(res.frame, int_forward(mf.quant, q))


@pytest.mark.parametrize("clip", [(4, 3, 2), (4, 0, 0), (5000, 0, 1)])
def test_clip_out_of_range_is_an_error_and_renders_nothing(clip):
    mf, config = _build(2, 2, 2, seed=6, size=4)
    res = render(config, width=4, height=4, images=memory_images(config, mf), clip=clip)
    assert res.frame is None and res.error_code == ErrorCode.CLIP_RANGE.value
    assert res.beats == []


def test_fp32_clip_matches_the_float32_reference():
    # The FP32 datapath converts each of the three coordinates (2 rows: over 2 input tiles).
    from model.fp32ref import fold_weights, fp32_forward
    from model.video import clip_coords_q, unpatchify_clip
    mf, config = _build(2, 2, 2, seed=7, size=4, precision="fp32")
    res = render(config, width=4, height=4, precision="fp32",
                 images=memory_images(config, mf), clip=(2, 0, 2))
    pix = fp32_forward(fold_weights(mf.fp32, mf.config.omega0), clip_coords_q(2, 2, 2),
                       k_pad=config.rows)
    assert np.array_equal(res.frame, unpatchify_clip(pix, 4, 4, 2, 2, 1))
    assert res.cycles == frame_cycles(config, 4, 4, frames=2)["total"]
