"""The table of bad inputs every command must answer with one line and its exit status.

Each case runs a command as a user would (``python -m ...`` in a fresh process, in a
scratch folder holding a few prepared files) and checks: the exit status, exactly one line
on stderr that contains the expected words, no traceback, within its time limit, and every
file that existed before the run byte for byte as it was.

``tests/test_bad_inputs.py`` runs the cases marked ``fast`` in the suite; the whole table is
a command::

    python -m tests.bad_inputs            # every case, with a line per case
    python -m tests.bad_inputs --fast     # what the suite runs
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from tests.paths import FIXTURES, ROOT

__all__ = ["Case", "CASES", "prepare", "run_case", "main"]


@dataclass(frozen=True)
class Case:
    id: str
    module: str                 # python -m MODULE
    argv: tuple                 # "{tmp}" is the scratch folder
    message: str                # words the one stderr line must contain
    status: int = 2
    fast: bool = True           # in the suite
    env: dict = field(default_factory=dict)
    timeout: float = 60.0


T = "{tmp}"
TRAIN = ("--image", "camera", "--size", "8", "--steps", "2", "--quiet")
SIM = ("--weights", f"{T}/good.npz", "--size", "4x4", "--quiet")

CASES = [
    # model.train: outputs
    Case("train-out-parent-is-file", "model.train", (*TRAIN, "--out", f"{T}/file/m.npz"),
         "cannot write"),
    Case("train-out-is-dir", "model.train", (*TRAIN, "--out", f"{T}/dir"), "is a directory"),
    Case("train-png-parent-is-file", "model.train", (*TRAIN, "--png", f"{T}/file/p"),
         "cannot write"),
    Case("train-json-full-disk-keeps-model", "model.train",
         (*TRAIN, "--out", f"{T}/prev.npz", "--json", "/dev/full"), "No space left"),
    Case("train-out-is-the-image", "model.train",
         ("--image", f"{T}/pic.png", "--size", "8", "--steps", "2", "--out", f"{T}/pic.png"),
         "also an input"),
    Case("train-same-output-twice", "model.train", (*TRAIN, "--out", f"{T}/a", "--json", f"{T}/a"),
         "the same file"),
    Case("train-video-not-a-video", "model.train",
         ("--video", f"{T}/file", "--size", "8", "--steps", "2", "--quiet"), "cannot read video"),
    Case("train-video-frames-outside", "model.train",
         ("--video", "bikes", "--first-frame", "249", "--frames", "2", "--size", "8", "--steps",
          "2", "--quiet"), "outside the clip"),
    Case("train-frames-for-an-image", "model.train", (*TRAIN, "--frames", "3"),
         "is for --video"),
    # model.train: sizes and numbers
    Case("train-size-huge", "model.train", ("--image", "camera", "--size", "100000"),
         "exceeds the limit of 32,767"),
    Case("train-hidden-huge", "model.train", (*TRAIN, "--hidden", "1000000"), "GiB"),
    Case("train-layers-huge", "model.train", (*TRAIN, "--layers", "100000"), "GiB"),
    Case("train-seed-negative", "model.train", (*TRAIN, "--seed", "-1"),
         "seed must be a non-negative integer"),
    Case("train-seed-past-2-64", "model.train", (*TRAIN, "--seed", str(2 ** 64 + 1)),
         "exceeds the limit"),
    Case("train-lr-huge", "model.train", (*TRAIN, "--lr", "1e30"), "learning rate"),
    Case("train-omega0-huge", "model.train", (*TRAIN, "--omega0", "1e30"), "omega0"),
    Case("train-qat-consistency-huge", "model.train", (*TRAIN, "--qat-consistency", "1e308"),
         "QAT consistency weight"),
    Case("train-device-meta", "model.train", (*TRAIN, "--device", "meta"), "unsupported device"),
    Case("train-device-mps", "model.train", (*TRAIN, "--device", "mps"), "unsupported device"),
    Case("train-device-nonsense", "model.train", (*TRAIN, "--device", "gpu7"), "unknown device"),
    Case("train-image-8000x8000", "model.train",
         ("--image", f"{T}/big.png", "--size", "8", "--steps", "2"), "MP"),
    Case("train-image-not-an-image", "model.train",
         ("--image", f"{T}/file", "--size", "8", "--steps", "2"), "cannot read image"),
    # model.plot
    Case("plot-out-is-dir", "model.plot", (f"{T}/hist.json", "--out", f"{T}/dir"),
         "is a directory"),
    Case("plot-out-not-png", "model.plot", (f"{T}/hist.json", "--out", f"{T}/plot.jpg"),
         "must end in .png"),
    Case("plot-out-full-disk", "model.plot", (f"{T}/hist.json", "--out", "/dev/full"),
         "No space left"),
    Case("plot-json-without-steps", "model.plot", (f"{T}/nosteps.json", "--out", f"{T}/p.png"),
         "steps"),
    Case("plot-json-strings-in-history", "model.plot",
         (f"{T}/strhist.json", "--out", f"{T}/p.png"), "training history"),
    Case("plot-json-missing", "model.plot", (f"{T}/none.json", "--out", f"{T}/p.png"),
         "cannot read"),
    # accel.sim
    Case("sim-out-parent-is-file", "accel.sim", (*SIM, "--out", f"{T}/file/f.png"), "cannot write"),
    Case("sim-out-not-png", "accel.sim", (*SIM, "--out", f"{T}/f.jpg"), "must end in .png"),
    Case("sim-json-full-disk", "accel.sim", (*SIM, "--json", "/dev/full"), "No space left"),
    Case("sim-json-is-the-model", "accel.sim", (*SIM, "--json", f"{T}/good.npz"), "also an input"),
    Case("sim-batch-huge", "accel.sim", (*SIM, "--batch", "1000000000"), "on-chip memory"),
    Case("sim-array-huge", "accel.sim", (*SIM, "--array", "1000x1000"), "HWINFO.ROWS"),
    Case("sim-size-huge", "accel.sim", ("--weights", f"{T}/good.npz", "--size", "100000"),
         "32767"),
    Case("sim-frame-too-long-for-amaranth", "accel.sim",
         ("--weights", f"{T}/good.npz", "--size", "2000x2000"), "--backend verilator"),
    Case("sim-seed-negative", "accel.sim", (*SIM, "--seed", "-1"), "seed"),
    Case("sim-weights-not-a-model", "accel.sim", ("--weights", f"{T}/pic.png", "--size", "4x4"),
         "not a PatchINR model file"),
    Case("sim-relative-image", "accel.sim", ("--weights", f"{T}/relimage.npz", "--size", "4x4"),
         "--image"),
    Case("sim-verilator-dir-is-file", "accel.sim", (*SIM, "--backend", "verilator"),
         "PATCHINR_VERILATOR_DIR", env={"PATCHINR_VERILATOR_DIR": f"{T}/file"}),
    Case("sim-video-model-without-clip-length", "accel.sim",
         ("--weights", f"{T}/video.npz", "--size", "4x4"), "give --clip-frames"),
    Case("sim-video-model-upscaled", "accel.sim",
         ("--weights", f"{T}/video.npz", "--size", "4x4", "--upscale", "2"), "is a video model"),
    Case("sim-image-model-clip-frames", "accel.sim", (*SIM, "--frames", "2"),
         "is for a video model"),
    Case("sim-clip-range-outside", "accel.sim",
         ("--weights", f"{T}/video.npz", "--size", "4x4", "--clip-frames", "4",
          "--first-frame", "3", "--frames", "2"), "outside the 4-frame clip"),
    Case("sim-upscale-zero", "accel.sim", (*SIM, "--upscale", "0"), "positive integer"),
    Case("sim-upscale-beyond-the-build", "accel.sim",
         ("--weights", f"{T}/good.npz", "--size", "256x256", "--upscale", "8"),
         "beyond the build's maximum frame"),
    # accel.build
    Case("build-out-is-file", "accel.build", ("--out", f"{T}/file", "--no-synth"), "is a file"),
    Case("build-array-huge", "accel.build", ("--array", "1000x1000", "--no-synth", "--out", f"{T}/b"),
         "does not fit"),
    Case("build-batch-huge", "accel.build",
         ("--batch", "1000000000", "--no-synth", "--out", f"{T}/b"), "on-chip memory"),
    Case("build-size-huge", "accel.build", ("--size", "100000", "--no-synth", "--out", f"{T}/b"),
         "exceeds"),
    Case("build-weights-not-a-model", "accel.build",
         ("--weights", f"{T}/pic.png", "--no-synth", "--out", f"{T}/b"), "not a PatchINR model"),
    # accel.bench
    Case("bench-hidden-zero", "accel.bench", ("--hidden", "0", "--out", f"{T}/w", "--results", f"{T}/r"),
         "hidden width must be a positive integer"),
    Case("bench-layers-zero", "accel.bench", ("--layers", "0", "--out", f"{T}/w", "--results", f"{T}/r"),
         "number of sine layers must be a positive integer"),
    Case("bench-device-cuda", "accel.bench",
         ("--images", "camera", "--patches", "2", "--size", "8", "--steps", "2", "--device", "cuda",
          "--out", f"{T}/w", "--results", f"{T}/r"), "CUDA"),
    Case("bench-seed-negative", "accel.bench", ("--seed", "-1", "--out", f"{T}/w", "--results", f"{T}/r"),
         "seed"),
    Case("bench-size-huge", "accel.bench", ("--size", "100000", "--out", f"{T}/w", "--results", f"{T}/r"),
         "exceeds the limit"),
    Case("bench-report-foreign-points", "accel.bench",
         ("--images", "camera", "--patches", "2", "--size", "8", "--steps", "2", "--stage", "report",
          "--out", f"{T}/foreign", "--results", f"{T}/r", "--no-synth"), "point"),
    # accel.size
    Case("size-precision-unknown", "accel.size", ("--precision", "int4"), "unknown precision"),
    Case("size-patches-not-integers", "accel.size", ("--patches", "a"),
         "expected comma-separated integers"),
    Case("size-patches-empty", "accel.size", ("--patches", ""), "at least one integer"),
    Case("size-patches-zero", "accel.size", ("--patches", "0"), "outside 1..256"),
    Case("size-json-parent-is-file", "accel.size", ("--patches", "2", "--json", f"{T}/file/s.json"),
         "cannot write"),
    Case("size-json-not-json", "accel.size", ("--patches", "2", "--json", f"{T}/s.txt"),
         "must end in .json"),
    # boards.receive
    Case("receive-port-missing", "boards.receive",
         ("--port", f"{T}/no-such-tty", "--size", "8x8", "--out", f"{T}/f.png"), "cannot open"),
    Case("receive-size-zero", "boards.receive",
         ("--port", f"{T}/no-such-tty", "--size", "0x8", "--out", f"{T}/f.png"),
         "two positive integers"),
    Case("receive-out-is-dir", "boards.receive",
         ("--port", f"{T}/no-such-tty", "--size", "8x8", "--out", f"{T}/dir"), "is a directory"),
    # patchinr (the one command over all of them)
    Case("patchinr-unknown-command", "accel.cli.patchinr", ("fit",), "unknown command 'fit'"),
    Case("patchinr-no-command", "accel.cli.patchinr", (), "no command given"),
    Case("patchinr-build-bad-precision", "accel.cli.patchinr",
         ("build", "--precision", "int4", "--out", f"{T}/b"), "precision"),
    # accel.check_fp32
    Case("fp32-pairs-huge", "accel.check_fp32", ("--pairs", "1000000000000"), "exceeds the limit"),
    Case("fp32-seed-negative", "accel.check_fp32", ("--seed", "-1"), "seed"),
]


#: Cases the suite leaves to the command: each repeats a kind another fast case covers.
REPEATS = {"train-png-parent-is-file", "train-device-mps", "train-device-nonsense",
           "train-seed-past-2-64", "train-layers-huge", "plot-json-missing", "sim-out-not-png",
           "sim-seed-negative", "build-weights-not-a-model", "bench-layers-zero",
           "bench-seed-negative", "bench-size-huge", "fp32-seed-negative",
           "train-same-output-twice", "train-out-is-dir", "sim-size-huge"}
CASES = [replace(c, fast=False) if c.id in REPEATS else c for c in CASES]


def prepare(tmp):
    """The scratch folder's files: models, images, result files and the ones a case must
    leave untouched."""
    import json

    import numpy as np
    from PIL import Image

    os.makedirs(os.path.join(tmp, "dir"), exist_ok=True)
    with open(os.path.join(tmp, "file"), "w") as f:
        f.write("not an image, not a folder\n")
    shutil.copy(FIXTURES / "camera24_p2.npz", os.path.join(tmp, "good.npz"))
    shutil.copy(FIXTURES / "camera24_p2.npz", os.path.join(tmp, "prev.npz"))
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(os.path.join(tmp, "pic.png"))
    Image.new("L", (8000, 8000)).save(os.path.join(tmp, "big.png"))
    hist = {"steps": 20, "qat_steps": 0, "history": [[0, 10.0], [10, 20.0]]}
    for name, data in (("hist.json", hist), ("nosteps.json", {"history": hist["history"]}),
                       ("strhist.json", {"steps": 20, "history": [["a", "b"]]})):
        with open(os.path.join(tmp, name), "w") as f:
            json.dump(data, f)
    from model import export
    mf = export.load(os.path.join(tmp, "good.npz"))
    export.save(os.path.join(tmp, "relimage.npz"), config=mf.config, fp32=mf.fp32,
                quant=mf.quant, meta=dict(mf.meta, image="no/such/relative.png"))
    # A video model (x, y, t) whose file does not record its clip's length.
    import torch

    from model.config import PatchINRConfig
    from model.network import PatchINR
    from model.quant import quantize
    torch.manual_seed(0)
    net = PatchINR(PatchINRConfig(patch=2, channels=1, hidden=4, layers=1, coords=3))
    export.save(os.path.join(tmp, "video.npz"), config=net.config, fp32=net.state_arrays(),
                quant=quantize(net), meta={"video": "bikes", "width": 4, "height": 4})
    # A results folder from another version: a point file without most keys.
    os.makedirs(os.path.join(tmp, "foreign", "points"), exist_ok=True)
    with open(os.path.join(tmp, "foreign", "points", "camera_8_p2.json"), "w") as f:
        json.dump({"image": "camera"}, f)


def _digests(tmp):
    out = {}
    for folder, _, files in os.walk(tmp):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                out[path] = hashlib.sha256(f.read()).hexdigest()
    return out


def run_case(case, tmp):
    """Run one case; return ``None`` when it holds, else what went wrong."""
    argv = [a.replace("{tmp}", tmp) for a in case.argv]
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               **{k: v.replace("{tmp}", tmp) for k, v in case.env.items()})
    env.pop("PATCHINR_DEBUG", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    before = _digests(tmp)
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", case.module, *argv], cwd=tmp, env=env,
                              capture_output=True, text=True, timeout=case.timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return f"no answer within {case.timeout:.0f} s"
    seconds = time.monotonic() - start
    lines = proc.stderr.strip().splitlines()
    problems = []
    if proc.returncode != case.status:
        problems.append(f"exit status {proc.returncode}, expected {case.status}")
    if "Traceback" in proc.stderr:
        problems.append("a traceback")
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr")
    elif case.message not in lines[0]:
        problems.append(f"no {case.message!r} in the message")
    after = _digests(tmp)
    changed = sorted(p for p, d in before.items() if after.get(p) != d)
    if changed:
        problems.append(f"changed {changed}")
    if problems:
        return f"{'; '.join(problems)} ({seconds:.1f} s): {proc.stderr.strip()[-600:]!r}"
    return None


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tests.bad_inputs", description=__doc__.split("\n\n")[0])
    p.add_argument("--fast", action="store_true", help="only the cases the suite runs")
    p.add_argument("-k", default=None, help="only cases whose id contains this")
    args = p.parse_args(argv)
    import tempfile
    cases = [c for c in CASES if (c.fast or not args.fast) and (args.k is None or args.k in c.id)]
    failed = 0
    with tempfile.TemporaryDirectory() as root:
        def one(case):
            tmp = os.path.join(root, case.id)
            os.makedirs(tmp)
            prepare(tmp)
            return case, run_case(case, tmp)
        with ThreadPoolExecutor(max_workers=2) as pool:
            for case, problem in pool.map(one, cases):
                print(f"{'ok  ' if problem is None else 'FAIL'} {case.id}"
                      + ("" if problem is None else f": {problem}"), flush=True)
                failed += problem is not None
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
