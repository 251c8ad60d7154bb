"""Resource estimates from Yosys ``synth_xilinx -family xcup``: cell accounting, the
scaling method against a direct synthesis, and the DSP48E2 count of each PE.

Tests that run Yosys skip without it (``apt-get install yosys``). Yosys 0.23 needs half a
minute for the core's control logic however small the array, so the whole-method check and
the FP32/dual datapaths (about two minutes together) run only with ``PATCHINR_SLOW_TESTS=1``.
"""

import os

import pytest

from accel.config import AccelConfig
from accel.device import DSP_PER_LANE, DSP_PER_PE, RESOURCES, array_dsps, dsp_count
from accel.flows.synth import SynthesisError, _stat_modules, cell_resources, estimate, small_array
from accel.formats import for_config
from tests.accel.models import random_model
from tests.tools import YOSYS, needs_yosys

slow = pytest.mark.skipif(not os.environ.get("PATCHINR_SLOW_TESTS"),
                          reason="slow (Yosys, a minute or more): set PATCHINR_SLOW_TESTS=1")


def tiny(rows, cols, precision="int8", channels=1):
    mf = random_model(patch=2, channels=channels, hidden=8, layers=2)
    return AccelConfig(model=mf.config, rows=rows, cols=cols, batch=8, precision=precision,
                       max_width=12, max_height=8)


def test_cell_resources_counts_every_kind():
    res = cell_resources({"LUT6": 3, "LUT2": 1, "INV": 2, "RAM64M": 1, "SRLC32E": 2,
                          "FDRE": 5, "FDSE": 1, "DSP48E2": 2, "RAMB36E2": 3, "RAMB18E2": 1,
                          "URAM288": 4, "CARRY8": 9, "MUXF7": 2})
    assert res == {"lut": 3 + 1 + 2 + 4 + 2, "ff": 6, "dsp": 2, "bram36": 3.5, "uram": 4}


def test_cell_resources_rejects_what_it_cannot_count():
    with pytest.raises(SynthesisError, match="cell type 'MYSTERY'"):
        cell_resources({"MYSTERY": 1})


def test_stat_json_with_hierarchy_text():
    # Yosys 0.23 prints the hierarchy as text inside `stat -json` output.
    text = ('{\n   "creator": "Yosys 0.23",\n   "modules": {\n      "\\\\top": {\n'
            '         "num_cells_by_type": {"LUT2": 1}\n      }\n   },\n'
            '       top      1\n         top.sub      1\n   "design": {}\n}\n')
    assert _stat_modules(text) == {"\\top": {"num_cells_by_type": {"LUT2": 1}}}


def test_small_array_covers_the_channels():
    assert small_array(tiny(8, 8)) == (1, 1)
    assert small_array(tiny(8, 4, channels=3)) == (4, 4)


@needs_yosys
@slow
def test_scaled_estimate_agrees_with_direct_synthesis(tmp_path):
    # A 2x2 build scaled from a 1x1 core against the whole 2x2 core synthesised at once.
    cfg = tiny(2, 2)
    scaled = estimate(cfg, cache_dir=tmp_path, tool=YOSYS)
    direct = estimate(cfg, cache_dir=tmp_path, tool=YOSYS, scale_from=(2, 2))
    assert scaled["scaled_from"] and direct["scaled_from"] is None
    assert scaled["dsp"] == direct["dsp"]
    # At most the fit check's count (a 12x8 frame's address multiplies need no DSP48E2).
    assert array_dsps(cfg) + 2 * DSP_PER_LANE["int8"] <= scaled["dsp"]
    assert scaled["dsp"] <= dsp_count(cfg)
    # Two rows, both wide: one DSP48E2 per PE.
    assert scaled["per_pe"]["wide16x16"]["dsp"] == direct["per_pe"]["wide16x16"]["dsp"] == 1
    assert scaled["per_lane"]["dsp"] == direct["per_lane"]["dsp"] == DSP_PER_LANE["int8"]
    for k in ("lut", "ff"):
        assert scaled[k] == pytest.approx(direct[k], rel=0.1), k
    # Stand-alone memories keep every read bit, so block RAM is not underestimated.
    assert scaled["bram36"] + scaled["uram"] >= direct["bram36"] + direct["uram"]
    for k in RESOURCES:
        assert scaled["percent"][k] == pytest.approx(100 * scaled[k] / _device(k), abs=0.01)
    # A second estimate of the same build is read from the cache.
    lines = []
    estimate(cfg, cache_dir=tmp_path, tool=YOSYS, progress=lines.append)
    assert sum("(cached)" in line for line in lines) == 4


def _device(kind):
    from accel.device import XCVU9P

    return XCVU9P[kind]


@needs_yosys
@pytest.mark.parametrize("precision, part", [
    # (The INT8 array's PEs: tests/accel/flows/test_netlist.py checks their DSP48E2s.)
    pytest.param("int8", "lane", marks=slow),
    pytest.param("fp32", "pe", marks=slow), pytest.param("fp32", "lane", marks=slow),
    pytest.param("dual", "pe", marks=slow), pytest.param("dual", "lane", marks=slow),
])
def test_dsp_per_pe_and_lane(precision, part, tmp_path):
    # The fit check (accel.device) counts DSPs with these tables before elaborating.
    from accel.flows.export import convert_rtlil
    from accel.flows.synth import _hierarchy_cells, _Job, _run
    from accel.gateware.pe import ProcessingElement
    from accel.gateware.postproc import PostLane
    cfg = tiny(2, 2, precision)
    design, want = ((ProcessingElement(arith=for_config(cfg)), DSP_PER_PE[precision]) if part == "pe"
                    else (PostLane(config=cfg), DSP_PER_LANE[precision]))
    job = _Job(part, convert_rtlil(design, name=part, zero_init="none"), part)
    modules, _, _ = _run(YOSYS, job, tmp_path)
    assert cell_resources(_hierarchy_cells(modules, part, {}))["dsp"] == want
