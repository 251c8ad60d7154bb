# amaranth: UnusedElaboratable=no

"""WeightLoader: the weight stream of a model file loads memory_images exactly; faults are
reported, drop what the packet format says, and never hang or lose the next packet.

Every beat that transfers is logged with its cycle and parsed by a reference parser written
from the packet format in :mod:`accel.gateware.weight_loader`; the loader's writes and error pulses
must be exactly what that parser predicts, and the memories built from its writes must equal
:func:`accel.host.weights.memory_images`.
"""

import random

import pytest
from amaranth.sim import Simulator

from accel.config import CLOCK_HZ, AccelConfig
from accel.gateware.weight_loader import WeightLoader
from accel.host.errors import ErrorCode
from accel.host.weights import memory_images, weight_stream
from tests.accel.models import random_model
from tests.simutil import axis_put

ID_NAME = {0: "weights_int8", 1: "params", 2: "sine_lut", 3: "weights_fp32", 4: "weights_first"}
NAME_ID = {v: k for k, v in ID_NAME.items()}


def _build(precision):
    mf = random_model(patch=2, channels=1, hidden=6, layers=2, seed=3, phase_bits=6)
    cfg = AccelConfig(model=mf.config, rows=4, cols=2, batch=4, precision=precision,
                      max_width=8, max_height=8)
    return mf, cfg


def _packet(name, addr, words, bits):
    """Beats of one packet, from the documented format."""
    n = -(-bits // 32)
    beats = [(NAME_ID[name] << 28) | addr]
    for w in words:
        beats += [(w >> (32 * i)) & 0xFFFF_FFFF for i in range(n)]
    return [(b, int(i == len(beats) - 1)) for i, b in enumerate(beats)]


def _cut(packet, nbeats):
    """The first ``nbeats`` beats of ``packet``, ``tlast`` moved onto the last of them."""
    out = [(d, 0) for d, _ in packet[:nbeats]]
    out[-1] = (out[-1][0], 1)
    return out


def reference_parse(transfers, geo):
    """Expected ``writes`` [(cycle, name, addr, word)] and ``errors`` [(beat cycle, code)]
    of a transferred beat sequence ``[(cycle, tdata, tlast)]``."""
    writes, errors = [], []
    i = 0
    while i < len(transfers):
        hcyc, header, last = transfers[i]
        i += 1
        if last:
            continue                                    # empty packet
        body = []
        while True:
            cyc, d, last = transfers[i]
            i += 1
            body.append((cyc, d))
            if last:
                break
        name = ID_NAME.get(header >> 28)
        if name not in geo:
            errors.append((hcyc, ErrorCode.WGT_MEMORY))
            continue
        depth, bits = geo[name]
        n = -(-bits // 32)
        addr = header & ((1 << 28) - 1)
        for w in range(0, len(body), n):
            chunk = body[w:w + n]
            if len(chunk) < n:
                errors.append((chunk[-1][0], ErrorCode.WGT_TRUNCATED))
                break
            if addr >= depth:
                errors.append((chunk[-1][0], ErrorCode.WGT_RANGE))
                break
            word = sum(d << (32 * j) for j, (_, d) in enumerate(chunk))
            writes.append((chunk[-1][0] + 1, name, addr, word))
            addr += 1
    return writes, errors


def run_loader(cfg, beats, *, seed, gap_prob=0.3, enable_prob=1.0, max_cycles=4000):
    """Stream ``beats`` into a WeightLoader; return (transfers, writes, errors)."""
    dut = WeightLoader(config=cfg)
    geo = cfg.memory_geometry
    rng = random.Random(seed)
    transfers, writes, errors = [], [], []
    state = {"sent": False}

    async def source(ctx):
        await axis_put(ctx, dut.s_axis, beats, rng=rng, gap_prob=gap_prob)
        await ctx.tick().repeat(3)
        state["sent"] = True

    async def enabler(ctx):
        erng = random.Random(seed + 1)
        while True:
            ctx.set(dut.enable, erng.random() < enable_prob)
            await ctx.tick()

    async def monitor(ctx):
        s, wr, lut = dut.s_axis, dut.wr, dut.lut
        cycle = 0
        async for _, _, *v in ctx.tick().sample(
                s.tvalid, s.tready, s.tdata, s.tlast, dut.enable,
                wr.en, wr.mem, wr.addr, wr.data, lut.en, lut.addr, lut.data,
                dut.error, dut.error_code.as_value()):
            (tvalid, tready, tdata, tlast, enable, wen, wmem, waddr, wdata, len_, laddr, ldata,
             err, code) = (int(x) for x in v)
            assert tready == enable, f"cycle {cycle}: tready {tready} with enable {enable}"
            if tvalid and tready:
                transfers.append((cycle, tdata, tlast))
            if wen:
                name = ID_NAME[wmem]
                writes.append((cycle, name, waddr, wdata & ((1 << geo[name][1]) - 1)))
            if len_:
                writes.append((cycle, "sine_lut", laddr, ldata))
            assert not (wen and len_), "two writes in one cycle"
            if err:
                errors.append((cycle, ErrorCode(code)))
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    sim.add_testbench(source)
    sim.add_testbench(enabler, background=True)
    sim.add_testbench(monitor, background=True)
    _run_until_done(sim, state, max_cycles)
    return transfers, writes, errors


def _run_until_done(sim, state, max_cycles, chunk=200):
    """Run in chunks until the source has sent everything (background testbenches never
    end a simulation); fail instead of hanging if the loader stops accepting beats."""
    t = 0
    while not state["sent"]:
        assert t < max_cycles, "the stream hung: not every beat was accepted"
        t += chunk
        sim.run_until(t / CLOCK_HZ)


def check_against_parser(cfg, beats, transfers, writes, errors):
    assert [(d, l) for _, d, l in transfers] == list(beats), "beats lost or duplicated"
    want_writes, want_errors = reference_parse(transfers, cfg.memory_geometry)
    assert writes == want_writes
    # The error pulse follows the offending beat (header, or the word's last beat).
    assert [c for _, c in errors] == [c for _, c in want_errors]
    for (got, _), (beat, _) in zip(errors, want_errors):
        assert beat < got <= beat + 2, f"error at cycle {got} for the beat at {beat}"


def _apply(cfg, writes):
    mems = {name: [None] * depth for name, (depth, _) in cfg.memory_geometry.items()}
    for _, name, addr, word in writes:
        mems[name][addr] = word
    return mems


@pytest.mark.parametrize("precision, gap_prob, enable_prob", [
    ("int8", 0.3, 1.0), ("int8", 0.0, 0.6), ("dual", 0.3, 0.8), ("fp32", 0.2, 1.0)])
def test_stream_loads_memory_images(precision, gap_prob, enable_prob):
    mf, cfg = _build(precision)
    beats = weight_stream(cfg, mf)
    transfers, writes, errors = run_loader(cfg, beats, seed=hash(precision) & 0xFFFF,
                                           gap_prob=gap_prob, enable_prob=enable_prob)
    check_against_parser(cfg, beats, transfers, writes, errors)
    assert errors == []
    images = memory_images(cfg, mf)
    mems = _apply(cfg, writes)
    assert mems == images
    # Exactly one write per memory word: nothing written twice, nothing missing.
    assert len(writes) == sum(len(w) for w in images.values())


def test_stream_subset():
    mf, cfg = _build("dual")
    beats = weight_stream(cfg, mf, memories={"params", "sine_lut"})
    transfers, writes, errors = run_loader(cfg, beats, seed=4)
    check_against_parser(cfg, beats, transfers, writes, errors)
    assert {name for _, name, _, _ in writes} == {"params", "sine_lut"}


def test_enable_low_holds_tready_low():
    """A packet offered while ``enable`` is low is not accepted (tready low, nothing
    written) until enable rises; then it loads completely."""
    mf, cfg = _build("int8")
    geo = cfg.memory_geometry
    words = memory_images(cfg, mf)["weights_first"]
    beats = _packet("weights_first", 0, words, geo["weights_first"][1])
    dut = WeightLoader(config=cfg)
    log, disabled_wen = [], []

    state = {"sent": False}

    async def source(ctx):
        await axis_put(ctx, dut.s_axis, beats)
        await ctx.tick().repeat(3)
        state["sent"] = True

    async def host(ctx):
        ctx.set(dut.enable, 0)
        for _ in range(20):
            _, _, tready, busy, wen = await ctx.tick().sample(dut.s_axis.tready, dut.busy,
                                                              dut.wr.en)
            assert (tready, busy, wen) == (0, 0, 0)
        # Enable mid-packet, then drop it again after a few beats.
        ctx.set(dut.enable, 1)
        await ctx.tick().repeat(4)
        ctx.set(dut.enable, 0)
        for _ in range(10):
            _, _, tready, busy, wen = await ctx.tick().sample(dut.s_axis.tready, dut.busy,
                                                              dut.wr.en)
            assert tready == 0 and busy == 1
            disabled_wen.append(wen)
        ctx.set(dut.enable, 1)

    async def monitor(ctx):
        async for _, _, en, addr, data in ctx.tick().sample(dut.wr.en, dut.wr.addr, dut.wr.data):
            if en:
                log.append((int(addr), int(data)))

    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    sim.add_testbench(source)
    sim.add_testbench(host)
    sim.add_testbench(monitor, background=True)
    _run_until_done(sim, state, 500)
    assert log == list(enumerate(words))
    # While disabled mid-packet, only the word completed by the last accepted beat lands.
    assert not any(disabled_wen[1:])


def test_faults_recover():
    """Each fault drops what the format says, and the next good packet loads correctly."""
    mf, cfg = _build("int8")
    geo = cfg.memory_geometry
    images = memory_images(cfg, mf)
    rng = random.Random(9)
    pdepth, pbits = geo["params"]
    idepth, ibits = geo["weights_int8"]
    fdepth, fbits = geo["weights_first"]
    assert pbits > 32, "the truncation case needs a multi-beat word"
    # Beats inside a dropped packet that look like good headers must not start a packet.
    fake = [(NAME_ID["params"] << 28, 0), (NAME_ID["weights_first"] << 28 | 1, 0)]
    junk = [rng.getrandbits(pbits) for _ in range(3)]
    packets = [
        # 1. good: the first half of the lane parameters
        _packet("params", 0, images["params"][:pdepth // 2], pbits),
        # 2. unknown memory ids (3: FP32 weights, absent in an INT8 build; 7: no memory)
        [(3 << 28, 0), (0x1234, 0), (0x5678, 1)],
        [(7 << 28 | 5, 0)] + fake + [(0xDEAD, 1)],
        # 3. good: the rest of the lane parameters
        _packet("params", pdepth // 2, images["params"][pdepth // 2:], pbits),
        # 4. past the end: two words fit, the rest (and look-alike headers) are dropped
        _packet("weights_int8", idepth - 2, images["weights_int8"][-2:] + [0x55, 0x66, 0x77],
                ibits)[:-1] + fake + [(0x99, 1)],
        # 5. good
        _packet("weights_first", 0, images["weights_first"], fbits),
        # 6. tlast inside the second word: one junk word lands, the partial one does not
        _cut(_packet("params", 1, junk[:2], pbits), 1 + (pbits // 32) + 1),
        # 7. an empty packet (header with tlast), then an address far past the end
        [(NAME_ID["weights_int8"] << 28 | 3, 1)],
        _packet("weights_int8", 0x0FF_FFFF, [0x12], ibits),
        # 8. tlast after the first beat of a word at address 0
        _cut(_packet("params", 0, junk[2:], pbits), 2),
        # 9. the whole model again
        weight_stream(cfg, mf),
    ]
    beats = [b for p in packets for b in p]
    transfers, writes, errors = run_loader(cfg, beats, seed=10, gap_prob=0.25, enable_prob=0.9)
    check_against_parser(cfg, beats, transfers, writes, errors)
    assert [c for _, c in errors] == [ErrorCode.WGT_MEMORY, ErrorCode.WGT_MEMORY,
                                      ErrorCode.WGT_RANGE, ErrorCode.WGT_TRUNCATED,
                                      ErrorCode.WGT_RANGE, ErrorCode.WGT_TRUNCATED]
    # Spelled out, independently of the parser: the faulty packets' writes.
    before_final = len(writes) - sum(len(w) for w in images.values())
    faulty = writes[:before_final]
    assert [(n, a) for _, n, a, _ in faulty] == (
        [("params", a) for a in range(pdepth)]
        + [("weights_int8", idepth - 2), ("weights_int8", idepth - 1)]
        + [("weights_first", a) for a in range(fdepth)]
        + [("params", 1)])
    assert faulty[-1][3] == junk[0]
    assert _apply(cfg, writes) == images


def test_truncated_then_same_memory():
    """After a truncated word the beat counter restarts: the next packet's words are whole."""
    mf, cfg = _build("dual")
    geo = cfg.memory_geometry
    images = memory_images(cfg, mf)
    pbits = geo["params"][1]
    n = -(-pbits // 32)
    for cut in range(1, n):
        bad = _cut(_packet("params", 0, [(1 << pbits) - 1], pbits), 1 + cut)
        good = _packet("params", 0, images["params"], pbits)
        beats = bad + good
        transfers, writes, errors = run_loader(cfg, beats, seed=cut, gap_prob=0.2)
        check_against_parser(cfg, beats, transfers, writes, errors)
        assert [c for _, c in errors] == [ErrorCode.WGT_TRUNCATED]
        assert [(a, w) for _, _, a, w in writes] == list(enumerate(images["params"]))


@pytest.mark.parametrize("precision, lane_bits", [("int8", 64), ("fp32", 32), ("dual", 96)])
def test_parameter_word_per_build_as_the_interface_page_says(precision, lane_bits):
    """docs/interface.md: INT8 fields (64 bits) in INT8 and dual builds, then the FP32 bias
    (32) in dual builds; an FP32-only build's lane parameter is the FP32 bias alone."""
    mf = random_model(patch=2, channels=1, hidden=6, layers=2)
    cfg = AccelConfig(model=mf.config, rows=4, cols=4, batch=8, precision=precision,
                      max_width=8, max_height=8)
    depth, bits = cfg.memory_geometry["params"]
    assert bits == cfg.cols * lane_bits
    beats = [b for b, _ in weight_stream(cfg, mf, memories={"params"})]
    assert beats[0] >> 28 == 1 and len(beats) == 1 + depth * (cfg.cols * lane_bits // 32)
