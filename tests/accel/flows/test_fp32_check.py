import numpy as np

from accel.cli.check_fp32 import main
from accel.flows import fp32_check


def test_reports_each_unit(capsys):
    assert main(["--pairs", "40", "--seed", "3", "--units", "mul", "pixel"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:5] for line in lines] == [
        ["mul", "40", "operand", "sets", "0"], ["pixel", "40", "operand", "sets", "0"]]


def test_mismatches_exit_1(capsys, monkeypatch):
    real = fp32_check.reference
    monkeypatch.setattr(fp32_check, "reference", lambda unit, ops: real(unit, ops) ^ np.uint64(1))
    assert main(["--pairs", "10", "--units", "add"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[4] == "10"
    assert "got 0x" in out[1] and "want 0x" in out[1]


def test_bad_arguments(capsys):
    for argv in (["--pairs", "0"], ["--pairs", "many"], ["--units", "div"], ["--seed", "x"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("accel.check_fp32: error: ")
