"""The timing evidence of the INT8 array's blocks (accel.flows.netlist) against the goal
for 200 MHz, and the check that reports a block that misses it."""

import os

import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accel.flows.build import TIMING_GOAL, timing_evidence
from accel.flows.export import convert_rtlil
from accel.flows.synth import (_absorbed, _figures, _group_rtlil, _hierarchy_cells, _Job, _run,
                               cell_resources)
from accel.formats.int8 import Int8Arithmetic
from accel.gateware.int8.lut import LutPE
from accel.gateware.int8.pair import PackedPair
from accel.gateware.int8.pumped import PumpedPair
from accel.gateware.int8.wide import WidePE
from accel.plan import MAX_CASCADE, ArrayPlan
from accel.sizing import FF_COST, LUT_COST
from tests.tools import YOSYS, needs_yosys

slow = pytest.mark.skipif(not os.environ.get("PATCHINR_SLOW_TESTS"),
                          reason="slow (Yosys): set PATCHINR_SLOW_TESTS=1")


def figures(design, name, tmp_path, *, analyse=(), modules=None):
    text = design if isinstance(design, str) else convert_rtlil(design, name=name,
                                                                zero_init="none")
    mods, analysis, _ = _run(YOSYS, _Job(name, text, name, analyse=analyse), tmp_path)
    if modules is not None:
        modules.update(mods)
    return analysis


@needs_yosys
@pytest.mark.parametrize("name, design", [
    ("wide", WidePE()), ("pair", PackedPair()), ("lut", LutPE()), ("pumped", PumpedPair()),
    # The single DSP column below the wide rows, as ColumnGroup makes it.
    ("wide8x8", WidePE(a_width=8, w_width=8, acc_width=32)),
])
def test_pe_meets_the_goal(name, design, tmp_path):
    modules = {}
    analysis = figures(design, name, tmp_path, modules=modules)[name]
    f = _figures(analysis)
    # What --array auto budgets for a PE is what Yosys makes of it (the DSP PEs' registers
    # and post-adder counted inside the slice).
    res = _absorbed(cell_resources(_hierarchy_cells(modules, name, {})), analysis)
    expected = {"lut": LUT_COST["int8_lut_pe"], "pumped": LUT_COST["int8_pumped"]}
    assert res["lut"] == pytest.approx(expected.get(name, 0), rel=0.15, abs=2)
    assert f["lut_levels"] <= TIMING_GOAL["lut_levels"]
    assert f["carry_chains"] <= TIMING_GOAL["carry_chains"]
    assert f["max_fanout"] <= TIMING_GOAL["array_fanout"]
    d = f["dsp"]
    # Every DSP48E2 with its input (A, B), multiplier (M) and output (P) registers in place.
    assert d["count"] == (0 if name == "lut" else 1)
    assert d["a_reg"] == d["b_reg"] == d["m_reg"] == d["p_reg"] == d["count"]
    assert not timing_evidence({f"pe_{name}": f}, None)["misses"]


@needs_yosys
@pytest.mark.parametrize("kind, pumped", [("pair", False), ("pair", True),
                                          pytest.param("lut", False, marks=slow)],
                         ids=["pair", "pair-2x", "lut"])
def test_column_group_meets_the_goal(kind, pumped, tmp_path):
    # The longest cascade twice, so the load pipeline, the cascade split and the partial-sum
    # delay lines all appear; no net grows with the rows (the shift enable is a pipeline).
    # Pumped: two rows per slice, each slice's fast-domain registers in the DSP48E2.
    plan = ArrayPlan(rows=2 + 2 * MAX_CASCADE, cols=2 if kind == "pair" else 1,
                     wide_rows=2, lut_cols=0 if kind == "pair" else 1, pumped=pumped)
    text, names = _group_rtlil(plan, kind, Int8Arithmetic())
    top = f"group_{kind}"
    modules = {}
    analysis = figures(text, top, tmp_path, modules=modules)[top]
    f = _figures(analysis)
    # What --array auto budgets for the group's registers (FF_COST, from 128-row groups) is
    # what Yosys makes of it, within the fixed costs a short group spreads over few rows.
    res = _absorbed(cell_resources(_hierarchy_cells(modules, top, {})), analysis)
    row = {("pair", False): "int8_pair_row", ("pair", True): "int8_pumped_row",
           ("lut", False): "int8_lut_row"}[kind, pumped]
    ff = (plan.wide_rows * plan.cols * FF_COST["int8_wide_pe"]
          + plan.packed_rows * FF_COST[row] * (1 if kind == "lut" else plan.pairs))
    assert res["ff"] == pytest.approx(ff, rel=0.2)
    assert f["lut_levels"] <= TIMING_GOAL["lut_levels"] and f["carry_chains"] <= 1
    assert f["max_fanout"] <= TIMING_GOAL["array_fanout"]
    d = f["dsp"]
    assert d["count"] == plan.dsps
    assert d["a_reg"] == d["b_reg"] == d["m_reg"] == d["p_reg"] == d["count"]


class _Deep(wiring.Component):
    """Four 16-bit additions in one cycle, and one register driving 100 others."""
    a: In(16)
    b: In(16)
    y: Out(16)
    fan: Out(100)

    def elaborate(self, platform):
        m = Module()
        ra, rb = Signal(16), Signal(16)
        hub = Signal()
        m.d.sync += [ra.eq(self.a), rb.eq(self.b), hub.eq(self.a[0])]
        m.d.sync += self.y.eq(((ra + rb) ^ ra) + ((ra + 3 * rb) ^ rb) + ra)
        m.d.sync += [self.fan[i].eq(hub) for i in range(100)]
        return m


@needs_yosys
def test_a_block_that_misses_the_goal_is_reported(tmp_path):
    f = _figures(figures(_Deep(), "deep", tmp_path)["deep"])
    assert f["carry_chains"] >= 2 and f["max_fanout"] >= 100
    # A block inside the array is held to the fanout limit too.
    misses = timing_evidence({"pe_deep": f}, None)["misses"]
    assert "carry chains" in misses["pe_deep"] and "fanout" in misses["pe_deep"]


@needs_yosys
def test_every_block_of_a_core_meets_the_goal(tmp_path):
    """The whole core's blocks (CSR, coordinate generator, batcher, sequencer, datapath,
    scatter, loader), the lane, the PEs and the column groups of a configuration with a
    batch of 4,096 (the widest addresses and counters), packed pairs and a LUT column: the
    report's timing section names no block that misses the goal."""
    from accel.config import AccelConfig
    from accel.flows.synth import CORE_BLOCKS, estimate
    from model.config import PatchINRConfig
    config = AccelConfig.fitting(model=PatchINRConfig(patch=2, hidden=16, layers=2), rows=6,
                                 cols=3, batch=4096, lut_cols=1)
    res = estimate(config, cache_dir=tmp_path, tool=YOSYS)
    evidence = timing_evidence(res["timing"], config)
    assert set(CORE_BLOCKS) | {"core", "lane", "pe_lut", "pe_pair", "group_lut",
                               "group_pair"} <= set(evidence["blocks"])
    assert evidence["misses"] == {}, evidence["misses"]
