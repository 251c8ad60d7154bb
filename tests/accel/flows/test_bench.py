"""The benchmark sweep (accel/bench.py): a reduced sweep end to end, resume, bad input."""

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from accel.cli.bench import main as bench_main
from accel.config import CLOCK_HZ
from accel.flows import bench
from model.support.errors import UserError


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    out, results = root / "work", root / "results"
    argv = ["--images", "camera", "--size", "64", "--patches", "1,2", "--steps", "15",
            "--no-synth", "--quiet", "--device", "cpu", "--out", str(out), "--results",
            str(results), "--sequential", "--cpus-per-point", "2"]
    assert bench_main(argv) == 0
    with open(results / "results.json") as f:
        return out, results, argv, json.load(f)


def test_reduced_sweep_results(sweep):
    _, results, _, data = sweep
    points = {p["patch"]: p for p in data["points"]}
    assert sorted(points) == [1, 2]
    for p in points.values():
        assert set(bench.POINT_KEYS) <= set(p)
        assert p["image"] == "camera" and p["size"] == 64 and p["channels"] == 1
        # 15 steps fit the coarse structure only: well above noise, far below a fit.
        assert 12.0 < p["psnr_fp32"] < 40.0
        assert abs(p["psnr_int8"] - p["psnr_fp32"]) < 1.0
        assert 0.0 < p["ssim_fp32"] <= 1.0
        assert p["seconds_per_step"] > 0 and p["cpu_fps"] > 0
        assert 0.0 < p["pe_utilization"] <= 1.0
        assert p["clock_hz"] == CLOCK_HZ
        assert p["fps"] == pytest.approx(p["clock_hz"] / p["cycles_per_frame"])
        assert p["speedup_vs_cpu"] == pytest.approx(p["fps"] / p["cpu_fps"])
        assert p["resources"] is None                  # --no-synth
    assert points[1]["param_overhead"] == 0.0
    # n = 2 adds 3 outputs to the last layer: 3 * (hidden + 1) parameters.
    hidden = data["sweep"]["hidden"]
    assert points[2]["params"] - points[1]["params"] == 3 * (hidden + 1)
    assert points[1]["latency_reduction_vs_n1"] == 0.0
    # A quarter of the queries, a slightly wider last layer: most of the ideal 75 % remains.
    assert 0.5 < points[2]["latency_reduction_vs_n1"] < 0.75
    assert data["machine"]["cores"] >= 1


def test_reduced_sweep_writes_readable_tables_and_plots(sweep):
    _, results, _, data = sweep
    rows = (results / "results.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + len(data["points"])
    assert rows[0].startswith("image,size,channels,patch")
    assert (results / "results.md").read_text().count("\n| camera |") == len(data["points"])
    for name in ("psnr_vs_patch.png", "latency_vs_patch.png", "resources_vs_patch.png",
                 "strip.png"):
        with Image.open(results / name) as im:
            im.verify()
            assert im.size[0] > 200 and im.size[1] > 200


def test_resume_skips_finished_points(sweep):
    out, results, argv, _ = sweep
    point = results / "points" / "camera_64_p1.json"
    before = os.stat(point).st_mtime_ns
    assert bench_main(argv[:argv.index("--no-synth")] + ["--stage", "train", "--quiet",
                                                         "--device", "cpu", "--out", str(out),
                                                         "--results", str(results)]) == 0
    assert os.stat(point).st_mtime_ns == before


@pytest.mark.parametrize("argv, message", [
    (["--images", "no_such_image"], "unknown image"),
    (["--patches", "0"], "positive"),
    (["--patches", "two"], "comma-separated integers"),
    (["--size", "30", "--patches", "4"], "not a multiple"),
    (["--steps", "0"], "steps must be a positive"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys):
    assert bench_main(argv + ["--out", str(tmp_path), "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_report_before_training_says_what_is_missing(tmp_path, capsys):
    argv = ["--images", "camera", "--size", "32", "--patches", "2", "--steps", "5", "--stage",
            "report", "--no-synth", "--out", str(tmp_path), "--results", str(tmp_path)]
    assert bench_main(argv) == 2
    assert "not trained yet: camera_32_p2" in capsys.readouterr().err


def test_status_says_where_each_point_stands(sweep, tmp_path, capsys):
    """Done points, a point stopped at step 6 of 15, one not started, and the same
    checkpoint under another recipe: each its own line, from the files alone."""
    import signal
    from model.data import load_image
    from model.training import fit
    _, results, _, data = sweep
    work = tmp_path / "work"
    argv = ["--images", "camera", "--size", "64", "--patches", "1,2,4,8", "--steps", "15",
            "--out", str(work), "--results", str(results), "--stage", "status"]
    spec = bench.SweepSpec(images=["camera"], patches=[4], size=64, steps=15)

    def stop_after(step):
        def on_step(done):
            if done == step:
                signal.raise_signal(signal.SIGINT)
        return on_step
    with pytest.raises(KeyboardInterrupt):
        fit(load_image("camera", size=64), spec.config("camera", 4), spec.settings("cpu"),
            progress=False, on_step=stop_after(5),
            checkpoint=bench.point_checkpoint(str(work), spec.key("camera", 4)))
    assert bench_main(argv) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 4
    psnr = {p["patch"]: p["psnr_int8"] for p in data["points"]}
    assert lines[0].split() == ["camera", "n=1", "done:", "FP32", lines[0].split()[4], "dB,",
                                "INT8", f"{psnr[1]:.2f}", "dB"]
    assert f"INT8 {psnr[2]:.2f} dB" in lines[1]
    assert "n=4  under way: step 6 of 15 (40 %)" in lines[2]
    assert "training PSNR" in lines[2] and "to go at" in lines[2]
    assert "n=8  not trained with this sweep's settings yet" in lines[3]
    assert "4 points: done 2, under way 1, to train 1" in err
    assert str(work / "checkpoints") in err
    # Under another recipe the same checkpoint would be started over: said, not resumed.
    assert bench_main([*argv, "--clip-grad", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "n=4  its checkpoint is of another recipe (differs in clip_grad)" in lines[2]
    assert "not trained" in lines[0]        # the points of the other recipe do not count
    assert (work / "checkpoints" / "camera_64_p4.ckpt").exists()   # status changes nothing


def test_point_files_of_an_image_path_stay_in_the_points_folder(tmp_path):
    image = tmp_path / "elsewhere" / "my pic.v2.png"
    image.parent.mkdir()
    from PIL import Image
    Image.new("L", (8, 8)).save(image)
    spec = bench.SweepSpec(images=[str(image)], patches=[2], size=8, steps=2)
    key = spec.key(str(image), 2)
    assert key == "my_pic_v2_8_p2"
    assert os.path.dirname(bench._point_path("POINTS", spec, str(image), 2, ".json")) == "POINTS"
    assert os.path.dirname(bench._model_path("OUT", spec, str(image), 2, ".npz")) == \
        os.path.join("OUT", "models")


def test_points_record_their_recipe_and_version(sweep):
    _, results, _, data = sweep
    from model.training import DEFAULT_LR
    for p in data["points"]:
        assert p["recipe"]["peak_lr"] == DEFAULT_LR and p["recipe"]["schedule"] == "cosine"
        assert p["recipe"]["qat_steps"] == p["qat_steps"]
        assert p["package_version"].startswith("0.")
    summary = {r["patch"]: r for r in data["summary"]}
    assert summary[2]["psnr_int8_mean"] == pytest.approx(
        next(p["psnr_int8"] for p in data["points"] if p["patch"] == 2))
    assert summary[2]["psnr_fp32_std"] == 0.0            # one image: no spread


def test_report_regenerates_from_point_files_alone(sweep, tmp_path):
    out, results, argv, data = sweep
    # Only the points folder, as a clean clone has it: no models, no caches.
    import shutil
    shutil.copytree(results / "points", tmp_path / "results" / "points")
    rc = bench_main([*argv[:argv.index("--out")], "--stage", "report", "--out",
                     str(tmp_path / "empty"), "--results", str(tmp_path / "results")])
    assert rc == 0
    again = json.loads((tmp_path / "results" / "results.json").read_text())
    keep = ("psnr_fp32", "psnr_int8", "ssim_fp32", "ssim_int8", "params", "cycles_per_frame")
    assert [{k: p[k] for k in keep} for p in again["points"]] == \
        [{k: p[k] for k in keep} for p in data["points"]]


def test_report_with_missing_points_says_what_is_pending(sweep, tmp_path, capsys):
    out, results, argv, _ = sweep
    import shutil
    shutil.copytree(results / "points", tmp_path / "results" / "points")
    base = [a if a != "1,2" else "1,2,4" for a in argv[:argv.index("--out")]]
    assert bench_main([*base, "--stage", "report", "--require-all", "--out", str(out),
                       "--results", str(tmp_path / "results")]) == 2
    assert "camera_64_p4" in capsys.readouterr().err
    assert bench_main([*base, "--stage", "report", "--out", str(out),
                       "--results", str(tmp_path / "results")]) == 0
    md = (tmp_path / "results" / "results.md").read_text()
    assert "| camera | 4 | not trained with the current recipe yet" in md


def test_video_sweep(tmp_path, capsys):
    # Two clips at 16x16, 3 frames, n in {1, 2}, a tiny network: the points, the table, the
    # plots; a second run trains nothing.
    from accel.config import BUILD, AccelConfig
    from accel.cycles import frame_cycles
    from model.config import PatchINRConfig
    args = ["--videos", "bikes,carphone", "--size", "16", "--frames", "3", "--patches", "1,2",
            "--steps", "3", "--hidden", "8", "--layers", "1", "--out", str(tmp_path / "o"),
            "--results", str(tmp_path / "r"), "--quiet", "--sequential"]
    assert bench_main(args) == 0
    first = capsys.readouterr()
    assert len(re.findall(r"bench: (bikes|carphone)_16x3_p[12]: FP32", first.err)) == 4
    folder = tmp_path / "r" / "video"
    data = json.loads((folder / "video.json").read_text())
    rows = {(p["video"], p["patch"]): p for p in data["points"]}
    assert set(rows) == {(v, n) for v in ("bikes", "carphone") for n in (1, 2)}
    for (video, n), row in rows.items():
        assert len(row["psnr_int8_frames"]) == 3
        assert row["psnr_int8"] == pytest.approx(np.mean(row["psnr_int8_frames"]))
        assert row["queries_per_frame"] == (16 // n) ** 2
        point = json.loads((folder / "points" / f"{video}_16x3_p{n}.json").read_text())
        assert (row["psnr_fp32_pretrain"], row["psnr_int8_ptq"]) == \
            (point["psnr_fp32_pretrain"], point["psnr_int8_ptq"])
        # What trained it, as an image point records.
        assert point["package_version"].startswith("0.")
        assert point["train_machine"]["torch"] == torch.__version__
        assert ("gpu" in point["train_machine"]) == torch.cuda.is_available()
        config = AccelConfig.fitting(
            model=PatchINRConfig(patch=n, channels=3, hidden=8, layers=1, coords=3),
            rows=BUILD.rows, cols=BUILD.cols, batch=BUILD.batch, precision="int8")
        assert row["cycles_per_frame"] == frame_cycles(config, 16, 16, frames=3)["total"] / 3
    assert rows[("bikes", 1)]["psnr_int8_vs_n1"] == 0
    # Every point's convergence curve: a point per step here (3 steps), its seconds growing;
    # the last fifth's gain from step 2 (the last point at or before 80 % of the steps).
    for row in rows.values():
        curve = row["curve"]
        assert [c[0] for c in curve] == [1, 2, 3]
        assert curve[0][1] <= curve[1][1] <= curve[2][1]
        assert row["last_fifth_gain"] == pytest.approx(curve[2][3] - curve[1][3])
    # At equal training time: the clip's fastest run is read at its end, the others at or
    # before the same seconds.
    for video in ("bikes", "carphone"):
        mine = [rows[(video, n)] for n in (1, 2)]
        budget = min(r["curve"][-1][1] for r in mine)
        assert all(r["equal_time"]["seconds"] == budget for r in mine)
        assert any(r["equal_time"]["step"] == 3 for r in mine)
    text = (folder / "video.md").read_text()
    assert "| carphone | 2 |" in text and "At equal training time" in text
    assert "converged" in text
    for name in ("video_psnr_frames.png", "video_convergence.png", "video_strip_bikes.png",
                 "video_strip_carphone.png"):
        assert (folder / name).stat().st_size > 0
    assert bench_main(args) == 0
    again = capsys.readouterr().err
    assert not re.findall(r"bench: \w+_16x3_p\d: FP32", again)
    # Where n = 2 loses, from the model files: each clip's n = 2 against its n = 1, per
    # frame, per position in the patch, and the best head on the model's own features.
    assert bench_main([*args, "--stage", "gap"]) == 0
    gap = json.loads((folder / "gap.json").read_text())
    got = {(r["video"], r["patch"]): r for r in gap["rows"]}
    assert set(got) == set(rows)
    for (video, n), r in got.items():
        for kind in ("fp32", "int8"):
            m = r[kind]
            assert len(m["positions"]) == n * n
            assert m["frame_gap_db"]["min"] <= m["frame_gap_db"]["mean"] <= m["frame_gap_db"]["max"]
            assert (m["gap_db"] == 0) == (n == 1)
            assert set(m["detail"]) == {"flat half", "50-90 %", "90-99 %", "top 1 %"}
        # Least squares over the clip is the best linear head: no worse than the model's
        # (up to the clipping of both to [0, 1]).
        assert r["head_refit_gain_db"] >= -0.05
        # The INT8 loss by rounding: no rounding is the FP32 render, all of them the INT8
        # reference (to the multipliers' own rounding), over the same pixels.
        c = r["rounding"]
        assert c["fp32"] == pytest.approx(r["fp32"]["psnr"], abs=1e-3)
        assert c["all"] == pytest.approx(r["int8"]["psnr"], abs=0.05)
        assert len(c["weights_by_layer"]) == 2
    assert "| carphone | 2 |" in (folder / "gap.md").read_text()
    assert "| bikes | 1 |" in (folder / "gap.md").read_text()      # the rounding table
    # One clip at a time: the other clip's rows stay.
    one = list(args)
    one[one.index("bikes,carphone")] = "bikes"
    assert bench_main([*one, "--stage", "gap"]) == 0
    again_gap = json.loads((folder / "gap.json").read_text())
    assert sorted((r["video"], r["patch"]) for r in again_gap["rows"]) == sorted(got)
    # A sweep wider than what is trained (n = 4 added): --require-all names the missing
    # points; without it the report has a row per missing point with the command that
    # trains it, and the trained rows as before.
    import shutil
    shutil.copytree(folder / "points", tmp_path / "r4" / "video" / "points")
    wide = [*args[:args.index("--out")], "--out", str(tmp_path / "o"),
            "--results", str(tmp_path / "r4"), "--quiet", "--sequential", "--stage", "report"]
    wide[wide.index("1,2")] = "1,2,4"
    assert bench_main([*wide, "--require-all"]) == 2
    err = capsys.readouterr().err
    assert "bikes_16x3_p4, carphone_16x3_p4" in err and "--require-all" in err
    assert bench_main(wide) == 0
    assert "carphone n=4  not trained" in capsys.readouterr().out
    # Where each point stands, from the point files and the checkpoints in OUT/video.
    (tmp_path / "o" / "video" / "checkpoints").mkdir(exist_ok=True)
    (tmp_path / "o" / "video" / "checkpoints" / "bikes_16x3_p4.ckpt").write_bytes(b"cut")
    status = [*wide[:-1], "status"]
    assert bench_main(status) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6
    assert "bikes n=1  done: FP32" in lines[0] and "carphone n=2  done: FP32" in lines[4]
    assert "bikes n=4  checkpoint" in lines[2] and "cannot be read" in lines[2]
    assert "carphone n=4  not trained with this sweep's settings yet" in lines[5]
    wide_data = json.loads((tmp_path / "r4" / "video" / "video.json").read_text())
    assert [(p["video"], p["patch"]) for p in wide_data["pending"]] == \
        [("bikes", 4), ("carphone", 4)]
    assert [p["psnr_int8"] for p in wide_data["points"]] == \
        [p["psnr_int8"] for p in data["points"]]
    table = (tmp_path / "r4" / "video" / "video.md").read_text().split("\n\n")[1].splitlines()
    cells = [len(line.split("|")) for line in table]
    assert len(set(cells)) == 1                     # every row has the header's cells
    row = next(line for line in table if line.startswith("| bikes | 4 |"))
    assert ("not trained with this sweep's settings yet: `python -m accel.bench --videos "
            "bikes --size 16 --frames 3 --patches 4 --steps 3 --hidden 8 --layers 1 "
            "--stage train`") in row
    # n = 4 sits in the table between bikes n = 2 and carphone n = 1.
    order = [line.split("|")[1:3] for line in table if line.startswith("| ") and
             line.split("|")[2].strip().isdigit()]
    assert [(v.strip(), int(n)) for v, n in order] == \
        [(v, n) for v in ("bikes", "carphone") for n in (1, 2, 4)]
    # The report again from the points alone (the model files gone, as on a fresh clone):
    # the same tables, the strips kept as they were and said so.
    shutil.rmtree(tmp_path / "o" / "video" / "models")
    table, strip = (folder / "video.md").read_bytes(), (folder / "video_strip_bikes.png")
    strip_bytes = strip.read_bytes()
    assert bench_main([*args, "--stage", "report"]) == 0
    assert "strip of bikes not redrawn" in capsys.readouterr().err
    assert (folder / "video.md").read_bytes() == table and strip.read_bytes() == strip_bytes
    # The gap needs the model files: one line saying so.
    assert bench_main([*args, "--stage", "gap"]) == 2
    assert "no model file" in capsys.readouterr().err


def test_an_interrupted_sweep_resumes_its_half_trained_point_to_the_same_model(tmp_path):
    """A real Ctrl-C in the middle of a point: the rerun continues that point from its
    checkpoint and ends with the model file an uninterrupted sweep writes."""
    import signal
    import subprocess
    import sys
    import time
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    env = {**os.environ, "PYTHONPATH": root}

    def argv(name):
        return [sys.executable, "-m", "accel.bench", "--images", "camera", "--size", "16",
                "--patches", "2", "--steps", "1000", "--hidden", "16", "--layers", "2",
                "--stage", "train", "--quiet", "--device", "cpu", "--checkpoint-every", "0",
                "--sequential",
                "--out", str(tmp_path / name), "--results", str(tmp_path / name / "results")]
    assert bench_main(argv("whole")[3:]) == 0       # the reference, in this process
    ckpt = tmp_path / "cut" / "checkpoints" / "camera_16_p2.ckpt"
    proc = subprocess.Popen(argv("cut"), env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "the same command resumes it" in err, err
    assert not (tmp_path / "cut" / "results" / "points" / "camera_16_p2.json").exists()
    again = subprocess.run(argv("cut"), env=env, timeout=600, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "resumed at step" in again.stderr
    model = os.path.join("models", "camera_16_p2.npz")
    assert (tmp_path / "cut" / model).read_bytes() == (tmp_path / "whole" / model).read_bytes()
    assert not ckpt.exists()                        # the finished point's checkpoint is gone


def test_convergence_judges_the_float_phase():
    # 100 steps, the last 25 quantization-aware: the float phase gains 0.1 dB over its last
    # fifth (steps 60 to 75); the QAT phase's dip and recovery (to +3 dB) are not counted.
    from accel.flows.video_bench import convergence
    curve = [(s, s / 10, 40.0, 30.0 + (0.1 if s >= 75 else 0.0)) for s in range(0, 80, 5)]
    curve += [(80, 8.0, 30.0, 20.0), (90, 9.0, 32.0, 31.0), (100, 10.0, 33.0, 33.1)]
    assert convergence(curve, 100, 25) == pytest.approx(0.1)
    assert convergence(curve, 100, 0) == pytest.approx(33.1 - 20.0)
    assert convergence(curve[:3], 100, 25) is None          # does not reach the phase's end
    assert convergence(None, 100, 25) is None


def test_spikes_are_falls_of_the_float_phase_and_their_recovery():
    from accel.flows.video_bench import markdown, spikes
    # Noise below the threshold (a 2.5 dB dip) is not a spike; the fall after step 30 (40 to
    # 21 dB) is, lowest 21, back at 40 dB at step 70; a second fall after 90 never recovers
    # before the float phase ends (step 120); the QAT phase's own drop (its history is
    # INT8 PSNR from step 120) is left out.
    hist = [(0, 10.0), (10, 37.5), (20, 35.0), (30, 40.0), (40, 21.0), (50, 30.0),
            (60, 39.9), (70, 40.2), (80, 41.0), (90, 42.0), (100, 30.0), (110, 41.0),
            (120, 20.0), (130, 44.0)]
    found = spikes(hist, 120)
    assert found == [{"step": 30, "before": 40.0, "low": 21.0, "recovered": 70},
                     {"step": 90, "before": 42.0, "low": 30.0, "recovered": None}]
    assert spikes(hist, 120, threshold=20.0) == []
    assert spikes(None, 120) == []
    # A slow fall (1 dB every logged step, none of them past the threshold) is a spike too.
    slow = [(0, 40.0), (10, 39.0), (20, 38.0), (30, 37.0), (40, 36.0), (50, 41.0)]
    assert spikes(slow, 60) == [{"step": 0, "before": 40.0, "low": 36.0, "recovered": 50}]

    class Sweep:
        size, frames, steps, videos, patches = 16, 2, 160, ("bikes",), (2,)
    row = {"video": "bikes", "patch": 2, "psnr_fp32": 40.0, "psnr_int8": 39.0,
           "params": 10, "param_overhead": 0.0, "seconds_per_step": 1.0,
           "queries_per_frame": 64, "cycles_per_frame": 100, "fps": 1.0, "spikes": found}
    table = markdown([row], Sweep)
    assert "| bikes | 2 | 30 | 40.00 dB | 21.00 dB | 70 |" in table
    assert "| bikes | 2 | 90 | 42.00 dB | 30.00 dB | never |" in table
    assert "No loss spikes" in markdown([{**row, "spikes": []}], Sweep)


def test_keep_is_part_of_the_recipe_only_when_not_dual():
    # The committed points were kept for dual builds before the choice existed: the
    # default sweep's recipe is still theirs, and an INT8 sweep's is another (so its points
    # are trained apart from them).
    committed = json.loads((Path(__file__).parents[3] / "docs" / "results" / "points"
                            / "camera_256_p2.json").read_text())
    assert bench.SweepSpec(images=["camera"], patches=[2]).recipe == committed["recipe"]
    int8 = bench.SweepSpec(images=["camera"], patches=[2], keep="int8").recipe
    assert int8 != committed["recipe"] and int8["keep"] == "int8"
    assert int8["qat_consistency"] == 1.0       # an INT8-only model's weaker pull
    with pytest.raises(UserError, match="datapath to keep"):
        bench.SweepSpec(images=["camera"], patches=[2], keep="both")


@pytest.mark.parametrize("knob, value, flag, bad, error", [
    ("clip_grad", 2.0, "--clip-grad 2", 0.5, "gradient clip factor"),
    ("qat_consistency", 10.0, "--qat-consistency 10", -1.0, "QAT consistency weight"),
    ("warmup", 200, "--warmup 200", -1, "warm-up steps"),
    ("rewind", 3.0, "--rewind 3", 0.0, "rewind threshold"),
])
def test_a_recipe_setting_sets_both_sweeps_points_apart(knob, value, flag, bad, error):
    # The committed image points were trained without the spike or rewind guards or a
    # warm-up and at disagreement weight 100: a sweep with any of these changed has a recipe
    # of its own, so its points are trained apart from them, and the command the report
    # gives for a missing point carries the setting.
    committed = json.loads((Path(__file__).parents[3] / "docs" / "results" / "points"
                            / "camera_256_p2.json").read_text())
    assert committed["recipe"].get("clip_grad") is None
    assert committed["recipe"]["qat_consistency"] == 100.0
    assert committed["recipe"]["warmup"] == 0
    assert committed["recipe"].get("rewind") is None
    spec = bench.SweepSpec(images=["camera"], patches=[2], **{knob: value})
    changed = spec.recipe
    assert changed != committed["recipe"] and changed[knob] == value
    assert flag in spec.train_command("camera", 2)
    with pytest.raises(UserError, match=error):
        bench.SweepSpec(images=["camera"], patches=[2], **{knob: bad})
    # Video sweep: a committed 2000-step point is not such a sweep's point, and the command
    # that trains its missing point carries the setting.
    from accel.flows.video_bench import VideoSweep, _point, _train_command
    points = Path(__file__).parents[3] / "docs" / "results" / "video2000" / "video" / "points"
    path = points / "bikes_128x16_p2.json"
    plain = VideoSweep(videos=["bikes"], patches=[2], size=128, frames=16, steps=2000)
    on = VideoSweep(videos=["bikes"], patches=[2], size=128, frames=16, steps=2000,
                    **{knob: value})
    assert getattr(on.settings(), knob) == value
    assert _point(path, plain, "bikes", 2) is not None
    assert _point(path, on, "bikes", 2) is None
    assert flag in _train_command(on, "bikes", 2)
    assert flag.split()[0] not in _train_command(plain, "bikes", 2)
    with pytest.raises(UserError, match=error):
        VideoSweep(videos=["bikes"], patches=[2], **{knob: bad})


def test_the_command_for_a_missing_video_point_survives_a_shell():
    # A clip given as a path with a space: the report's command trains that clip.
    import shlex
    from types import SimpleNamespace

    from accel.flows.video_bench import _train_command
    from model.config import PatchINRConfig
    d = PatchINRConfig()
    sweep = SimpleNamespace(size=16, frames=3, steps=40, seed=0, hidden=d.hidden,
                            layers=d.layers, qat_steps=10, keep="int8", clip_grad=None,
                            qat_consistency=1.0, warmup=0, rewind=None)
    argv = shlex.split(_train_command(sweep, "my clips/a b.gif", 2))
    assert argv[argv.index("--videos") + 1] == "my clips/a b.gif"
    assert argv[argv.index("--keep") + 1] == "int8" and "--hidden" not in argv
    assert argv[-2:] == ["--stage", "train"]


def test_the_command_for_a_missing_image_point_trains_that_sweeps_point():
    # Parsed back by the command line, the report's command builds a sweep with the same
    # recipe, size, steps and seed, for the one image and patch size.
    import shlex

    from accel.cli.bench import build_parser
    spec = bench.SweepSpec(images=["camera"], patches=[4, 8], size=64, steps=300, seed=3,
                           qat_steps=0, keep="int8", clip_grad=2.0, warmup=20, rewind=3.0)
    argv = shlex.split(spec.train_command("camera", 8))
    assert argv[:3] == ["python", "-m", "accel.bench"]
    a = build_parser().parse_args(argv[3:])
    again = bench.SweepSpec(images=a.images.split(","), patches=a.patches, size=a.size,
                            steps=a.steps, seed=a.seed, qat_steps=a.qat_steps, keep=a.keep,
                            clip_grad=a.clip_grad, qat_consistency=a.qat_consistency,
                            warmup=a.warmup, rewind=a.rewind)
    assert (again.images, again.patches, a.stage) == (("camera",), (8,), "train")
    assert (again.size, again.steps, again.seed) == (64, 300, 3)
    assert again.recipe == spec.recipe
