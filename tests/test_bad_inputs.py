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
from tests.bad_inputs import CASES, prepare, run_case
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


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("argv", [
    ["model.train", "--image", "camera", "--size", "128", "--steps", "5000",
     "--out", "{out}/m.npz", "--json", "{out}/m.json"],
    ["accel.sim", "--weights", str(FIXTURES / "camera24_p2.npz"), "--size", "24x24",
     "--out", "{out}/m.png", "--json", "{out}/m.json"],
], ids=["train", "sim"])
def test_interrupt_stops_cleanly_and_keeps_earlier_outputs(argv, tmp_path):
    shutil.copy(FIXTURES / "camera24_p2.npz", tmp_path / "m.npz")
    (tmp_path / "m.json").write_text('{"earlier": true}\n')
    (tmp_path / "m.png").write_bytes(b"an earlier picture")
    before = {p.name: _digest(p) for p in tmp_path.iterdir()}
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    # SIGINT restored in the child: a suite started in the background of a non-interactive
    # shell inherits it ignored, and Python then leaves it ignored.
    proc = subprocess.Popen([sys.executable, "-m", *[a.format(out=tmp_path) for a in argv]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Interrupt once the work is under way: its progress bar is on stderr.
    os.set_blocking(proc.stderr.fileno(), False)
    err = b""
    deadline = time.monotonic() + 120
    while b"it/s" not in err and b"px/s" not in err and b"s/it" not in err:
        assert proc.poll() is None and time.monotonic() < deadline, err[-2000:]
        err += proc.stderr.read() or b""
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    os.set_blocking(proc.stderr.fileno(), True)
    rest = proc.communicate(timeout=60)[1]
    text = (err + rest).decode(errors="replace")
    assert proc.returncode == 130, text[-2000:]
    assert "Traceback" not in text and "Exception ignored" not in text, text[-2000:]
    lines = [part.strip() for line in text.splitlines() for part in line.split("\r")]
    assert [line for line in lines if line][-1] == f"{argv[0]}: interrupted", text[-500:]
    assert {p.name: _digest(p) for p in tmp_path.iterdir()} == before
