"""Host-side drivers for Amaranth async testbenches: AXI4-Stream and AXI4-Lite.

:mod:`accel.flows.simulation` models a host with them, and every RTL test uses them (through
``tests/simutil.py``), so there is one implementation of each handshake.

All helpers take ``ctx`` (an Amaranth 0.5 testbench context) and act on the clock edge of
the ``sync`` domain. ``rng`` (a ``random.Random``) adds random gaps / back-pressure.
"""

import random

__all__ = ["axis_put", "axis_get", "axis_monitor", "axil_write", "axil_read", "stream_put",
           "stream_get", "make_rng"]


async def stream_put(ctx, stream, payload):
    """Send one ``amaranth.lib.stream`` payload."""
    ctx.set(stream.valid, 1)
    ctx.set(stream.payload, payload)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def stream_get(ctx, stream):
    """Receive one ``amaranth.lib.stream`` payload."""
    ctx.set(stream.ready, 1)
    payload, = await ctx.tick().sample(stream.payload).until(stream.valid)
    ctx.set(stream.ready, 0)
    return payload


async def axis_put(ctx, port, beats, *, rng=None, gap_prob=0.0, max_gap=3):
    """Send AXI4-Stream beats. ``beats`` is an iterable of ``(tdata, tlast)``.

    With ``rng`` and ``gap_prob``, ``tvalid`` drops for 1..``max_gap`` cycles before a beat
    with that probability (a source with gaps).
    """
    for data, last in beats:
        if rng is not None and rng.random() < gap_prob:
            ctx.set(port.tvalid, 0)
            await ctx.tick().repeat(rng.randint(1, max_gap))
        ctx.set(port.tdata, data)
        ctx.set(port.tlast, last)
        ctx.set(port.tvalid, 1)
        await ctx.tick().until(port.tready)
    ctx.set(port.tvalid, 0)
    ctx.set(port.tlast, 0)


async def axis_get(ctx, port, *, count=None, until_last=False, rng=None, stall_prob=0.0,
                   max_stall=3, user=False):
    """Receive AXI4-Stream beats as a list of ``(tdata, tlast)`` (``(tdata, tlast, tuser)``
    with ``user=True``), stopping after ``count`` beats or the first ``tlast``.

    With ``rng`` and ``stall_prob``, ``tready`` drops for 1..``max_stall`` cycles before a
    beat with that probability (a sink applying back-pressure).
    """
    if count is None and not until_last:
        raise ValueError("give count or until_last")
    out = []
    signals = [port.tdata, port.tlast] + ([port.tuser] if user else [])
    while True:
        if rng is not None and rng.random() < stall_prob:
            ctx.set(port.tready, 0)
            await ctx.tick().repeat(rng.randint(1, max_stall))
        ctx.set(port.tready, 1)
        sampled = await ctx.tick().sample(*signals).until(port.tvalid)
        beat = tuple(int(v) for v in sampled)
        out.append(beat)
        if (count is not None and len(out) == count) or (until_last and beat[1]):
            break
    ctx.set(port.tready, 0)
    return out


async def axis_monitor(ctx, port, log, *, user=False):
    """Record every AXI4-Stream transfer on ``port`` into ``log`` and check the hold rule.

    Runs forever (add it with ``background=True``). Appends ``(tdata, tlast)`` (with
    ``tuser`` when ``user=True``) per transfer and asserts that a beat offered without
    ``tready`` stays offered, unchanged, in the next cycle.
    """
    signals = [port.tvalid, port.tready, port.tdata, port.tlast] + ([port.tuser] if user else [])
    stalled = None
    async for _, _, valid, ready, *beat in ctx.tick().sample(*signals):
        beat = tuple(int(v) for v in beat)
        if stalled is not None:
            assert valid, "tvalid dropped before the beat transferred"
            assert beat == stalled, f"beat changed while stalled: {stalled} -> {beat}"
        stalled = beat if valid and not ready else None
        if valid and ready:
            log.append(beat)


async def axil_write(ctx, bus, addr, data, *, strb=0xF, aw_delay=0, w_delay=0):
    """AXI4-Lite write; returns ``bresp``.

    ``awvalid`` rises ``aw_delay`` cycles and ``wvalid`` ``w_delay`` cycles after the call
    (both 0: address and data together), to exercise either arrival order.
    """
    ctx.set(bus.awaddr, addr)
    ctx.set(bus.wdata, data)
    ctx.set(bus.wstrb, strb)
    aw_done = w_done = False
    cycle = 0
    while not (aw_done and w_done):
        ctx.set(bus.awvalid, not aw_done and cycle >= aw_delay)
        ctx.set(bus.wvalid, not w_done and cycle >= w_delay)
        *_, awvalid, awready, wvalid, wready = await ctx.tick().sample(
            bus.awvalid, bus.awready, bus.wvalid, bus.wready)
        aw_done = aw_done or bool(awvalid and awready)
        w_done = w_done or bool(wvalid and wready)
        cycle += 1
    ctx.set(bus.awvalid, 0)
    ctx.set(bus.wvalid, 0)
    ctx.set(bus.bready, 1)
    resp, = await ctx.tick().sample(bus.bresp).until(bus.bvalid)
    ctx.set(bus.bready, 0)
    return int(resp)


async def axil_read(ctx, bus, addr):
    """AXI4-Lite read; returns ``(rdata, rresp)``."""
    ctx.set(bus.araddr, addr)
    ctx.set(bus.arvalid, 1)
    await ctx.tick().until(bus.arready)
    ctx.set(bus.arvalid, 0)
    ctx.set(bus.rready, 1)
    data, resp = await ctx.tick().sample(bus.rdata, bus.rresp).until(bus.rvalid)
    ctx.set(bus.rready, 0)
    return int(data), int(resp)


def make_rng(seed):
    return random.Random(seed)
