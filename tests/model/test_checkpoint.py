"""Training survives interruption: a run stopped by Ctrl-C (in the float phase or the
quantization-aware one) and resumed from its checkpoint ends with the same weights and the
same model file, byte for byte, as a run that was never stopped; and the state kept is the
best for what the model is for (``keep``)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from model import export
from model.config import PatchINRConfig
from model.data import load_image
from model.quant import quantize
from model.support.errors import UserError
from model.training import (Checkpoint, TrainSettings, fit, recipe_fingerprint,
                            train_image)

ROOT = Path(__file__).resolve().parents[2]
CFG = PatchINRConfig(patch=2, channels=1, hidden=16, layers=2)


@pytest.fixture(scope="module")
def camera16():
    return load_image("camera", size=16)


def _settings(**kw):
    return TrainSettings(**{"steps": 60, "seed": 4, "device": "cpu", "qat_eval_every": 7,
                            "qat_batch": 40, **kw})


def _model_bytes(model):
    return export.to_bytes(config=CFG, fp32=model.state_arrays(), quant=quantize(model))


def _interrupt_at(step):
    """An ``on_step`` that sends this process a real SIGINT after ``step``."""
    def on_step(done):
        if done == step:
            signal.raise_signal(signal.SIGINT)
    return on_step


@pytest.mark.parametrize("stop", [10, 44, 58], ids=["float-phase", "qat-phase", "last-steps"])
def test_a_resumed_run_ends_where_an_uninterrupted_one_does(camera16, tmp_path, stop):
    settings = _settings()                         # 45 float steps, 15 quantization-aware
    whole, whole_pre, whole_info = fit(camera16, CFG, settings, progress=False)
    path = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        fit(camera16, CFG, settings, progress=False, on_step=_interrupt_at(stop),
            checkpoint=Checkpoint(path, every=1e9))       # only the interrupt saves
    saved = torch.load(path, weights_only=True)
    assert saved["step"] == stop + 1               # the step under way finished first
    resumed, pre, info = fit(camera16, CFG, settings, progress=False,
                             checkpoint=Checkpoint(path, resume=True))
    assert _model_bytes(resumed) == _model_bytes(whole)
    assert _model_bytes(pre) == _model_bytes(whole_pre)
    assert info["history"] == whole_info["history"]
    # The interrupted run's training seconds are counted once, not lost.
    assert info["train_seconds"] >= saved["seconds"] > 0


def test_a_resumed_clip_run_with_mini_batches_ends_the_same(tmp_path):
    clip = np.random.default_rng(1).random((3, 8, 8, 1), dtype=np.float32)
    cfg = PatchINRConfig(patch=2, channels=1, hidden=8, layers=2, coords=3)
    # With the spike guard on: its running mean is part of the saved state.
    settings = _settings(steps=30, batch=20, clip_grad=1.5)
    from model.training import fit_clip
    whole, _, _ = fit_clip(clip, cfg, settings, progress=False, eval_queries=30)
    path = tmp_path / "clip.ckpt"
    with pytest.raises(KeyboardInterrupt):
        fit_clip(clip, cfg, settings, progress=False, eval_queries=30,
                 on_step=_interrupt_at(5), checkpoint=Checkpoint(path))
    resumed, _, _ = fit_clip(clip, cfg, settings, progress=False, eval_queries=30,
                             checkpoint=Checkpoint(path, resume=True))
    a, b = whole.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_resumed_run_with_a_rewind_ends_the_same(camera16, tmp_path, monkeypatch):
    # The rewind guard's state (the best step's weights and optimiser, the rate's factor,
    # the rewinds so far) is saved: a run stopped after its rewind, or after the blow that
    # causes it and before it, resumes to the same weights and rewinds.
    real = torch.optim.Adam.step
    updates = [0]

    def step(opt, *args, **kwargs):             # a blow to the weights after update 20
        out = real(opt, *args, **kwargs)
        updates[0] += 1
        if updates[0] == 21:
            with torch.no_grad():
                blow = torch.Generator().manual_seed(7)
                for g in opt.param_groups:
                    for p in g["params"]:
                        p.add_(3 * torch.randn(p.shape, generator=blow))
        return out
    monkeypatch.setattr(torch.optim.Adam, "step", step)
    settings = _settings(lr=1e-3, rewind=3.0)
    whole, _, whole_info = fit(camera16, CFG, settings, progress=False)
    assert [r[:2] for r in whole_info["rewinds"]] == [(21, 20)]
    for stop in (20, 30):
        updates[0] = 0
        path = tmp_path / f"run{stop}.ckpt"
        with pytest.raises(KeyboardInterrupt):
            fit(camera16, CFG, settings, progress=False, on_step=_interrupt_at(stop),
                checkpoint=Checkpoint(path, every=1e9))
        updates[0] = 10 ** 6                    # no second blow after the resume
        resumed, _, info = fit(camera16, CFG, settings, progress=False,
                               checkpoint=Checkpoint(path, resume=True))
        assert _model_bytes(resumed) == _model_bytes(whole)
        assert info["rewinds"] == whole_info["rewinds"]


def test_the_command_line_resumes_after_a_real_ctrl_c_to_the_same_file(tmp_path):
    args = [sys.executable, "-m", "model.train", "--image", "camera", "--size", "16",
            "--patch", "2", "--hidden", "16", "--layers", "2", "--steps", "1000",
            "--seed", "2", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    from model.train import main as train_main          # the reference, in this process
    assert train_main(args[3:] + ["--out", str(tmp_path / "whole.npz")]) == 0
    out = tmp_path / "run.npz"
    ckpt = tmp_path / "run.npz.ckpt"              # --out's default checkpoint
    proc = subprocess.Popen(args + ["--out", str(out), "--checkpoint-every", "0"], env=env,
                            cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err and not out.exists()
    assert torch.load(ckpt, weights_only=True)["step"] < 1000
    done = subprocess.run(args + ["--out", str(out), "--resume"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == (tmp_path / "whole.npz").read_bytes()
    assert "resumed at step" in done.stdout


def test_a_checkpoint_of_another_run_is_refused_or_restarted(camera16, tmp_path):
    path = tmp_path / "a.ckpt"
    fit(camera16, CFG, _settings(steps=10), progress=False, checkpoint=Checkpoint(path))
    with pytest.raises(UserError, match="another run .*steps"):
        fit(camera16, CFG, _settings(steps=12), progress=False,
            checkpoint=Checkpoint(path, resume=True))
    # A sweep whose recipe changed starts the point over rather than stopping.
    fresh, _, _ = fit(camera16, CFG, _settings(steps=12), progress=False)
    again, _, _ = fit(camera16, CFG, _settings(steps=12), progress=False,
                      checkpoint=Checkpoint(path, resume=True, restart_other=True))
    assert _model_bytes(again) == _model_bytes(fresh)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot be read"):
        fit(camera16, CFG, _settings(steps=12), progress=False,
            checkpoint=Checkpoint(path, resume=True))


def test_progress_reads_where_a_saved_run_stands(camera16, tmp_path):
    path = tmp_path / "p.ckpt"
    assert Checkpoint(path).progress() is None                  # nothing saved yet
    settings = _settings(curve_every=4)
    with pytest.raises(KeyboardInterrupt):
        fit(camera16, CFG, settings, progress=False, on_step=_interrupt_at(21),
            checkpoint=Checkpoint(path, every=1e9))
    saved = torch.load(path, weights_only=True)
    got = Checkpoint(path).progress(recipe_fingerprint(CFG, settings))
    assert (got["step"], got["steps"], got["differs"]) == (22, 60, [])
    assert got["seconds"] == saved["seconds"] > 0
    assert got["psnr"] == saved["history"][-1][1] and saved["history"][-1][0] == 20
    assert got["curve"][0] == 20                    # the curve's points at steps 4, 8, ... 20
    # Against another recipe: the settings that differ (a sweep would start it over).
    other = recipe_fingerprint(CFG, _settings(curve_every=4, steps=80, qat_steps=15,
                                                clip_grad=2.0))
    assert Checkpoint(path).progress(other)["differs"] == ["clip_grad", "steps"]
    # Resuming it ends where the run would have: progress only read it.
    resumed, _, _ = fit(camera16, CFG, settings, progress=False,
                        checkpoint=Checkpoint(path, resume=True))
    whole, _, _ = fit(camera16, CFG, settings, progress=False)
    assert _model_bytes(resumed) == _model_bytes(whole)
    path.write_bytes(b"cut")
    with pytest.raises(UserError, match="cannot be read"):
        Checkpoint(path).progress()


def test_the_same_model_is_the_same_bytes_and_still_loads(camera16, tmp_path):
    a, _, _ = fit(camera16, CFG, _settings(steps=5), progress=False)
    first = _model_bytes(a)
    time.sleep(2.1)                                # the zip's time stamps have 2 s steps
    assert _model_bytes(a) == first
    (tmp_path / "m.npz").write_bytes(first)
    loaded = export.load(tmp_path / "m.npz")
    assert loaded.config == CFG
    assert np.array_equal(loaded.quant.lut, quantize(a).lut)


@pytest.mark.parametrize("keep", ["int8", "fp32"])
def test_keep_int8_or_fp32_never_keeps_less_than_the_float_phase_gave(camera16, keep):
    _, _, results = train_image(camera16, CFG, _settings(steps=80, keep=keep),
                                progress=False)
    assert results["keep"] == keep
    if keep == "int8":
        assert results["psnr_int8"] >= results["psnr_int8_ptq"] - 1e-9
    else:
        assert results["psnr_fp32"] >= results["psnr_fp32_pretrain"] - 1e-9


def test_keep_must_be_a_datapath():
    with pytest.raises(UserError, match="choose dual, int8 or fp32"):
        TrainSettings(keep="int4")


def test_the_convergence_curve_changes_nothing_it_measures_and_resumes(camera16, tmp_path):
    """Recording the curve leaves the weights bit for bit as they are without it; a run
    interrupted and resumed records the same curve; a point's INT8 figure is the integer
    reference's PSNR for the weights of its step."""
    from model.quant import int_forward
    from model.training import Samples
    plain, _, _ = fit(camera16, CFG, _settings(), progress=False)
    settings = _settings(curve_every=10)
    whole, _, info = fit(camera16, CFG, settings, progress=False)
    assert _model_bytes(whole) == _model_bytes(plain)
    assert [c[0] for c in info["curve"]] == [10, 20, 30, 40, 50, 60]
    assert all(b[1] >= a[1] for a, b in zip(info["curve"], info["curve"][1:]))   # seconds
    path = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        fit(camera16, CFG, settings, progress=False, on_step=_interrupt_at(33),
            checkpoint=Checkpoint(path, every=1e9))
    _, _, resumed = fit(camera16, CFG, settings, progress=False,
                        checkpoint=Checkpoint(path, resume=True))
    assert ([(c[0], c[2], c[3]) for c in resumed["curve"]]
            == [(c[0], c[2], c[3]) for c in info["curve"]])
    # A float-only run ends with the weights of its last step: its last point is their
    # post-training quantization, rendered here by the integer reference.
    model, _, short = fit(camera16, CFG, _settings(steps=40, qat_steps=0, curve_every=40),
                          progress=False)
    samples = Samples.image(camera16, CFG.patch)
    pix = int_forward(quantize(model), samples.coords_q).astype(np.float64)
    want = 10 * np.log10(255.0 ** 2 / np.mean((pix - samples.pixels) ** 2))
    assert short["curve"][-1][0] == 40 and short["curve"][-1][3] == pytest.approx(want)
    with pytest.raises(UserError, match="convergence-curve interval must be a non-negative"):
        _settings(curve_every=-1)
