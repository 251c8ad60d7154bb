# amaranth: UnusedElaboratable=no

"""Sequencer against a model of its documented schedule: every issue record, weight-load
cycle and hand-shake pulse of a job, cycle by cycle, and the output-credit wait."""

import pytest
from amaranth.sim import Simulator

from accel.config import CLOCK_HZ, AccelConfig, Timing
from accel.gateware.sequencer import Sequencer
from model.config import PatchINRConfig


def _config(precision="int8", **kw):
    model = PatchINRConfig(patch=2, channels=1, hidden=6, layers=2)  # k: 2, 6, 6; n: 6, 6, 4
    kw = {"rows": 4, "cols": 2, "batch": 5, "max_width": 8, "max_height": 8} | kw
    return AccelConfig(model=model, precision=precision, **kw)


def expected_schedule(cfg, lengths):
    """Issue records, load cycles and pulses of a job whose batches are always ready and
    whose output credit never runs out; cycle 0 is the ``start`` cycle. Everything but
    ``take`` leaves through the sequencer's output register, ``Timing.ISSUE`` cycles after
    the schedule decides it."""
    tm = Timing(cfg)
    out = tm.ISSUE
    R, C = cfg.rows, cfg.cols
    AW, half = cfg.act_words, cfg.batch * cfg.act_words
    issues, loads, take, free, done = {}, [], [], [], []
    # PRELOAD: cycles 1 .. tile_min, loading in its own window.
    loads += [1 + out + c for c in range(tm.wload_start, tm.wload_start + R)]
    wait = tm.tile_min + 1
    slot_base = 0
    for b, length in enumerate(lengths):
        take.append(wait)
        t = wait + 1
        for g in cfg.layers:
            for nt in range(g.nt):
                for kt in range(g.kt):
                    last_kt, last_nt = kt == g.kt - 1, nt == g.nt - 1
                    last_tile = last_kt and last_nt
                    for q in range(length):
                        issues[t + out + q] = {
                            "q": q, "swap": int(q == 0), "first": int(g.index == 0),
                            "coord_half": b % 2, "read_half": int(g.index % 2 == 0),
                            "write_half": g.index % 2, "kt": kt,
                            "rows_valid": g.k - (g.kt - 1) * R if last_kt else R,
                            "first_kt": int(kt == 0), "last_kt": int(last_kt),
                            "param_addr": g.param_base + nt,
                            "wbank": nt % (R // C), "wword": nt // (R // C),
                            "cols_valid": g.n - (g.nt - 1) * C if last_nt else C,
                            "out_layer": int(g.kind == "out"), "out_word": nt,
                            "slot": (slot_base + q) % cfg.out_slots,
                            "commit": int(g.kind == "out" and last_tile and q == length - 1),
                            "act_rd": (g.index % 2 == 0) * half + q * AW + kt,
                            "act_wr": (g.index % 2) * half + q * AW + nt // (R // C),
                            "coord_rd": (b % 2) * cfg.batch + q,
                        }
                    loads += [t + out + c for c in range(tm.wload_start, tm.wload_start + R)]
                    t += tm.period(length, last_of_layer=last_tile)
            if g.index == 0:
                free.append(t - 1 + out)
        slot_base = (slot_base + length) % cfg.out_slots
        if b == len(lengths) - 1:
            done.append(t - 1 + out)
        wait = t
    return {"issues": issues, "loads": loads, "take": take, "free": free, "done": done,
            "end": wait}


def _cared(rec):
    # out_word addresses the output buffer; in sine layers it is unused (and may be narrower
    # than nt).
    return rec if rec["out_layer"] else {k: v for k, v in rec.items() if k != "out_word"}


def run(cfg, lengths, *, freed=lambda t: 1 << 20, extra=40):
    """Simulate a job; batch ``k`` is offered from when ``k-1`` was taken (double buffering).
    Returns what the sequencer did, in the shape of :func:`expected_schedule`."""
    dut = Sequencer(config=cfg)
    fields = list(dut.issue.shape().members)
    got = {"issues": {}, "loads": [], "addrs": [], "take": [], "free": [], "done": [],
           "busy": []}
    end = expected_schedule(cfg, lengths)["end"] + extra

    async def bench(ctx):
        k = 0
        for t in range(end):
            ctx.set(dut.start, t == 0)
            ctx.set(dut.freed, freed(t))
            ctx.set(dut.batch_valid, k < len(lengths))
            if k < len(lengths):
                ctx.set(dut.batch_len, lengths[k])
                ctx.set(dut.batch_last, k == len(lengths) - 1)
            if ctx.get(dut.issue.valid):
                got["issues"][t] = {f: int(ctx.get(getattr(dut.issue, f))) for f in fields
                                    if f != "valid"}
            if ctx.get(dut.w_load):
                got["loads"].append(t)
                got["addrs"].append(ctx.get(dut.w_addr))
            for name in ("take", "free", "done"):
                port = {"take": dut.batch_take, "free": dut.batch_free, "done": dut.done}[name]
                if ctx.get(port):
                    got[name].append(t)
            got["busy"].append(ctx.get(dut.busy))
            if ctx.get(dut.batch_take):
                # coord_half names the half being taken: batch k lives in half k % 2.
                assert ctx.get(dut.coord_half) == k % 2
                k += 1
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    sim.add_testbench(bench)
    sim.run()
    return got


@pytest.mark.parametrize("precision, kw, lengths", [
    ("int8", {}, [5, 5, 3]),                     # full batches, a short last one
    ("int8", {"rows": 2, "cols": 2}, [1]),       # one query: every tile at tile_min
    ("fp32", {}, [5, 2]),                        # PE latency 6: longer tile_min and drain
])
def test_schedule(precision, kw, lengths):
    cfg = _config(precision, **kw)
    want = expected_schedule(cfg, lengths)
    got = run(cfg, lengths)
    for name in ("take", "free", "done", "loads"):
        assert got[name] == want[name], name
    # Weight words are read in order, one per load, wrapping at the end of the memory
    # (the last tile preloads the next job's first tile).
    assert got["addrs"] == [i % cfg.weight_depth for i in range(len(want["loads"]))]
    assert got["issues"].keys() == want["issues"].keys()
    for t, rec in want["issues"].items():
        assert _cared(got["issues"][t]) == _cared(rec), f"cycle {t}"
    # Busy from the cycle after start to the last tile; idle again after done.
    assert got["busy"][0] == 0 and all(got["busy"][1:want["end"]])
    assert not any(got["busy"][want["end"]:])


def test_waits_for_output_credit():
    """A batch starts only when it fits the output ring: with nothing freed, the batches
    that fit run, the next waits until ``freed`` grows, then runs."""
    cfg = _config(max_width=4)                   # out_slots = 2 * (4 // 2 + 5) = 14
    assert cfg.out_slots == 14
    lengths = [5, 5, 5]
    release = 900
    got = run(cfg, lengths, freed=lambda t: 0 if t < release else 5, extra=release)
    want = expected_schedule(cfg, lengths)
    assert got["take"][:2] == want["take"][:2]
    # 15 > 0 + 14 until 5 are freed; the sum with `freed` is registered, so the batch
    # starts the cycle after `freed` grows.
    assert got["take"][2] == release + 1
    assert len(got["done"]) == 1
    # The third batch's records are its unhindered schedule shifted, slots continuing at 10.
    shift = got["take"][2] - want["take"][2]
    for t, rec in want["issues"].items():
        if t > want["take"][2]:
            assert _cared(got["issues"][t + shift]) == _cared(rec), f"cycle {t}"


def test_rejects_bad_config():
    with pytest.raises(TypeError, match="config must be an AccelConfig"):
        Sequencer(config=None)
