"""Sweeps and regressions as Ray tasks on a local Ray of 2 CPUs: the same results as one
after another in this process, one dying worker loses only its own point (a rerun trains
just that one), and without Ray the same commands run sequentially."""

import json
import os
import signal
import sys

import pytest

ray = pytest.importorskip("ray", reason="the test extra installs Ray (pip install -e '.[test]')")

from accel.flows import cluster  # noqa: E402
from accel.flows.bench import SweepSpec, train_point, train_points  # noqa: E402
from accel.flows.regress import draw_case, draw_cases, regress  # noqa: E402

#: Point-file keys that differ between two runs of the same point: timings and machines.
RUN_KEYS = {"train_seconds", "seconds_per_step", "train_machine", "package_version"}


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray of 2 CPUs for the module (run_tasks uses a Ray already started)."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    # The tasks below are defined in this test module: send them to the workers by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.shutdown()


def _square_unless_three(x):
    if x == 3:
        raise ValueError("three is refused")
    return x * x


def test_tasks_on_ray_equal_sequential_and_a_failure_is_its_own(local_ray):
    on_ray = sorted((o.item, o.result, o.error) for o in
                    cluster.run_tasks(_square_unless_three, range(5), progress=False,
                                      log=lambda line: None))
    alone = sorted((o.item, o.result, o.error) for o in
                   cluster.run_tasks(_square_unless_three, range(5), sequential=True,
                                     progress=False))
    assert on_ray == alone == [(0, 0, None), (1, 1, None), (2, 4, None),
                               (3, None, "three is refused"), (4, 16, None)]


def _spec():
    return SweepSpec(images=["camera"], patches=[1, 2], size=16, steps=24, hidden=8, layers=1)


def _points(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            point = json.loads((folder / name).read_text())
            out[name] = {k: v for k, v in point.items() if k not in RUN_KEYS}
    return out


def test_a_two_point_sweep_on_ray_equals_the_sequential_one(local_ray, tmp_path):
    spec = _spec()
    quiet = {"progress": False, "log": lambda line: None, "device": "cpu"}
    assert train_points(spec, str(tmp_path / "a"), str(tmp_path / "a" / "points"),
                        sequential=True, **quiet) == []
    assert train_points(spec, str(tmp_path / "b"), str(tmp_path / "b" / "points"),
                        **quiet) == []
    a, b = _points(tmp_path / "a" / "points"), _points(tmp_path / "b" / "points")
    assert sorted(a) == ["camera_16_p1.json", "camera_16_p2.json"]
    assert a == b
    for key in ("camera_16_p1", "camera_16_p2"):
        model = os.path.join("models", key + ".npz")
        assert (tmp_path / "a" / model).read_bytes() == (tmp_path / "b" / model).read_bytes()


def _dies_at_n2(job):
    """A point task whose worker is killed (as by the OOM killer) when it trains n = 2."""
    if job.patch == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return train_point(job)


def test_a_killed_worker_loses_only_its_point_and_a_rerun_trains_just_that(local_ray,
                                                                           tmp_path):
    spec, lines = _spec(), []
    out, points = str(tmp_path / "w"), tmp_path / "w" / "points"
    failed = train_points(spec, out, str(points), device="cpu", progress=False,
                          log=lines.append, task=_dies_at_n2)
    assert failed == ["camera_16_p2"]
    assert any("camera_16_p2 failed: its worker process died" in line for line in lines)
    assert sorted(os.listdir(points)) == ["camera_16_p1.json", "camera_16_p1_int8.png"]
    before = (points / "camera_16_p1.json").stat().st_mtime_ns
    lines.clear()
    assert train_points(spec, out, str(points), device="cpu", progress=False,
                        log=lines.append) == []
    assert lines[0] == "bench: 1 points done, 1 to train"
    assert (points / "camera_16_p2.json").exists()
    assert (points / "camera_16_p1.json").stat().st_mtime_ns == before


def test_a_three_case_regression_on_ray_equals_the_sequential_one(local_ray, tmp_path):
    cases = draw_cases(3, 8, "amaranth")     # small INT8 cases: an ECP5 layout, a clip, stalls
    quiet = {"progress": False, "log": lambda line: None}
    on_ray = regress(cases, workdir=str(tmp_path / "r"), **quiet)
    alone = regress(cases, workdir=str(tmp_path / "s"), sequential=True, **quiet)
    assert on_ray["ran_on"] == "local ray" and alone["ran_on"] == "sequential"
    assert on_ray["passed"] == alone["passed"] == 3

    def verdicts(report):
        return [(r["describe"], r["ok"], r["mismatches"], r["cycles"], r["cycles_model"])
                for r in report["cases"]]
    assert verdicts(on_ray) == verdicts(alone)


def test_without_ray_the_sweep_runs_sequentially(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)          # import ray: ImportError
    from accel.cli.bench import main as bench_main
    argv = ["--images", "camera", "--size", "16", "--patches", "2", "--steps", "5",
            "--hidden", "8", "--layers", "1", "--stage", "train", "--quiet", "--device", "cpu",
            "--out", str(tmp_path), "--results", str(tmp_path / "r")]
    assert bench_main(argv) == 0
    err = capsys.readouterr().err
    assert "Ray is not installed" in err and "running 1 one after another" in err
    assert (tmp_path / "r" / "points" / "camera_16_p2.json").exists()


def test_a_failing_case_names_the_command_that_reruns_it_alone(tmp_path, monkeypatch,
                                                                capsys):
    from accel.cli.regress import main as regress_main
    from accel.flows import regress as flow
    real = flow.run_case

    def wrong_at_case_1(job):            # a fault in one configuration's RTL, as it would show
        rec = real(job)
        if job.case.index == 1:
            rec.update(ok=False, mismatches=3)
        return rec
    monkeypatch.setattr(flow, "run_case", wrong_at_case_1)
    rc = regress_main(["--configs", "2", "--seed", "8", "--backend", "amaranth", "--sequential",
                       "--quiet", "--out", str(tmp_path), "--json", str(tmp_path / "r.json")])
    assert rc == 1
    out = capsys.readouterr().out
    assert "rerun alone with `python -m accel.regress --seed 8 --case 1 --backend amaranth`" in out
    assert "1 of 2 passed" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert [r["ok"] for r in report["cases"]] == [True, False]
    # The case the command reruns is the one that failed.
    assert draw_case(8, 1, "amaranth") == draw_cases(2, 8, "amaranth")[1]
