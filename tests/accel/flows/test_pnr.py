"""The open ECP5 flow: nextpnr's report read back, a tiny configuration placed, routed and
packed to a bitstream, and the command's exit status when a step fails or timing is
missed."""

import json
import os
import stat
import sys

import pytest

from accel.cli.build import main as build_main
from accel.config import AccelConfig
from accel.device import dsp_count
from accel.flows import build as build_mod
from accel.flows.pnr import read_report
from model import export
from tests.accel.models import random_model
from tests.tools import needs_ecp5


def test_report_figures(tmp_path):
    # A report in nextpnr-ecp5's --report shape: one clock, its critical path of a register,
    # a routed net, a LUT, another net and the setup of the capturing register.
    path = [
        {"type": "clk-to-q", "delay": 0.5, "from": {"cell": "a_reg"}, "to": {"cell": "a_reg"}},
        {"type": "routing", "delay": 2.0, "from": {"cell": "a_reg"}, "to": {"cell": "lut"}},
        {"type": "logic", "delay": 0.25, "from": {"cell": "lut"}, "to": {"cell": "lut"}},
        {"type": "routing", "delay": 1.0, "from": {"cell": "lut"}, "to": {"cell": "b_reg"}},
        {"type": "setup", "delay": 0.25, "from": {"cell": "b_reg"}, "to": {"cell": "b_reg"}},
    ]
    report = {"fmax": {"clk": {"achieved": 249.5, "constraint": 100.0}},
              "critical_paths": [{"from": "posedge clk", "to": "posedge clk", "path": path}],
              "utilization": {"TRELLIS_COMB": {"used": 10, "available": 100},
                              "DP16KD": {"used": 0, "available": 56}}}
    (tmp_path / "r.json").write_text(json.dumps(report))
    got = read_report(tmp_path / "r.json")
    assert got["clocks"] == {"clk": {"achieved_mhz": 249.5, "constraint_mhz": 100.0,
                                     "met": True}}
    assert got["critical_path"] == {"clock": "clk", "from": "a_reg", "to": "b_reg",
                                    "delay_ns": 4.0, "logic_ns": 0.75, "routing_ns": 3.0,
                                    "setup_ns": 0.25, "cells": 1}
    assert got["utilization"] == {"TRELLIS_COMB": {"used": 10, "available": 100}}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    mf = random_model(patch=2, channels=1, hidden=4, layers=1, seed=1)
    path = tmp_path_factory.mktemp("model") / "tiny.npz"
    export.save(path, config=mf.config, fp32=mf.fp32, quant=mf.quant, meta={})
    return mf, path


@needs_ecp5
def test_tiny_configuration_to_a_bitstream(tiny_model, tmp_path):
    """A 2x2 array on the ULX3S 12F (about 40 s): Fmax against the 100 MHz constraint, the
    critical path, the utilisation with every multiplier the device model counts, and a
    bitstream that starts with the ECP5 preamble."""
    mf, weights = tiny_model
    report = build_mod.build(board="ulx3s-12f", weights=weights, array=(2, 2), batch=8,
                             size=(8, 8), seed=3, out=tmp_path / "b",
                             progress=lambda line: None)
    pnr = report["pnr"]
    # The placement seed asked for is nextpnr's, and the job that rebuilds it keeps it.
    assert pnr["seed"] == 3 and report["build"]["seed"] == 3
    assert build_mod.BuildConfig.from_dict(report["build"]).seed == 3
    (clock, fmax), = pnr["clocks"].items()
    assert fmax["constraint_mhz"] == 100 and fmax["achieved_mhz"] > 0
    assert fmax["met"] == (fmax["achieved_mhz"] >= 100) == pnr["met"]
    path = pnr["critical_path"]
    assert path["delay_ns"] == pytest.approx(path["logic_ns"] + path["routing_ns"]
                                             + path["setup_ns"], abs=0.02)
    assert path["delay_ns"] == pytest.approx(1000 / fmax["achieved_mhz"], rel=0.02)
    config = AccelConfig(model=mf.config, rows=2, cols=2, batch=8, device="lfe5u-12f",
                         **{f"max_{k}": v for k, v in
                            report["configuration"]["max_frame"].items()})
    assert pnr["utilization"]["MULT18X18D"]["used"] == dsp_count(config)
    assert pnr["utilization"]["EHXPLLL"]["used"] == 1
    bit = (tmp_path / "b" / "top.bit").read_bytes()
    assert b"\xff\xff\xbd\xb3" in bit[:512]            # the ECP5 bitstream preamble
    assert report["configuration"]["part"] == "LFE5U-12F-6BG381C"
    assert "top.bit" in report["files"] and "component.xml" not in report["files"]
    assert report["fps"] == pytest.approx(100e6 / report["cycles_per_frame"])
    text = build_mod.summary(report, tmp_path / "b")
    assert f"{fmax['achieved_mhz']:g} MHz against 100 MHz" in text
    assert f"MULT18X18D {dsp_count(config):,} (" in text and path["from"] in text


def _fake_tool(tmp_path, name, text):
    tool = tmp_path / name
    tool.write_text(f"#!{sys.executable}\nimport sys\nprint({text!r})\nsys.exit(1)\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return str(tool)


@needs_ecp5
def test_a_failing_step_is_one_line_and_exit_1(tiny_model, tmp_path, monkeypatch, capsys):
    # A stand-in nextpnr that fails as a real one does (Yosys runs for real first).
    mf, weights = tiny_model
    monkeypatch.setenv("NEXTPNR_ECP5", _fake_tool(tmp_path, "nextpnr", "ERROR: no such cell"))
    rc = build_main(["--board", "ulx3s-12f", "--weights", str(weights), "--array", "2x2",
                     "--batch", "8", "--size", "8x8", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert rc == 1
    assert "nextpnr-ecp5 failed (exit 1): ERROR: no such cell" in err.splitlines()[-1]
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert report["pnr"]["error"].startswith("nextpnr-ecp5 failed")
    assert not (tmp_path / "b" / "top.bit").exists()


def test_a_missed_clock_is_exit_1(tiny_model, tmp_path, monkeypatch, capsys):
    mf, weights = tiny_model

    def routed(request, *, say):
        return {"clocks": {"accel": {"achieved_mhz": 80.5, "constraint_mhz": 100,
                                     "met": False}},
                "critical_path": None, "utilization": {}, "met": False, "_files": []}
    monkeypatch.setattr(build_mod, "place_and_route", routed)
    rc = build_main(["--board", "ulx3s-12f", "--weights", str(weights), "--array", "2x2",
                     "--batch", "8", "--size", "8x8", "--out", str(tmp_path / "b")])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "timing not met after routing: accel reaches 80.5 MHz of 100" in err.splitlines()[-1]
    # The summary says it too, where a met clock reads "met".
    assert "  timing     after routing: 80.5 MHz against 100 MHz (MISSED)" in out
    assert os.path.exists(tmp_path / "b" / "report.json")
