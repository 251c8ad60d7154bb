"""Bad input to every command: one line on stderr, the documented exit status, no file
changed (the table is :mod:`tests.bad_inputs`; ``python -m tests.bad_inputs`` runs all of
it), and interrupts that lose nothing."""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from accel.cli.registry import COMMANDS
from tests.bad_inputs import CASES, DRIVER_CASES, driver_core, prepare, run_case, run_driver_case
from tests.paths import FIXTURES, ROOT

MODULES = sorted({c.module for c in CASES})


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("bad_inputs_template")
    prepare(str(path))
    return path


@pytest.mark.parametrize("module", MODULES)
def test_fast_cases(module, template, tmp_path):
    cases = [c for c in CASES if c.module == module and c.fast]
    assert cases

    def one(case):
        tmp = tmp_path / case.id
        shutil.copytree(template, tmp)
        return case.id, run_case(case, str(tmp))
    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = {cid: p for cid, p in pool.map(one, cases) if p is not None}
    assert not problems, problems


def test_the_table_covers_every_command():
    # Every command of the registry, in its module form, and the one command over them.
    assert set(MODULES) == {c.entry for c in COMMANDS} | {"accel.cli.patchinr"}
    assert len({c.id for c in CASES}) == len(CASES)


def test_driver_cases(template, tmp_path):
    shutil.copytree(template, tmp_path / "driver")
    core = driver_core(str(tmp_path / "driver"))
    problems = {case[0]: p for case in DRIVER_CASES
                if (p := run_driver_case(core, case, str(tmp_path / "driver"))) is not None}
    assert not problems, problems
    # The same core still renders after all of that.
    assert core.render(8, 8).shape == (8, 8, 1)


def test_the_driver_table_covers_every_public_method_that_takes_input():
    import inspect

    from accel.host.driver import PatchINRDriver
    takes_input = {name for name, f in inspect.getmembers(PatchINRDriver, inspect.isfunction)
                   if not name.startswith("_")
                   and len(inspect.signature(f).parameters) > 1}
    assert takes_input and takes_input <= {case[1] for case in DRIVER_CASES}, \
        takes_input - {case[1] for case in DRIVER_CASES}
    assert len({case[0] for case in DRIVER_CASES}) == len(DRIVER_CASES)


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


#: Commands interrupted mid-work: the argv, and what on stderr says the work is under way
#: (a progress bar's rate, a Yosys run, a Verilator compile).
INTERRUPTED = [
    pytest.param(["model.train", "--image", "camera", "--size", "128", "--steps", "5000",
                  "--out", "{out}/m.npz", "--json", "{out}/m.json"], (b"it/s", b"s/it"),
                 id="train"),
    pytest.param(["accel.sim", "--weights", str(FIXTURES / "camera24_p2.npz"), "--size",
                  "24x24", "--out", "{out}/m.png", "--json", "{out}/m.json"],
                 (b"px/s", b"s/px"), id="sim"),
    pytest.param(["accel.sim", "--backend", "verilator", "--weights",
                  str(FIXTURES / "camera24_p2.npz"), "--size", "24x24", "--out",
                  "{out}/m.png"], (b"verilator: compiling",), id="sim-verilator-compile"),
    pytest.param(["accel.build", "--weights", str(FIXTURES / "camera24_p2.npz"), "--array",
                  "4x4", "--batch", "8", "--size", "24x24", "--out", "{out}/build"],
                 (b"waiting for Yosys", b"synth: core"), id="build-yosys"),
]


@pytest.mark.parametrize("argv, markers", INTERRUPTED)
def test_interrupt_stops_cleanly_and_keeps_earlier_outputs(argv, markers, tmp_path):
    """Ctrl-C as a terminal sends it, to the whole process group: exit 130, one line, no
    process of the group left (compilers and Yosys included), earlier outputs as they
    were."""
    shutil.copy(FIXTURES / "camera24_p2.npz", tmp_path / "m.npz")
    (tmp_path / "m.json").write_text('{"earlier": true}\n')
    (tmp_path / "m.png").write_bytes(b"an earlier picture")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "report.json").write_text('{"earlier": true}\n')
    before = _tree(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1",
               PATCHINR_VERILATOR_DIR=str(tmp_path / "verilator-cache"))
    # Its own process group, as a terminal's foreground job; SIGINT restored in the child:
    # a suite started in the background of a non-interactive shell inherits it ignored,
    # and Python then leaves it ignored.
    proc = subprocess.Popen([sys.executable, "-m", *[a.format(out=tmp_path) for a in argv]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.set_blocking(proc.stderr.fileno(), False)
    err = b""
    deadline = time.monotonic() + 180
    while not any(m in err for m in markers):
        assert proc.poll() is None and time.monotonic() < deadline, err[-2000:]
        err += proc.stderr.read() or b""
        time.sleep(0.05)
    time.sleep(0.5)                     # the compiler or Yosys process started by then
    os.killpg(proc.pid, signal.SIGINT)
    os.set_blocking(proc.stderr.fileno(), True)
    rest = proc.communicate(timeout=120)[1]
    text = (err + rest).decode(errors="replace")
    assert proc.returncode == 130, text[-2000:]
    assert "Traceback" not in text and "Exception ignored" not in text, text[-2000:]
    lines = [part.strip() for line in text.splitlines() for part in line.split("\r")]
    assert [line for line in lines if line][-1] == f"{argv[0]}: interrupted", text[-500:]
    deadline = time.monotonic() + 30
    while _group_alive(proc.pid):
        assert time.monotonic() < deadline, "processes of the group outlived the command"
        time.sleep(0.1)
    after = _tree(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before
    # Nothing new but the tools' caches (the Verilator models, Yosys's results and logs in
    # the build's synth/, which a rerun reuses) and training's checkpoint, which an
    # interrupted fit saves so that --resume continues it.
    new = [k for k in after if k not in before
           and not k.startswith(("verilator-cache", "build/synth/"))]
    if argv[0] == "model.train":
        assert new == ["m.npz.ckpt"], new
        assert "--resume continues it" in text
        import torch
        assert torch.load(tmp_path / "m.npz.ckpt", weights_only=True)["step"] > 0
    else:
        assert not new


def _tree(root):
    return {str(p.relative_to(root)): _digest(p) for p in root.rglob("*") if p.is_file()}


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
