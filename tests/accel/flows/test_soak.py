"""The soak (:mod:`accel.flows.soak`): a short one on the Amaranth backend passes with every
kind of job, and a core that loses or corrupts a pixel, or never finishes, is caught."""

import json

import numpy as np
import pytest

import accel.flows.soak as soak_mod
from accel.cli.soak import main as soak_main
from accel.flows.simulation import AmaranthTransport
from accel.flows.soak import KINDS, SoakConfig, soak

SHORT = dict(jobs=30, seed=3, backend="amaranth", max_frame=(8, 8), hidden=4, layers=1)


def test_a_short_soak_passes_with_every_kind_of_job():
    report = soak(SoakConfig(**SHORT))
    assert report.ok, report.faults
    assert set(report.kinds) == set(KINDS) and report.jobs == 30
    assert report.mismatches == report.hangs == report.cycle_errors == 0
    assert report.pixels > 0 and report.cycles > 0


class _Faulty(AmaranthTransport):
    """Spoils the 40th pixel it receives (:meth:`spoil`)."""

    def receive(self, count, *, timeout):
        beats = super().receive(count, timeout=timeout)
        before = getattr(self, "_handed", 0)
        self._handed = before + len(beats)
        return self.spoil(beats, 40 - before) if before <= 40 < self._handed else beats


class _Corrupting(_Faulty):
    def spoil(self, beats, i):
        beats = beats.copy()
        beats[i] ^= np.uint64(1)            # one bit of one pixel
        return beats


class _Losing(_Faulty):
    def spoil(self, beats, i):
        return np.delete(beats, i)          # the pixel never arrives


@pytest.mark.parametrize("link, words", [(_Corrupting, "mismatching pixels"),
                                         (_Losing, "no end within its budget")],
                         ids=["corrupted pixel", "lost pixel"])
def test_a_faulty_core_is_caught(monkeypatch, link, words):
    monkeypatch.setattr(soak_mod, "_open", lambda config, build, report: link(build))
    report = soak(SoakConfig(**{**SHORT, "jobs": 8}))
    assert not report.ok
    assert any(words in fault for fault in report.faults), report.faults


def test_the_command_writes_its_report_and_exits_1_on_a_fault(tmp_path, monkeypatch, capsys):
    out = tmp_path / "soak.json"
    assert soak_main(["--backend", "amaranth", "--jobs", "6", "--frame", "8x8", "--quiet",
                      "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["ok"] and report["jobs"] == 6 and report["config"]["max_frame"] == [8, 8]
    monkeypatch.setattr(soak_mod, "_open",
                        lambda config, build, report: _Corrupting(build))
    assert soak_main(["--backend", "amaranth", "--jobs", "8", "--frame", "8x8", "--quiet"]) == 1
    assert "accel.soak: fault: job" in capsys.readouterr().err
