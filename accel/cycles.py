"""Analytic cycle model of a frame, validated against RTL simulation.

The model follows the hardware's schedule step by step, at the level of batches, tiles and
patch rows rather than cycles of logic, so it is exact where the RTL is deterministic and
runs in milliseconds for frames far too large to simulate:

1. START; the coordinate generator needs ``setup`` cycles, then emits one coordinate per
   cycle into the batcher, which hands a batch over when it holds ``batch`` coordinates
   (or the frame's last). A half of the coordinate buffer is refilled only after layer 0
   of the batch that used it has drained.
2. The sequencer preloads tile 0's weights (``tile_min`` cycles), then runs each batch as
   its tiles, each ``period(len)`` long (:class:`~accel.config.Timing`), with one
   cycle between batches to take the next.
3. A batch's outputs are all written ``result_tap + cols - 1`` cycles after its last query
   issues; the output unit can then read out every patch row the batch completed, one
   beat (``pixels_per_beat`` pixels) per cycle, ``latency`` cycles later, in order.
4. The job ends the cycle after the last pixel leaves (the sink is assumed always ready).

:func:`frame_cycles` returns the total and its parts; :func:`pe_utilization` the fraction
of MAC slots doing a useful multiply (true layer shapes, no padding).
"""

from .config import CLOCK_HZ, AccelConfig

__all__ = ["frame_cycles", "frame_cycles_floor", "useful_macs", "query_cycles_bound",
           "pe_utilization"]


def useful_macs(config, queries):
    """Multiply-accumulates of ``queries`` forward passes at the layers' true shapes."""
    return queries * sum(g.k * g.n for g in config.layers)


def frame_cycles(config, width, height, *, frames=1, first_frame=0, clock_hz=CLOCK_HZ,
                 precision=None):
    """Cycles from START to the last pixel of a ``width x height`` frame (a video build:
    of ``frames`` frames from ``first_frame`` on, one job) in ``precision`` (``None``: the
    build's own, FP32 on a dual build, whose INT8 jobs take an INT8 build's cycles:
    :meth:`~accel.config.AccelConfig.timing_for`).

    Returns a dict: ``total``, ``compute`` (cycles the sequencer spends running tiles),
    ``batches``, ``queries``, ``tail`` (cycles after the last batch's results are written),
    ``fps`` (frames per second at ``clock_hz``: a clip's frames count each) and
    ``clock_hz``.
    """
    if not isinstance(config, AccelConfig):
        raise TypeError(f"config must be an AccelConfig, not {config!r}")
    config.check_frame(width, height)
    if (frames, first_frame) != (1, 0) and not config.model.is_video:
        raise ValueError("frames and first_frame are for video builds")
    tm = config.timing_for(precision)
    n, B = config.model.patch, config.batch
    pw, ph = width // n, height // n
    # A clip leaves as its frames stacked: the generator runs on from one frame's last
    # patch row to the next frame's first without a pause, and the output unit likewise.
    Q = pw * ph * frames
    # The generator steps t once a cycle to the first frame before its first query.
    setup = tm.coord_setup + first_frame
    out_latency = tm.scatter
    layers = config.layers

    lengths = [min(B, Q - b) for b in range(0, Q, B)]
    # batch length -> (layer 0's cycles, all, the last tile's): every batch of one length
    # runs the same tiles, so their periods are summed once.
    spans = {}
    # Constant over the frame, read once: the loop below runs per batch and patch row, and
    # `--array auto` runs it on thousands of candidate arrays.
    out_slots, row_cycles = config.out_slots, n * width // config.pixels_per_beat
    commit_lag = tm.ISSUE + tm.result_tap + config.cols - 1

    # Cycle 0 is the START cycle. Coordinates: the generator's first one is written at
    # `setup`, then one per cycle unless the half to fill is still in use.
    t_gen = setup
    layer0_end = []
    seq_free = tm.tile_min + 1              # first cycle the sequencer can take a batch
    compute = 0
    issued = 0                              # queries of started batches
    row_end = []                            # cycle each patch row's last pixel leaves
    rows_done = 0
    t_out = 0
    end = 0
    for b, length in enumerate(lengths):
        first = t_gen if b < 2 else max(t_gen, layer0_end[b - 2] + 1)
        t_gen = first + length
        take = max(seq_free, t_gen)          # visible the cycle after its last write
        # Output credit: the batch must fit in the ring beside what is not yet sent.
        need = issued + length - out_slots
        if need > 0:
            rows_needed = -(-need // pw)
            # The sequencer compares a registered sum with the output unit's count: it
            # sees a row freed the second cycle after its last pixel leaves.
            take = max(take, row_end[rows_needed - 1] + 2)
        start = take + 1
        if length not in spans:
            spans[length] = _span(tm, layers, length)
        first_layer, span, last_period = spans[length]
        # batch_free: layer 0's last cycle, through the sequencer's output register.
        layer0_end.append(start + first_layer - 1 + tm.ISSUE)
        t = start + span
        compute += span
        seq_free = t                         # WAIT in the cycle after the last tile
        issued += length
        end = t
        # All its results are written once the final tile's last query reaches the last
        # lane's write; then the rows it completes stream out in order.
        committed = t - last_period + length - 1 + commit_lag
        ready = committed + out_latency
        for _ in range(rows_done, issued // pw):
            t_out = max(t_out, ready) + row_cycles
            row_end.append(t_out)
        rows_done = issued // pw
    total = t_out + 1
    return {
        "total": total,
        "compute": compute,
        "batches": len(lengths),
        "queries": Q,
        "tail": total - end,
        "fps": clock_hz * frames / total,
        "clock_hz": clock_hz,
    }


def _span(tm, layers, length):
    """``(layer 0's cycles, all layers', the last tile's period)`` of a batch of
    ``length`` queries."""
    t = 0
    for li, g in enumerate(layers):
        for i in range(g.tiles):
            t += tm.period(length, last_of_layer=(i == g.tiles - 1))
        if li == 0:
            first_layer = t
    return first_layer, t, tm.period(length, last_of_layer=True)


def frame_cycles_floor(config, width, height, *, frames=1, precision=None):
    """A lower bound on :func:`frame_cycles`'s ``total`` for the same frame, clip length
    and precision (``first_frame`` and the clock do not lower it), from the
    sequencer's tiles alone, in microseconds where the model takes milliseconds: the
    tiles run one after another, and the last batch's results leave after its last
    tile has issued its queries. :func:`accel.sizing.auto_array` skips the arrays it
    shows cannot win."""
    tm = config.timing_for(precision)
    n, B = config.model.patch, config.batch
    Q = (width // n) * (height // n) * frames
    full, rest = divmod(Q, B)
    compute = full * _span(tm, config.layers, B)[1]
    last = rest or B
    if rest:
        compute += _span(tm, config.layers, rest)[1]
    return compute - tm.period(last, last_of_layer=True) + last + 1


def query_cycles_bound(config, queries):
    """An upper bound on the cycles of a query-mode job of ``queries`` queries, for
    timeouts (not a cycle model): every batch full and run after the last one has left,
    and each query's ``n * n`` pixels sent alone (a beat of ``pixels_per_beat`` a cycle)."""
    if not isinstance(config, AccelConfig):
        raise TypeError(f"config must be an AccelConfig, not {config!r}")
    tm, B = config.timing, config.batch
    per_batch = sum(tm.period(B, last_of_layer=(i == g.tiles - 1))
                    for g in config.layers for i in range(g.tiles))
    batches = -(-int(queries) // B)
    n = config.model.patch
    return (tm.coord_setup + batches * (per_batch + tm.ISSUE + tm.depth + tm.scatter)
            + queries * n * n // config.pixels_per_beat)


def pe_utilization(config, width, height, cycles=None, *, frames=1, first_frame=0,
                   precision=None):
    """Useful MACs / (PEs x cycles) for a frame, or a video build's clip of ``frames``
    (cycles from the model, of ``precision`` as :func:`frame_cycles`, unless given)."""
    n = config.model.patch
    q = (width // n) * (height // n) * frames
    if cycles is None:
        cycles = frame_cycles(config, width, height, frames=frames,
                              first_frame=first_frame, precision=precision)["total"]
    return useful_macs(config, q) / (config.rows * config.cols * cycles)
