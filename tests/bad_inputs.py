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

__all__ = ["Case", "CASES", "DRIVER_CASES", "prepare", "run_case", "driver_core",
           "run_driver_case", "main"]


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
    Case("train-resume-nothing", "model.train", (*TRAIN, "--out", f"{T}/new.npz", "--resume"),
         "nothing to resume"),
    Case("train-resume-without-file", "model.train", (*TRAIN, "--resume"),
         "--resume needs --checkpoint", fast=False),
    Case("train-checkpoint-every-negative", "model.train",
         (*TRAIN, "--out", f"{T}/new.npz", "--checkpoint-every", "-1"), "seconds >= 0",
         fast=False),
    Case("train-checkpoint-not-a-checkpoint", "model.train",
         (*TRAIN, "--checkpoint", f"{T}/pic.png", "--resume"), "cannot be read", fast=False),
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
    Case("train-qat-lr-zero", "model.train", (*TRAIN, "--qat-lr", "0"),
         "QAT learning rate"),
    Case("train-clip-grad-below-one", "model.train", (*TRAIN, "--clip-grad", "0.5"),
         "gradient clip factor must be at least 1"),
    Case("train-clip-grad-nan", "model.train", (*TRAIN, "--clip-grad", "nan"),
         "gradient clip factor"),
    Case("train-rewind-zero", "model.train", (*TRAIN, "--rewind", "0"), "rewind threshold"),
    Case("train-rewind-inf", "model.train", (*TRAIN, "--rewind", "inf"), "rewind threshold"),
    Case("train-rewind-word", "model.train", (*TRAIN, "--rewind", "yes"), "--rewind"),
    Case("train-warmup-past-the-steps", "model.train", (*TRAIN, "--warmup", "100000"),
         "must be fewer than steps"),
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
         "exceeds the limit of 32,767"),
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
         ("--array", "32x32", "--batch", "1000000000", "--no-synth", "--out", f"{T}/b"),
         "on-chip memory"),
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
    Case("bench-clip-grad-zero", "accel.bench", ("--clip-grad", "0", "--out", f"{T}/w", "--results", f"{T}/r"),
         "gradient clip factor"),
    Case("video-bench-clip-grad-below-one", "accel.bench",
         ("--videos", "bikes", "--clip-grad", "0.9", "--out", f"{T}/w", "--results", f"{T}/r"),
         "gradient clip factor must be at least 1"),
    Case("bench-rewind-negative", "accel.bench",
         ("--rewind", "-3", "--out", f"{T}/w", "--results", f"{T}/r"), "rewind threshold"),
    Case("video-bench-rewind-nan", "accel.bench",
         ("--videos", "bikes", "--rewind", "nan", "--out", f"{T}/w", "--results", f"{T}/r"),
         "rewind threshold"),
    Case("bench-warmup-negative", "accel.bench",
         ("--warmup", "-1", "--out", f"{T}/w", "--results", f"{T}/r"), "warm-up steps"),
    Case("bench-qat-consistency-negative", "accel.bench",
         ("--qat-consistency", "-1", "--out", f"{T}/w", "--results", f"{T}/r"),
         "QAT consistency weight"),
    Case("video-bench-qat-consistency-nan", "accel.bench",
         ("--videos", "bikes", "--qat-consistency", "nan", "--out", f"{T}/w", "--results", f"{T}/r"),
         "QAT consistency weight"),
    Case("bench-seed-negative", "accel.bench", ("--seed", "-1", "--out", f"{T}/w", "--results", f"{T}/r"),
         "seed"),
    Case("bench-size-huge", "accel.bench", ("--size", "100000", "--out", f"{T}/w", "--results", f"{T}/r"),
         "exceeds the limit"),
    Case("bench-report-foreign-points", "accel.bench",
         ("--images", "camera", "--patches", "2", "--size", "8", "--steps", "2", "--stage", "report",
          "--out", f"{T}/foreign", "--results", f"{T}/r", "--no-synth"), "point"),
    # Decoders that must not trust their input (model.train and the video sweep read clips)
    Case("train-video-truncated-gif", "model.train",
         ("--video", f"{T}/trunc.gif", "--size", "8", "--frames", "2", "--steps", "2",
          "--quiet"), "cannot decode video"),
    Case("train-video-gif-claims-huge", "model.train",
         ("--video", f"{T}/bomb.gif", "--size", "8", "--frames", "2", "--steps", "2",
          "--quiet"), "could be decompression bomb"),
    Case("train-video-folder-png-claims-huge", "model.train",
         ("--video", f"{T}/bombframes", "--size", "8", "--frames", "2", "--steps", "2",
          "--quiet"), "could be decompression bomb"),
    Case("train-video-not-a-gif", "model.train",
         ("--video", f"{T}/junk.gif", "--size", "8", "--frames", "2", "--steps", "2",
          "--quiet"), "cannot read video"),
    Case("bench-videos-same-key", "accel.bench",
         ("--videos", f"{T}/clip.gif,{T}/dir/clip.gif", "--stage", "report", "--out", f"{T}/w",
          "--results", f"{T}/r"), "would share the point key"),
    Case("bench-videos-qat-steps-past-steps", "accel.bench",
         ("--videos", f"{T}/clip.gif", "--steps", "10", "--qat-steps", "10", "--stage",
          "report", "--out", f"{T}/w", "--results", f"{T}/r"), "QAT steps"),
    Case("bench-status-unknown-video", "accel.bench",
         ("--videos", "nope", "--stage", "status", "--out", f"{T}/w", "--results", f"{T}/r"),
         "unknown video 'nope'"),
    Case("bench-gap-without-videos", "accel.bench",
         ("--stage", "gap", "--out", f"{T}/w", "--results", f"{T}/r"),
         "--stage gap measures a video sweep: give --videos"),
    Case("build-auto-with-batch", "accel.build",
         ("--array", "auto", "--batch", "-4", "--no-synth", "--out", f"{T}/b"),
         "--batch goes with --array ROWSxCOLS"),
    Case("build-seed-negative", "accel.build", ("--seed", "-1", "--no-synth", "--out", f"{T}/b"),
         "placement seed must be a non-negative integer"),
    Case("build-seed-on-the-vcu118", "accel.build", ("--seed", "2", "--no-synth", "--out", f"{T}/b"),
         "placed by Vivado"),
    Case("build-pixels-per-beat-3", "accel.build",
         ("--pixels-per-beat", "3", "--no-synth", "--out", f"{T}/b"),
         "pixels per beat must be auto or one of 1, 2, 4, 8, not 3"),
    Case("build-pixels-per-beat-word", "accel.build",
         ("--pixels-per-beat", "many", "--no-synth", "--out", f"{T}/b"),
         "--pixels-per-beat must be auto, 1, 2, 4 or 8"),
    Case("build-pixels-per-beat-past-the-patch", "accel.build",
         ("--pixels-per-beat", "4", "--no-synth", "--out", f"{T}/b"),
         "must divide the patch size 2"),
    Case("build-dsp-clock-3", "accel.build", ("--dsp-clock", "3", "--no-synth", "--out", f"{T}/b"),
         "DSP clock must be 1 or 2"),
    Case("build-dsp-clock-2-fp32", "accel.build",
         ("--dsp-clock", "2", "--precision", "fp32", "--no-synth", "--out", f"{T}/b"),
         "for INT8 builds on the XCVU9P"),
    Case("build-dsp-clock-2-ecp5", "accel.build",
         ("--dsp-clock", "2", "--board", "ulx3s-85f", "--hidden", "128", "--no-synth", "--out",
          f"{T}/b"), "for INT8 builds on the XCVU9P"),
    Case("build-config-not-json", "accel.build", ("--config", f"{T}/file", "--out", f"{T}/b"),
         "is not JSON"),
    Case("build-config-and-flags", "accel.build",
         ("--config", f"{T}/hist.json", "--precision", "fp32", "--out", f"{T}/b"),
         "leave out --precision"),
    Case("build-config-unknown-key", "accel.build", ("--config", f"{T}/hist.json", "--out",
                                                      f"{T}/b"), "unknown build configuration"),
    Case("build-clock-unreachable", "accel.build",
         ("--clock-mhz", "199.999999", "--no-synth", "--out", f"{T}/b"), "MHz"),
    Case("build-clock-negative", "accel.build",
         ("--clock-mhz", "-5", "--no-synth", "--out", f"{T}/b"), "positive"),
    # accel.soak
    Case("soak-jobs-zero", "accel.soak", ("--jobs", "0", "--quiet"), "positive integer"),
    Case("soak-array-too-narrow", "accel.soak",
         ("--array", "2x2", "--backend", "amaranth", "--quiet"), "needs at least 3 columns"),
    Case("soak-frame-not-whole-patches", "accel.soak",
         ("--frame", "15x16", "--backend", "amaranth", "--quiet"), "not whole 2x2 patches"),
    Case("soak-precision-unknown", "accel.soak", ("--precision", "int4", "--quiet"),
         "unknown precision"),
    Case("soak-json-not-json", "accel.soak",
         ("--json", f"{T}/s.txt", "--backend", "amaranth", "--quiet"), "must end in .json"),
    # accel.regress
    Case("regress-configs-zero", "accel.regress", ("--configs", "0", "--quiet"),
         "positive integer"),
    Case("regress-backend-unknown", "accel.regress", ("--backend", "icarus", "--quiet"),
         "invalid choice"),
    Case("regress-cpus-zero", "accel.regress", ("--cpus-per-case", "0", "--quiet"),
         "must be a positive number"),
    Case("regress-cluster-unreachable", "accel.regress",
         ("--configs", "1", "--backend", "amaranth", "--address", "127.0.0.1:9", "--quiet"),
         "cannot reach the Ray cluster"),
    Case("bench-cluster-address-not-host-port", "accel.bench",
         ("--images", "camera", "--size", "8", "--patches", "2", "--steps", "2", "--stage",
          "train", "--address", "head:port", "--out", f"{T}/o", "--results", f"{T}/r"),
         "is not HOST:PORT"),
    Case("regress-json-not-json", "accel.regress",
         ("--json", f"{T}/r.txt", "--backend", "amaranth", "--quiet"), "must end in .json"),
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
    Case("receive-size-past-the-side-limit", "boards.receive",
         ("--port", f"{T}/no-such-tty", "--size", "1000000000000x1000000000000", "--out",
          f"{T}/f.png"), "exceeds the limit of 32,767"),
    Case("receive-size-too-many-pixels", "boards.receive",
         ("--port", f"{T}/no-such-tty", "--size", "30000x30000", "--out", f"{T}/f.png"),
         "at most 40 MP"),
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
    # Clips: a good little GIF (also under dir/, the same file name), a truncated one, one
    # whose header claims 30000x30000, a folder of PNG frames whose first claims the same,
    # and a file that says GIF and is not one.
    import struct
    import zlib
    frames = [Image.fromarray(np.full((8, 8, 3), 40 * i, dtype=np.uint8)) for i in range(4)]
    gif = os.path.join(tmp, "clip.gif")
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=40, loop=0)
    shutil.copy(gif, os.path.join(tmp, "dir", "clip.gif"))
    data = open(gif, "rb").read()
    with open(os.path.join(tmp, "trunc.gif"), "wb") as f:
        f.write(data[:len(data) // 2])
    with open(os.path.join(tmp, "bomb.gif"), "wb") as f:
        f.write(data[:6] + struct.pack("<HH", 30000, 30000) + data[10:])
    os.makedirs(os.path.join(tmp, "bombframes"), exist_ok=True)
    for i, frame in enumerate(frames):
        frame.save(os.path.join(tmp, "bombframes", f"{i:03d}.png"))
    png = bytearray(open(os.path.join(tmp, "bombframes", "000.png"), "rb").read())
    png[16:24] = struct.pack(">II", 30000, 30000)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])) & 0xFFFFFFFF)
    with open(os.path.join(tmp, "bombframes", "000.png"), "wb") as f:
        f.write(png)
    with open(os.path.join(tmp, "junk.gif"), "wb") as f:
        f.write(b"GIF89a" + bytes(range(100)))
    # A results folder from another version: a point file without most keys.
    os.makedirs(os.path.join(tmp, "foreign", "points"), exist_ok=True)
    with open(os.path.join(tmp, "foreign", "points", "camera_8_p2.json"), "w") as f:
        json.dump({"image": "camera"}, f)


#: Bad input to the host driver's public methods (``PatchINRDriver``, on an image build in
#: Amaranth's simulator with the regression model loaded): ``(id, method, args, kwargs,
#: words)``; each must raise the driver's documented error for bad input (``UserError``:
#: one line, ``words`` in it) before anything reaches the core.
DRIVER_CASES = [
    ("query-strings", "query", ([["0.5", "0.5"]],), {}, "real numbers"),
    ("query-complex", "query", ([[0.5 + 1j, 0.2]],), {}, "real numbers"),
    ("query-booleans", "query", ([[True, False]],), {}, "real numbers"),
    ("query-ragged", "query", ([[0.5], [0.2, 0.1]],), {}, "[Q, 2]"),
    ("query-empty", "query", ([],), {}, "non-empty"),
    ("query-nan", "query", ([[float("nan"), 0.0]],), {}, "finite"),
    ("query-outside", "query", ([[2.0, 0.0]],), {}, "in [-1, 1]"),
    ("query-quantized-floats", "query", ([[0.5, 0.5]],), {"quantized": True}, "integers"),
    ("query-quantized-huge", "query", ([[40000, 0]],), {"quantized": True}, "32767"),
    ("query-precision-list", "query", ([[0.0, 0.0]],), {"precision": ["int8"]},
     "unknown precision"),
    ("query-budget-negative", "query", ([[0.0, 0.0]],), {"max_cycles": -1}, "max_cycles"),
    ("render-width-float", "render", (8.5, 8), {}, "frame width"),
    ("render-width-string", "render", ("8", 8), {}, "frame width"),
    ("render-too-wide", "render", (32, 8), {}, "exceeds the build's maximum"),
    ("render-not-whole-patches", "render", (6, 7), {}, "not divisible"),
    ("render-fp32-on-int8", "render", (8, 8), {"precision": "fp32"}, "no fp32 datapath"),
    ("render-progress-not-callable", "render", (8, 8), {"progress": 3}, "callable"),
    ("render-budget-float", "render", (8, 8), {"max_cycles": 1.5}, "max_cycles"),
    ("render-clip-on-image-build", "render_clip", (8, 8), {"clip_frames": 4}, "image build"),
    ("set-frame-size-zero", "set_frame_size", (0, 8), {}, "frame width"),
    ("receive-frames-budget", "receive_frames", (8, 8), {"max_cycles": 0}, "max_cycles"),
    ("start-mode", "start", (), {"mode": "burst"}, "unknown mode"),
    ("start-precision", "start", (), {"precision": "int4"}, "unknown precision"),
    ("load-weights-number", "load_weights", (123,), {}, "model file's path"),
    ("load-weights-missing", "load_weights", ("{tmp}/missing.npz",), {}, "does not exist"),
    ("load-weights-not-a-model", "load_weights", ("{tmp}/file",), {}, "not a PatchINR"),
    ("load-weights-other-network", "load_weights", ("{tmp}/video.npz",), {},
     "network differs"),
    ("attach-other-network", "attach", ("{tmp}/video.npz",), {}, "network differs"),
]


def driver_core(tmp):
    """The driver the cases run on: the regression model's image build in Amaranth's
    simulator, its weights in the memories."""
    from accel.config import AccelConfig
    from accel.flows.simulation import AmaranthTransport
    from accel.host.driver import PatchINRDriver
    from accel.host.weights import memory_images
    from model import export
    mf = export.load(os.path.join(tmp, "good.npz"))
    config = AccelConfig(model=mf.config, rows=4, cols=4, batch=8, max_width=8, max_height=8)
    core = PatchINRDriver(AmaranthTransport(config, images=memory_images(config, mf)))
    core.attach(mf)
    return core


def run_driver_case(core, case, tmp):
    """Run one driver case; ``None`` when it holds, else what went wrong."""
    from model.support.errors import UserError
    cid, method, args, kwargs, words = case
    args = tuple(a.replace("{tmp}", tmp) if isinstance(a, str) else a for a in args)
    cycles = core.transport.cycles
    try:
        getattr(core, method)(*args, **kwargs)
    except UserError as exc:
        text = str(exc)
        if "\n" in text:
            return f"a message of {len(text.splitlines())} lines: {text!r}"
        if words not in text:
            return f"no {words!r} in {text!r}"
        if core.transport.cycles != cycles and method not in ("load_weights",):
            return "the core ran before the input was refused"
        return None
    except Exception as exc:            # noqa: BLE001 (what the table is looking for)
        return f"{type(exc).__name__} instead of UserError: {exc}"
    return "accepted"


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
        if args.k is None or "driver" in args.k:
            tmp = os.path.join(root, "driver")
            os.makedirs(tmp)
            prepare(tmp)
            core = driver_core(tmp)
            for case in DRIVER_CASES:
                problem = run_driver_case(core, case, tmp)
                print(f"{'ok  ' if problem is None else 'FAIL'} driver-{case[0]}"
                      + ("" if problem is None else f": {problem}"), flush=True)
                failed += problem is not None
            cases = cases + DRIVER_CASES
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
