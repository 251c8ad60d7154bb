"""Training: a short real fit improves the image and is reproducible; the command line turns
every bad input into one line and exit status 2, and a good run writes its files."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from model import export
from model.config import PatchINRConfig
from model.data import load_image, to_uint8
from model.evaluate import render_fp32, render_int8, score
from model.network import PatchINR
from model.quant import quantize
from model.support.errors import UserError
from model.train import main
from model.training import TrainSettings, fit, lr_at, train_image

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def camera32():
    return load_image("camera", size=32)


CFG = PatchINRConfig(patch=2, channels=1, hidden=32, layers=2)


# Fitting -----------------------------------------------------------------------------------

def test_short_fit_raises_psnr(camera32):
    settings = TrainSettings(steps=100, lr=1e-3, seed=3, device="cpu", qat_steps=0)
    torch.manual_seed(3)                                  # the initial weights fit() starts from
    before = score(camera32, render_fp32(PatchINR(CFG).eval(), 32, 32))["psnr"]
    model, _, info = fit(camera32, CFG, settings, progress=False)
    after = score(camera32, render_fp32(model, 32, 32))["psnr"]
    assert after > before + 5, (before, after)
    assert not model.training and next(model.parameters()).device.type == "cpu"
    steps, psnrs = zip(*info["history"])
    assert steps[0] == 0 and steps[-1] == 99
    assert max(psnrs) == pytest.approx(after, abs=0.05)     # the best weights are the ones kept
    assert info["train_seconds"] > 0
    assert info["seconds_per_step"] == pytest.approx(info["train_seconds"] / 100)


def test_fit_is_reproducible(camera32):
    cfg = PatchINRConfig(patch=2, channels=1, hidden=8, layers=2)
    runs = [fit(camera32, cfg, TrainSettings(steps=15, seed=seed, device="cpu"), progress=False)[0]
            for seed in (7, 7, 8)]
    a, b, c = (r.state_dict() for r in runs)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_fit_rejects_mismatched_image(camera32):
    with pytest.raises(UserError, match="image has 1 channels, configuration has 3"):
        fit(camera32, PatchINRConfig(channels=3, hidden=4, layers=1), TrainSettings(steps=1))
    with pytest.raises(UserError, match="not divisible"):
        fit(camera32, PatchINRConfig(channels=1, patch=3, hidden=4, layers=1), TrainSettings(steps=1))


def test_train_image_with_quantization_aware_steps(camera32):
    # The last qat_steps train through the integer datapath; the returned integer model is
    # the quantization of the returned float model, and the scores are of those two.
    cfg = PatchINRConfig(patch=2, channels=1, hidden=8, layers=2)
    settings = TrainSettings(steps=40, device="cpu", qat_steps=10, qat_eval_every=2, qat_batch=100)
    model, quant, results = train_image(camera32, cfg, settings, progress=False, image_name="camera")
    assert results["qat_steps"] == 10
    assert np.array_equal(render_int8(quant, 32, 32), render_int8(quantize(model), 32, 32))
    assert results["psnr_int8"] == pytest.approx(score(camera32, render_int8(quant, 32, 32))["psnr"])
    assert results["psnr_fp32"] == pytest.approx(score(camera32, render_fp32(model, 32, 32))["psnr"])
    assert results["psnr_int8_ptq"] < results["psnr_fp32_pretrain"] + 1.0
    assert len(results["calibration"]) == 3
    json.dumps(results)                     # everything in it serialises


def test_consistency_weight_pulls_the_two_datapaths_together(camera32):
    # Same seed and steps; only the weight of the FP32/INT8 disagreement differs. Without it
    # the float model outruns the INT8 one by several dB (the 8-bit activations' noise
    # floor); with it the kept model's two frames agree within 1 dB.
    cfg = PatchINRConfig(patch=2, channels=1, hidden=64, layers=2)

    def run(weight):
        settings = TrainSettings(steps=300, lr=1e-3, device="cpu", qat_steps=150,
                                 qat_eval_every=5, qat_consistency=weight)
        model, quant, r = train_image(camera32, cfg, settings, progress=False)
        assert r["qat_consistency"] == weight
        f = np.rint(render_fp32(model, 32, 32) * 255)
        return r["psnr_fp32"] - r["psnr_int8"], np.mean((f - render_int8(quant, 32, 32)) ** 2)

    gap_off, dis_off = run(0.0)
    gap_on, dis_on = run(1000.0)
    assert gap_off > 2.0 and abs(gap_on) <= 1.0
    assert dis_on < 0.8 * dis_off


def test_the_disagreement_weight_follows_what_the_model_is_for():
    # Both datapaths of a dual (or FP32-kept) model must agree: weight 100, as the committed
    # sweeps were trained. An INT8-only model trains with a weak pull (1) unless told.
    assert TrainSettings(device="cpu").qat_consistency == 100.0
    assert TrainSettings(device="cpu", keep="fp32").qat_consistency == 100.0
    assert TrainSettings(device="cpu", keep="int8").qat_consistency == 1.0
    assert TrainSettings(device="cpu", keep="int8", qat_consistency=100).qat_consistency == 100.0
    assert TrainSettings(device="cpu", qat_consistency=0).qat_consistency == 0.0


def test_a_constant_learning_rate_for_the_quantization_aware_steps(camera32, monkeypatch):
    # Every optimiser step's rate: the cosine through the float steps, then --qat-lr.
    seen = []
    step = torch.optim.Adam.step

    def record(opt, *args, **kwargs):
        seen.append(opt.param_groups[0]["lr"])
        return step(opt, *args, **kwargs)
    monkeypatch.setattr(torch.optim.Adam, "step", record)
    cfg = PatchINRConfig(patch=2, channels=1, hidden=8, layers=1)
    settings = TrainSettings(steps=20, lr=1e-3, device="cpu", qat_steps=5, qat_lr=2e-7)
    fit(camera32, cfg, settings, progress=False)
    assert seen[:15] == [lr_at(i, settings) for i in range(15)]
    assert seen[15:] == [2e-7] * 5
    assert TrainSettings(steps=20, device="cpu").qat_lr is None


def test_the_spike_guard_clips_to_a_multiple_of_the_running_mean_norm(camera32):
    # Hand-set gradients of known norm through the guard (factor 2): the first sets the
    # running mean (unclipped); one 10x as large is cut to twice the mean, and the mean
    # moves by 5 % of the clipped norm; a small one passes untouched.
    from model.training import GRAD_EMA, Samples, _Fit
    cfg = PatchINRConfig(patch=2, channels=1, hidden=8, layers=1)
    f = _Fit(Samples.image(camera32, 2), cfg,
             TrainSettings(steps=4, device="cpu", clip_grad=2.0), None, None, None)
    params = list(f.model.parameters())
    count = sum(p.numel() for p in params)

    def step(value):
        for p in params:
            p.grad = torch.full_like(p, value)
        f._clip()
        return math.sqrt(sum(float((p.grad ** 2).sum()) for p in params))
    unit = math.sqrt(count)                        # the norm of all-ones gradients
    assert step(1.0) == pytest.approx(unit)
    assert f.grad_mean == pytest.approx(unit)
    assert step(10.0) == pytest.approx(2 * unit, rel=1e-5)
    assert all(torch.allclose(p.grad, torch.full_like(p, 2.0)) for p in params)
    assert f.grad_mean == pytest.approx((GRAD_EMA + (1 - GRAD_EMA) * 2) * unit)
    mean = f.grad_mean
    assert step(0.5) == pytest.approx(0.5 * unit)
    assert f.grad_mean == pytest.approx(GRAD_EMA * mean + (1 - GRAD_EMA) * 0.5 * unit)
    assert GRAD_EMA == 0.95


def test_the_spike_guard_is_off_by_default_and_changes_the_fit_when_on(camera32):
    cfg = PatchINRConfig(patch=2, channels=1, hidden=8, layers=1)
    off = TrainSettings(steps=6, device="cpu", qat_steps=0)
    on = TrainSettings(steps=6, device="cpu", qat_steps=0, clip_grad=1.0)
    assert off.clip_grad is None
    a, _, _ = fit(camera32, cfg, off, progress=False)
    b, _, _ = fit(camera32, cfg, on, progress=False)
    # Factor 1 holds every step after the first to the running mean, which falls behind
    # the large early gradients, so the weights differ from an unguarded run's.
    assert any(not torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                       b.state_dict().values()))


def _spiking_adam(monkeypatch, at):
    """Adam whose update number ``at`` (0-based: the step's) is followed by a blow to the
    weights, as a loss spike would deal them; every update's rate and the weights it
    started from are recorded."""
    calls = []
    real = torch.optim.Adam.step
    blow = torch.Generator().manual_seed(7)

    def step(opt, *args, **kwargs):
        params = [p for g in opt.param_groups for p in g["params"]]
        calls.append((opt.param_groups[0]["lr"], [p.detach().clone() for p in params]))
        out = real(opt, *args, **kwargs)
        if len(calls) == at + 1:
            with torch.no_grad():
                for p in params:
                    p.add_(3 * torch.randn(p.shape, generator=blow))
        return out
    monkeypatch.setattr(torch.optim.Adam, "step", step)
    return calls


def test_the_rewind_guard_goes_back_to_the_best_step_and_halves_the_rate(camera32,
                                                                          monkeypatch):
    cfg = PatchINRConfig(patch=2, channels=1, hidden=16, layers=2)
    plain = TrainSettings(steps=80, lr=1e-3, seed=2, device="cpu", qat_steps=0)
    guarded = TrainSettings(steps=80, lr=1e-3, seed=2, device="cpu", qat_steps=0, rewind=3.0)
    _spiking_adam(monkeypatch, at=30)
    _, _, hurt = fit(camera32, cfg, plain, progress=False)
    before = max(p for s, p in hurt["history"] if s <= 30)
    # Unguarded, the blow after step 30 leaves the fit far below where it was.
    assert max(p for s, p in hurt["history"] if s > 30) < before - 3
    assert hurt["rewinds"] == []
    calls = _spiking_adam(monkeypatch, at=30)
    _, _, info = fit(camera32, cfg, guarded, progress=False)
    # Step 31 sees the blow: the weights and Adam's state go back to step 30's (the best
    # loss so far, measured before its update), step 31 makes no update, and every step
    # after it runs at half the schedule's rate.
    assert info["rewinds"] == [(31, 30, 0.5)]
    assert len(calls) == 79
    assert all(torch.equal(a, b) for a, b in zip(calls[31][1], calls[30][1]))
    assert [lr for lr, _ in calls[:31]] == [lr_at(i, guarded) for i in range(31)]
    assert [lr for lr, _ in calls[31:]] == [lr_at(i, guarded) * 0.5 for i in range(32, 80)]
    assert min(p for s, p in info["history"] if s > 31) > before - 3
    assert info["history"][-1][1] > hurt["history"][-1][1] + 3


def test_a_rewind_guard_that_never_fires_changes_nothing(camera32):
    cfg = PatchINRConfig(patch=2, channels=1, hidden=16, layers=2)
    off = TrainSettings(steps=40, lr=1e-3, seed=2, device="cpu", qat_steps=10)
    on = TrainSettings(steps=40, lr=1e-3, seed=2, device="cpu", qat_steps=10, rewind=1000)
    assert off.rewind is None
    a, a_pre, a_info = fit(camera32, cfg, off, progress=False)
    b, b_pre, b_info = fit(camera32, cfg, on, progress=False)
    assert b_info["rewinds"] == [] and a_info["history"] == b_info["history"]
    for x, y in ((a, b), (a_pre, b_pre)):
        assert all(torch.equal(u, v) for u, v in zip(x.state_dict().values(),
                                                      y.state_dict().values()))


def test_default_quantization_aware_steps_are_the_last_quarter():
    assert TrainSettings(steps=2000, device="cpu").qat_steps == 500
    assert TrainSettings(steps=3, device="cpu").qat_steps == 0


# Settings ----------------------------------------------------------------------------------

def test_learning_rate_schedules():
    s = TrainSettings(steps=100, lr=1e-3, warmup=10, device="cpu")
    lrs = [lr_at(i, s) for i in range(100)]
    assert lrs[:10] == pytest.approx([1e-3 * (i + 1) / 10 for i in range(10)])
    assert lrs[10] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))            # cosine: decreasing
    assert 1e-5 <= min(lrs[10:]) < 1.1e-5                              # down to lr / 100
    # halfway through the cosine: lr/100 + (lr - lr/100) / 2
    assert lr_at(55, s) == pytest.approx(1e-5 + (1e-3 - 1e-5) / 2)
    c = TrainSettings(steps=50, lr=1e-4, schedule="constant", device="cpu")
    assert {lr_at(i, c) for i in range(50)} == {1e-4}


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 0}, "steps must be a positive integer"),
    ({"steps": -5}, "steps"),
    ({"steps": 2.5}, "steps"),
    ({"steps": True}, "steps"),
    ({"lr": 0}, "learning rate"),
    ({"lr": -1e-3}, "learning rate"),
    ({"lr": math.nan}, "learning rate"),
    ({"lr": math.inf}, "learning rate"),
    ({"warmup": -1}, "warm-up"),
    ({"qat_steps": -1}, "QAT steps"),
    ({"steps": 30, "qat_steps": 30}, "must be fewer than steps"),
    ({"qat_batch": 0}, "QAT batch"),
    ({"qat_consistency": -1.0}, "QAT consistency weight"),
    ({"steps": 10, "warmup": 10}, "warm-up steps \\(10\\) must be fewer than steps"),
    ({"qat_consistency": math.nan}, "QAT consistency weight"),
    ({"qat_lr": 0}, "QAT learning rate"),
    ({"qat_lr": math.inf}, "QAT learning rate"),
    ({"clip_grad": 0.5}, "gradient clip factor must be at least 1"),
    ({"clip_grad": 0}, "gradient clip factor"),
    ({"clip_grad": math.nan}, "gradient clip factor"),
    ({"rewind": 0}, "rewind threshold"),
    ({"rewind": -3}, "rewind threshold"),
    ({"rewind": math.nan}, "rewind threshold"),
    ({"rewind": math.inf}, "rewind threshold"),
    ({"schedule": "linear"}, "unknown learning-rate schedule 'linear'"),
    ({"device": "tpu"}, "unknown device 'tpu'"),
])
def test_settings_validation(kwargs, message):
    with pytest.raises(UserError, match=message):
        TrainSettings(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_settings_cuda_without_gpu():
    with pytest.raises(UserError, match="no CUDA GPU"):
        TrainSettings(device="cuda")
    assert TrainSettings(device="auto").device.type == "cpu"


# Command line: bad input -------------------------------------------------------------------

def run_main(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("model.train: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


TINY = ["--hidden", "4", "--layers", "1", "--quiet", "--device", "cpu"]


@pytest.fixture(scope="module")
def bad_images(tmp_path_factory):
    d = tmp_path_factory.mktemp("images")
    (d / "notes.txt").write_text("this is not an image\n")
    y, x = np.mgrid[0:32, 0:32]
    Image.fromarray(((x * 7 + y * 5) % 256).astype(np.uint8)).save(d / "full.png")
    blob = (d / "full.png").read_bytes()
    (d / "cut.png").write_bytes(blob[:len(blob) // 2])
    return d


@pytest.mark.parametrize("args, fragments", [
    (["--image", "no_such_image"], ["unknown image 'no_such_image'"]),
    (["--image", "camera", "--patch", "0"], ["patch size must be a positive integer, not 0"]),
    (["--image", "camera", "--patch", "-2"], ["patch size"]),
    (["--image", "camera", "--size", "15", "--patch", "2"], ["15x15", "not divisible", "patch size 2"]),
    (["--image", "camera", "--size", "16x12", "--patch", "8"], ["16x12", "not divisible"]),
    (["--image", "camera", "--steps", "0"], ["steps must be a positive integer, not 0"]),
    (["--image", "camera", "--steps", "-10"], ["steps"]),
    (["--image", "camera", "--hidden", "0"], ["hidden width"]),
    (["--image", "camera", "--omega0", "-1"], ["omega0"]),
    (["--image", "camera", "--qat-steps", "-1"], ["QAT steps"]),
    (["--image", "camera", "--qat-consistency", "-1"], ["QAT consistency weight"]),
    (["--image", "camera", "--lr", "nan"], ["learning rate"]),
])
def test_cli_bad_arguments(capsys, args, fragments):
    # later flags win: the case's own --size or --hidden replaces the default
    code, out, err = run_main(capsys, ["--size", "16", *TINY, *args])
    assert_one_line_error(code, err, *fragments)


@pytest.mark.parametrize("name", ["notes.txt", "cut.png"])
def test_cli_unreadable_image(capsys, bad_images, name):
    path = str(bad_images / name)
    code, out, err = run_main(capsys, ["--image", path, "--size", "16"] + TINY)
    assert_one_line_error(code, err, "cannot read image", name)


def test_cli_image_is_directory(capsys, tmp_path):
    code, out, err = run_main(capsys, ["--image", str(tmp_path), "--size", "16"] + TINY)
    assert_one_line_error(code, err, "is a directory")


@pytest.mark.parametrize("flag", ["--out", "--json"])
def test_cli_output_is_directory(capsys, tmp_path, flag):
    code, out, err = run_main(capsys, ["--image", "camera", "--size", "16", flag, str(tmp_path)] + TINY)
    assert_one_line_error(code, err, "is a directory", str(tmp_path))


def python_m_train(args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "model.train", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_subprocess_error(bad_images):
    # end to end: the exit status and stderr of a real process, no traceback
    proc = python_m_train(["--image", str(bad_images / "cut.png"), "--size", "16", "--quiet"],
                          cwd=ROOT)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("model.train: error: cannot read image"), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


# Command line: a good run ------------------------------------------------------------------

def test_cli_tiny_run(capsys, tmp_path):
    out_path, json_path = tmp_path / "m" / "model.npz", tmp_path / "r" / "results.json"
    prefix = tmp_path / "png" / "cam"
    code, out, err = run_main(capsys, [
        "--image", "camera", "--size", "16", "--patch", "2", "--hidden", "8", "--layers", "2",
        "--steps", "40", "--lr", "2e-3", "--qat-steps", "0", "--quiet", "--device", "cpu",
        "--out", str(out_path), "--json", str(json_path), "--png", str(prefix)])
    assert code == 0, err
    assert "FP32" in out and "INT8" in out and "Traceback" not in err

    results = json.loads(json_path.read_text())
    for key in ("psnr_fp32", "psnr_int8", "params", "param_overhead", "steps", "train_seconds"):
        assert key in results, key
    # 2->8, 8->8, 8->4 (n = 2 grayscale) against 8->1 for n = 1
    params = (2 * 8 + 8) + (8 * 8 + 8) + (8 * 4 + 4)
    base = (2 * 8 + 8) + (8 * 8 + 8) + (8 * 1 + 1)
    assert results["params"] == params
    assert results["param_overhead"] == pytest.approx((params - base) / base)
    assert results["steps"] == 40
    assert 0 < results["train_seconds"] < 60
    assert 10 < results["psnr_fp32"] < 60 and 10 < results["psnr_int8"] < 60
    assert abs(results["psnr_fp32"] - results["psnr_int8"]) < 3
    assert (results["width"], results["height"], results["patch"]) == (16, 16, 2)

    mf = export.load(out_path)
    assert mf.config == PatchINRConfig(patch=2, channels=1, hidden=8, layers=2)
    assert mf.meta["image"] == "camera" and mf.meta["steps"] == 40
    assert mf.meta["psnr_int8"] == pytest.approx(results["psnr_int8"])

    target = load_image("camera", size=16)
    int8_png = np.asarray(Image.open(f"{prefix}_int8.png"))
    fp32_png = np.asarray(Image.open(f"{prefix}_fp32.png"))
    assert int8_png.shape == fp32_png.shape == (16, 16)
    # the files show what the model file renders, and score what the JSON says
    assert np.array_equal(int8_png, render_int8(mf.quant, 16, 16)[:, :, 0])
    assert np.array_equal(fp32_png, to_uint8(render_fp32(mf.torch_model(), 16, 16))[:, :, 0])
    assert score(target, int8_png[:, :, None])["psnr"] == pytest.approx(results["psnr_int8"])


def test_divergence_is_one_user_error_with_the_advice():
    from model.training import _finite
    with pytest.raises(UserError, match=r"training diverged at step 7 \(loss nan\): lower the "
                                        r"learning rate \(--lr\) or omega0 \(--omega0\)"):
        _finite(torch.tensor(float("nan")), 7)


# -- video ---------------------------------------------------------------------------------

def _moving_clip(frames=4, size=8):
    # A bright bar that moves one pixel per frame: t matters.
    clip = np.zeros((frames, size, size, 1), dtype=np.float32)
    for f in range(frames):
        clip[f, :, f % size] = 1.0
        clip[f] += np.linspace(0, 0.5, size)[None, :, None]
    return np.clip(clip, 0, 1)


def test_clip_fit_uses_time_and_int8_equals_the_fake_quantized_model():
    from model.quant import FakeQuantPatchINR, int_forward
    from model.training import train_clip
    from model.video import clip_coords_q
    clip = _moving_clip()
    cfg = PatchINRConfig(patch=2, channels=1, hidden=16, layers=2, coords=3)
    settings = TrainSettings(steps=150, lr=1e-3, qat_steps=30, qat_eval_every=10, batch=40)
    model, quant, res = train_clip(clip, cfg, settings, progress=False, video_name="bar")
    assert res["frames"] == 4 and len(res["psnr_int8_frames"]) == 4
    assert res["psnr_fp32"] == pytest.approx(np.mean(res["psnr_fp32_frames"]))
    assert res["queries_per_frame"] == 16 and res["batch"] == 40
    # Better than the best single image for every frame: the network tells frames apart.
    mean_frame = clip.mean(axis=0)
    best_static = np.mean([score(f, mean_frame)["psnr"] for f in clip])
    assert res["psnr_fp32"] > best_static + 3
    coords_q = clip_coords_q(4, 4, 4)
    with torch.no_grad():
        fq = FakeQuantPatchINR(model)(torch.as_tensor(coords_q.astype(np.int64))).numpy()
    assert np.array_equal(int_forward(quant, coords_q), fq.astype(np.uint8))


def test_image_and_video_configurations_are_not_mixed(camera32):
    from model.training import fit_clip
    video = PatchINRConfig(patch=2, channels=1, hidden=4, layers=1, coords=3)
    image = PatchINRConfig(patch=2, channels=1, hidden=4, layers=1)
    settings = TrainSettings(steps=2, qat_steps=0)
    with pytest.raises(UserError, match="fitted to a clip, not an image"):
        fit(camera32, video, settings, progress=False)
    with pytest.raises(UserError, match="fitted to an image, not a clip"):
        fit_clip(_moving_clip(), image, settings, progress=False)


def test_cli_video_run(capsys, tmp_path):
    out, js, png = tmp_path / "clip.npz", tmp_path / "clip.json", tmp_path / "clip"
    rc = main(["--video", "bikes", "--size", "8", "--frames", "3", "--frame-step", "2",
               "--patch", "2", "--hidden", "8", "--layers", "1", "--steps", "6",
               "--out", str(out), "--json", str(js), "--png", str(png), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    mf = export.load(out)
    assert mf.config.coords == 3 and mf.config.channels == 3
    assert mf.meta["video"] == "bikes" and mf.meta["frames"] == 3 and mf.meta["frame_step"] == 2
    res = json.loads(js.read_text())
    assert res["frames"] == 3 and res["batch"] == 65536
    assert Image.open(f"{png}_int8.png").size == (3 * 8 + 2 * 2, 8)
    assert "bikes 8x8x3 n=2" in capsys.readouterr().out


@pytest.mark.parametrize("point, collapsed", [
    ("astronaut_256_p8", True), ("coffee_256_p16", True),
    ("camera_256_p8", False), ("astronaut_256_p1", False)])
def test_a_collapsed_float_phase_is_reported(point, collapsed, capsys):
    # The committed sweep's histories: astronaut n = 8 and coffee n = 16 fell to about the
    # image's mean colour in their float phases and stayed (docs/results.md); camera n = 8
    # and astronaut n = 1 did not.
    from model.train import _warn_if_collapsed
    results = json.loads((ROOT / "docs" / "results" / "points" / f"{point}.json").read_text())
    _warn_if_collapsed(results)
    err = capsys.readouterr().err
    assert ("collapsed; --rewind 3 guards against it" in err) == collapsed
    assert err.count("\n") == int(collapsed)
