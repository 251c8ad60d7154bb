"""``patchinr``: one command over the registry, the same code as the module forms."""

import json
import os
import subprocess
import sys

import pytest

from accel.cli.patchinr import main as patchinr_main
from accel.cli.registry import COMMANDS, by_name
from tests.paths import FIXTURES, ROOT


def test_help_lists_every_command_of_the_registry(capsys):
    assert patchinr_main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert f"  {command.name} " in out and f"python -m {command.entry}" in out


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_every_command_has_a_parser_and_a_main(command):
    module = command.load()
    assert callable(module.main)
    parser = command.parser()
    assert parser.prog == f"patchinr {command.name}"
    assert parser.format_help().startswith(f"usage: patchinr {command.name}")


def test_every_module_form_runs_the_registry_command():
    # `python -m ENTRY` must exist for every command (the documented module forms).
    import importlib.util
    for command in COMMANDS:
        assert importlib.util.find_spec(command.entry) is not None, command.entry
    assert by_name("no-such-command") is None


def _run(argv, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_patchinr_build_and_python_m_accel_build_write_the_same_files(tmp_path):
    args = ["--weights", str(FIXTURES / "camera24_p2.npz"), "--array", "4x4", "--batch", "8",
            "--size", "24x24", "--no-synth"]
    a = _run(["accel.cli.patchinr", "build", *args, "--out", "a"], tmp_path)
    b = _run(["accel.build", *args, "--out", "b"], tmp_path)
    assert a.returncode == b.returncode == 0, (a.stderr[-800:], b.stderr[-800:])
    files_a, files_b = sorted(os.listdir(tmp_path / "a")), sorted(os.listdir(tmp_path / "b"))
    assert files_a == files_b and "patchinr_core.v" in files_a
    for name in files_a:
        left, right = (tmp_path / "a" / name).read_bytes(), (tmp_path / "b" / name).read_bytes()
        if name == "report.json":
            left, right = (_without_timing(json.loads(x)) for x in (left, right))
        assert left == right, name
    # The summary, apart from the output folder and the seconds.
    assert a.stdout.replace("-> a", "").split("wrote")[0] == \
        b.stdout.replace("-> b", "").split("wrote")[0]


def _without_timing(report):
    report = dict(report)
    report.pop("seconds", None)
    return report
