"""``python -m accel.sim``: a small frame end to end, and bad input as one line, exit 2."""

import json

import pytest

from accel.cli.sim import main
from model.support.errors import UserError
from model.support.validate import parse_array, parse_size
from tests.paths import FIXTURES

FIXTURE = FIXTURES / "camera24_p2.npz"


def test_small_frame_matches(tmp_path, capsys):
    out = tmp_path / "r.json"
    rc = main(["--weights", str(FIXTURE), "--array", "4x4", "--size", "8x4", "--quiet",
               "--json", str(out)])
    assert rc == 0
    r = json.loads(out.read_text())
    assert r["mismatches"] == 0 and r["mismatches_torch"] == 0
    assert r["cycles"] == r["cycles_model"]
    assert "0 mismatching pixels of 32" in capsys.readouterr().out


def test_fp32_frame_psnr_matches_torch(tmp_path):
    """The FP32 frame of a trained model: bit-exact against the float32 reference, and its
    PSNR within 0.01 dB of the torch model's frame in the same 8-bit pixel format."""
    out = tmp_path / "r.json"
    rc = main(["--weights", str(FIXTURE), "--precision", "fp32", "--array", "4x4",
               "--size", "24x24", "--quiet", "--json", str(out)])
    assert rc == 0
    r = json.loads(out.read_text())
    assert r["mismatches"] == 0 and r["cycles"] == r["cycles_model"]
    assert r["image"] == "camera" and 20 < r["psnr"] < 40
    assert abs(r["psnr"] - r["psnr_torch"]) <= 0.01
    # The unrounded float frame is reported too; rounding to pixels costs this model a little.
    assert abs(r["psnr_torch_float"] - r["psnr_torch"]) < 0.1


@pytest.mark.parametrize("args, message", [
    (["--weights", "{tmp}/missing.npz"], "does not exist"),
    (["--weights", "{tmp}/corrupt.npz"], "not a PatchINR model file"),
    (["--weights", "{tmp}"], "is a directory"),
    (["--array", "0x4"], "array shape must be two positive integers"),
    (["--array=-4x4"], "array shape must be two positive integers"),
    (["--array", "4"], "ROWSxCOLS"),
    (["--array", "4x4x4"], "ROWSxCOLS"),
    (["--array", "ax4"], "ROWSxCOLS"),
    (["--array", "4x3"], "column count must divide the row count"),
    (["--size", "25x24"], "not divisible by the model's patch size 2"),
    (["--size", "0x24"], "two positive integers"),
    (["--size", "big"], "WIDTHxHEIGHT"),
    (["--precision", "fp16"], "unknown precision 'fp16'"),
    (["--precision", "dual"], "unknown precision 'dual'"),
    (["--batch", "0"], "batch must be a positive integer"),
    (["--stall", "1.5"], "--stall"),
    (["--bogus"], "unrecognized arguments"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    (tmp_path / "corrupt.npz").write_bytes(b"not a zip file")
    args = [a.format(tmp=tmp_path) for a in args]
    if not any(a.startswith("--weights") for a in args):
        args = ["--weights", str(FIXTURE), "--size", "8x4"] + args
    rc = main(args + ["--quiet"])
    captured = capsys.readouterr()
    assert rc == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("accel.sim: error: "), captured.err
    assert message in lines[0]
    assert captured.out == ""


def test_parsers():
    assert parse_array("4x2") == (4, 2) and parse_array("8X8") == (8, 8)
    assert parse_size("24x16") == (24, 16) and parse_size("24") == (24, 24)
    for bad in ("", "x", "4x", "-1x4", "0x0"):
        with pytest.raises(UserError):
            parse_array(bad)


def test_upscaled_frame_through_query_mode(tmp_path, capsys):
    # 8x8 of the camera fixture at twice its resolution: 4 phases of 16 queries through the
    # Amaranth simulation, every pixel against the integer reference of the same queries.
    out, png = tmp_path / "up.json", tmp_path / "up.png"
    rc = main(["--weights", str(FIXTURE), "--size", "8x8", "--upscale", "2", "--array", "4x4",
               "--json", str(out), "--out", str(png), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    r = json.loads(out.read_text())
    assert (r["width"], r["height"], r["base_width"], r["upscale"]) == (16, 16, 8, 2)
    assert r["mismatches"] == 0 and r["queries"] == 4 * 16 and r["pixels"] == 256
    assert 0 < r["cycles"] <= r["cycles_bound"]
    assert {"psnr", "psnr_bicubic", "psnr_torch"} <= set(r)
    from PIL import Image
    assert Image.open(png).size == (16, 16)
    assert "x2 = 16x16" in capsys.readouterr().out


def _video_model(path, *, patch=2, frames=3, size=4):
    from model import export
    from tests.accel.models import random_model
    mf = random_model(patch=patch, hidden=6, layers=1, seed=9, coords=3)
    export.save(path, config=mf.config, fp32=mf.fp32, quant=mf.quant,
                meta={"video": "bikes", "width": size, "height": size, "frames": frames,
                      "first_frame": 0, "frame_step": 1, "fit": "crop"})
    return path


def test_clip_command_line(tmp_path, capsys):
    # A video model file: its clip from one START, every frame against the reference,
    # written as a GIF and a strip, scored against the frames the file names.
    weights = _video_model(tmp_path / "v.npz")
    out, gif, strip = tmp_path / "c.json", tmp_path / "c.gif", tmp_path / "s.png"
    rc = main(["--weights", str(weights), "--array", "2x2", "--first-frame", "1",
               "--json", str(out), "--out", str(gif), "--strip", str(strip), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    r = json.loads(out.read_text())
    assert (r["frames"], r["first_frame"], r["clip_frames"]) == (2, 1, 3)
    assert r["mismatches"] == 0 and r["mismatches_frames"] == [0, 0]
    assert r["cycles"] == r["cycles_model"] and len(r["psnr_frames"]) == 2
    from PIL import Image
    with Image.open(gif) as im:
        assert im.n_frames == 2 and im.size == (4, 4)
    assert Image.open(strip).size == (4 * 2 + 2, 4)


@pytest.mark.parametrize("args, message", [
    (["--first-frame", "2", "--frames", "2"], "outside the 3-frame clip"),
    (["--upscale", "2"], "is a video model"),
    (["--out", "x.png"], "must end in .gif or .mp4"),
    (["--image", "camera"], "--image is for an image model"),
])
def test_clip_bad_input(tmp_path, capsys, args, message):
    weights = _video_model(tmp_path / "v.npz")
    args = [a.replace("x.png", str(tmp_path / "x.png")) for a in args]
    assert main(["--weights", str(weights), "--array", "2x2", "--quiet", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_image_model_refuses_clip_options(capsys):
    assert main(["--weights", str(FIXTURE), "--frames", "2", "--quiet"]) == 2
    assert "is for a video model" in capsys.readouterr().err
