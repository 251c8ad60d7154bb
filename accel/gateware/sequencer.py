"""The layer/tile sequencer: issues one query per cycle into the datapath.

Schedule
--------
A batch of up to ``batch`` queries runs layer by layer; each layer as its tiles, output
tile ``nt`` outer and input tile ``kt`` inner (:mod:`accel.config`). Tile ``i`` starts at
``T_i`` and issues queries ``q = 0 .. len-1`` on consecutive cycles, then idles until
``T_{i+1} = T_i + period``:

* ``period = max(len, tile_min)``, where ``tile_min`` covers the shadow-weight reload
  (``(rows-1)*L + rows + 1 + D``: the next tile's ``rows`` words may only shift in after
  this tile's last swap, and all reach the shadow registers, ``D`` cycles after their
  shift, before the next tile starts) and the partial-sum read-after-write between
  consecutive input tiles (``A + 2``); ``L`` is the array's row skew, ``A`` its column
  latency and ``D`` its load delay (:class:`~accel.config.Timing`).
* the last tile of a layer waits ``len + drain`` instead: the next layer reads what this
  layer writes, so the pipeline (feed, array, post-processing, all columns) empties first.

The next tile's weights are read in cycles ``wload_start .. wload_start + rows - 1`` of a
tile, one word per cycle. Before a job's first tile, a preload period loads tile 0's.

A dual build keeps one set of these constants per mode (:meth:`AccelConfig.timing_for
<accel.config.AccelConfig.timing_for>`) and runs a job on its mode's.

Everything the datapath does with a query is decided here and travels with it as an
:data:`issue layout <issue_layout>` record through a delay line; see :mod:`accel.gateware.datapath`.
"""

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..config import AccelConfig

__all__ = ["issue_layout", "Sequencer", "NEXT_STAGES"]

#: Registered steps that work out the next tile from the current one.
NEXT_STAGES = 3


def issue_layout(config):
    """The record issued per cycle for one query of one tile."""
    R, C = config.rows, config.cols
    max_kt = max(g.kt for g in config.layers)
    return data.StructLayout({
        "valid":      1,
        "q":          range(config.batch),          # query within the batch
        "swap":       1,                            # first query of the tile
        "first":      1,                            # layer 0: inputs are coordinates
        "coord_half": 1,
        "read_half":  1,                            # activation half this layer reads
        "write_half": 1,                            # ... and writes
        "kt":         range(max(max_kt, 2)),
        "rows_valid": range(R + 1),                 # rows r < rows_valid hold real inputs
        "first_kt":   1,                            # partial sum starts at the bias
        "last_kt":    1,                            # the column's sum is complete
        "param_addr": range(max(config.param_depth, 2)),
        "wbank":      range(max(R // C, 2)),        # lane c writes bank wbank*C + c ...
        "wword":      range(max(config.act_words, 2)),  # ... at word wword of the query
        "cols_valid": range(C + 1),                 # lanes c < cols_valid hold real outputs
        "out_layer":  1,
        "out_word":   range(max(config.out_words, 2)),
        "slot":       range(config.out_slots),
        "commit":     1,                            # last query of the batch's last tile
        # Memory addresses of the query, formed here by counters so that the datapath
        # applies them as they come: activation read (read_half, q, kt) and write
        # (write_half, q, wword), coordinate read (coord_half, q).
        "act_rd":     range(config.act_depth),
        "act_wr":     range(config.act_depth),
        "coord_rd":   range(2 * config.batch),
    })


class Sequencer(wiring.Component):
    """Tile scheduler and query issuer.

    Ports
    -----
    start : In(1)
        Pulse: a new job (resets the output slot pointer and the query count).
    batch_valid : In(1), batch_len : In(range(batch + 1)), batch_last : In(1)
        A batch of coordinates is ready in coordinate half ``coord_half`` (alternating
        from 0 after ``start``); ``batch_take`` pulses when the sequencer starts it.
    batch_free : Out(1)
        Pulse: the batch's coordinates are no longer needed (layer 0 has drained).
    freed : In(32)
        Queries whose pixels the output unit has sent; a batch starts only when all its
        queries fit in the output ring (``queries issued + len <= freed + out_slots``).
    issue : Out(issue_layout)
        One record per cycle (``valid`` low in idle cycles).
    w_addr : Out(weight_addr_bits), w_load : Out(1)
        Weight-memory read for the shadow reload; the word arrives one cycle later.
    mode : In(1)
        0 INT8, 1 FP32: the schedule of a dual build's job (constant during a job;
        ignored by other builds).
    done : Out(1)
        Pulse after the last batch's final tile period.
    busy : Out(1)
    """

    def __init__(self, *, config):
        if not isinstance(config, AccelConfig):
            raise TypeError(f"config must be an AccelConfig, not {config!r}")
        self._config = config
        self.timing = config.timing
        self._timings = {p: config.timing_for(p) for p in config.precisions}
        super().__init__({
            "start":       In(1),
            "batch_valid": In(1),
            "batch_len":   In(range(config.batch + 1)),
            "batch_last":  In(1),
            "batch_take":  Out(1),
            "batch_free":  Out(1),
            "coord_half":  Out(1),
            "freed":       In(32),
            "issue":       Out(issue_layout(config)),
            "w_addr":      Out(config.weight_addr_bits),
            "w_load":      Out(1),
            "mode":        In(1),
            "done":        Out(1),
            "busy":        Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, timings = self._config, self._timings.values()
        R, C = cfg.rows, cfg.cols
        L = len(cfg.layers)
        D = R // C
        max_period = max(max(cfg.batch, t.tile_min) + t.drain + 1 for t in timings)
        # The next tile's state is worked out in NEXT_STAGES registered steps after a tile
        # starts; a tile lasts at least tile_min cycles, more than that.
        assert all(t.tile_min > NEXT_STAGES + 1 for t in timings), cfg

        def const(name):
            """Schedule constant ``name`` of the job's mode."""
            at = {p: getattr(t, name) for p, t in self._timings.items()}
            if len(set(at.values())) == 1:
                return next(iter(at.values()))
            return Mux(self.mode, at["fp32"], at["int8"])
        tile_min, drain, wload_start = const("tile_min"), const("drain"), const("wload_start")
        max_kt = max(max(g.kt for g in cfg.layers), 2)
        max_nt = max(g.nt for g in cfg.layers)

        def tile_state(name):
            """The registers that describe one tile (the current one, or the next)."""
            return {
                "layer": Signal(range(L), name=f"{name}_layer"),
                "nt": Signal(range(max_nt + 1), name=f"{name}_nt"),
                "kt": Signal(range(max_kt + 1), name=f"{name}_kt"),
                "param_addr": Signal(range(max(cfg.param_depth, 2)), name=f"{name}_param"),
                "wbank": Signal(range(max(D, 2)), name=f"{name}_wbank"),
                "wword": Signal(range(max(cfg.act_words, 2)), name=f"{name}_wword"),
            }

        # Activation addresses: half h, query q, word w at h * B * AW + q * AW + w.
        AW, half_words = cfg.act_words, cfg.batch * cfg.act_words
        act_addr = range(cfg.act_depth)

        def tile_flags(name):
            return {
                "last_kt": Signal(name=f"{name}_last_kt"),
                "last_nt": Signal(name=f"{name}_last_nt"),
                "first_layer": Signal(name=f"{name}_first_layer"),
                "final_layer": Signal(name=f"{name}_final_layer"),
                "is_out": Signal(name=f"{name}_is_out"),
                "rows_valid": Signal(range(R + 1), name=f"{name}_rows_valid"),
                "cols_valid": Signal(range(C + 1), name=f"{name}_cols_valid"),
            }

        cur, cur_f = tile_state("cur"), tile_flags("cur")
        # The current tile's first activation read and write addresses (query 0), and the
        # running addresses of query `cyc`.
        cur_rd, cur_wr = Signal(act_addr, name="cur_rd"), Signal(act_addr, name="cur_wr")
        run_rd, run_wr = Signal(act_addr, name="run_rd"), Signal(act_addr, name="run_wr")
        run_coord = Signal(range(2 * cfg.batch))
        cyc = Signal(range(max_period + 1))
        length = Signal(range(cfg.batch + 1))
        last_batch = Signal()
        slot = Signal(range(cfg.out_slots))       # output slot of query `cyc`
        slot_base = Signal(range(cfg.out_slots))  # output slot of the batch's query 0

        def first_tile():
            """Statements that make tile 0 of layer 0 current (every value a constant)."""
            g = cfg.layers[0]
            return [*(sig.eq(0) for sig in cur.values()),
                    cur_f["last_kt"].eq(g.kt == 1), cur_f["last_nt"].eq(g.nt == 1),
                    cur_f["first_layer"].eq(1), cur_f["final_layer"].eq(L == 1),
                    cur_f["is_out"].eq(g.kind == "out"),
                    cur_f["rows_valid"].eq(g.k - (g.kt - 1) * R if g.kt == 1 else R),
                    cur_f["cols_valid"].eq(g.n - (g.nt - 1) * C if g.nt == 1 else C)]

        # The next tile, in registered steps from the current one (every path between
        # registers one carry chain and a few LUTs deep).
        # Step 1: its indices (the batch's last tile has no next; what is computed then is
        # not used).
        nx1 = tile_state("nx1")
        wrap_bank = cur["wbank"] == D - 1
        with m.If(~cur_f["last_kt"]):
            m.d.sync += [nx1["layer"].eq(cur["layer"]), nx1["nt"].eq(cur["nt"]),
                         nx1["kt"].eq(cur["kt"] + 1), nx1["param_addr"].eq(cur["param_addr"]),
                         nx1["wbank"].eq(cur["wbank"]), nx1["wword"].eq(cur["wword"])]
        with m.Elif(~cur_f["last_nt"]):
            m.d.sync += [nx1["layer"].eq(cur["layer"]), nx1["nt"].eq(cur["nt"] + 1),
                         nx1["kt"].eq(0), nx1["param_addr"].eq(cur["param_addr"] + 1),
                         nx1["wbank"].eq(Mux(wrap_bank, 0, cur["wbank"] + 1)),
                         nx1["wword"].eq(Mux(wrap_bank, cur["wword"] + 1, cur["wword"]))]
        with m.Else():
            m.d.sync += [nx1["layer"].eq(cur["layer"] + 1), nx1["nt"].eq(0), nx1["kt"].eq(0),
                         nx1["param_addr"].eq(cur["param_addr"] + 1),
                         nx1["wbank"].eq(0), nx1["wword"].eq(0)]
        # Step 2: the constants of its layer.
        nx2 = tile_state("nx2")
        kt_last, nt_last = Signal.like(nx1["kt"]), Signal.like(nx1["nt"])
        k_last, n_last = Signal(range(R + 1)), Signal(range(C + 1))
        is_out, final_layer = Signal(), Signal()
        m.d.sync += [nx2[k].eq(v) for k, v in nx1.items()]
        with m.Switch(nx1["layer"]):
            for g in cfg.layers:
                with m.Case(g.index):
                    m.d.sync += [kt_last.eq(g.kt - 1), nt_last.eq(g.nt - 1),
                                 k_last.eq(g.k - (g.kt - 1) * R), n_last.eq(g.n - (g.nt - 1) * C),
                                 is_out.eq(g.kind == "out"), final_layer.eq(g.index == L - 1)]
        # Step 3: its flags and its first activation addresses.
        nx3, nx3_f = tile_state("nx3"), tile_flags("nx3")
        nx3_rd, nx3_wr = Signal(act_addr, name="nx3_rd"), Signal(act_addr, name="nx3_wr")
        m.d.sync += [nx3_rd.eq(Mux(nx2["layer"][0], 0, half_words) + nx2["kt"]),
                     nx3_wr.eq(Mux(nx2["layer"][0], half_words, 0) + nx2["wword"])]
        nx_last_kt = nx2["kt"] == kt_last
        nx_last_nt = nx2["nt"] == nt_last
        m.d.sync += [nx3[k].eq(v) for k, v in nx2.items()]
        m.d.sync += [
            nx3_f["last_kt"].eq(nx_last_kt), nx3_f["last_nt"].eq(nx_last_nt),
            nx3_f["first_layer"].eq(nx2["layer"] == 0), nx3_f["final_layer"].eq(final_layer),
            nx3_f["is_out"].eq(is_out),
            nx3_f["rows_valid"].eq(Mux(nx_last_kt, k_last, R)),
            nx3_f["cols_valid"].eq(Mux(nx_last_nt, n_last, C)),
        ]

        # Per batch: the last cycle of an ordinary tile and of a layer's last tile
        # (period - 1, :meth:`accel.config.Timing.period`), worked out in registered steps
        # after the batch starts, long before its first tile ends.
        end_base = Signal.like(cyc)             # max(len, tile_min) - 1
        end_drained = Signal.like(cyc)          # len + drain - 1
        end_last = Signal.like(cyc)             # the larger of the two
        m.d.sync += [
            end_base.eq(Mux(length > tile_min, length - 1, tile_min - 1)),
            end_drained.eq(length + (drain - 1)),
            end_last.eq(Mux(end_base > end_drained, end_base, end_drained)),
        ]
        # The next batch's first output slot, (slot_base + len) mod out_slots.
        base_sum = Signal(range(2 * cfg.out_slots + 1))
        next_base = Signal.like(slot_base)
        m.d.sync += [base_sum.eq(slot_base + length),
                     next_base.eq(Mux(base_sum >= cfg.out_slots, base_sum - cfg.out_slots,
                                      base_sum))]
        last_query = Signal.like(cyc)
        m.d.sync += last_query.eq(length - 1)
        last_tile = cur_f["last_kt"] & cur_f["last_nt"]
        end_cyc = Signal.like(cyc)
        m.d.sync += end_cyc.eq(Mux(last_tile, end_last, end_base))
        at_end = cyc == end_cyc

        # Output credit: a batch starts only when all its queries fit in the output ring,
        # `issued + len <= freed + out_slots`. `credit` is out_slots - issued, and `room`
        # its sum with `freed`, registered: `freed` only grows, so the comparison is at
        # worst one cycle late, never early.
        # `room` = freed + out_slots - issued is the ring's free slots, always in
        # 0..out_slots: kept modulo 2**w (`freed`'s low bits, a w-bit credit), it is exact,
        # and the comparison is w bits long, not 34 (on the ECP5 it was this build's
        # critical path).
        w = cfg.out_slots.bit_length() + 1
        credit = Signal(w)
        room = Signal(w)
        m.d.sync += room.eq(self.freed[:w] + credit)
        fits = room >= self.batch_len

        # Shadow-weight reload of the next tile: cycles wload_start .. wload_start+rows-1 of
        # every tile (and of the preload period), one word per cycle.
        w_ptr = Signal(range(max(cfg.weight_depth, 2)))
        loading = Signal()
        with m.If(loading):
            m.d.sync += w_ptr.eq(Mux(w_ptr == cfg.weight_depth - 1, 0, w_ptr + 1))
        in_window = (cyc >= wload_start) & (cyc < wload_start + R)

        # Every output leaves through a register (the issue record, the weight read, the
        # batch release), one cycle after the decision: the datapath and the batcher see
        # the whole schedule one cycle later (:attr:`accel.config.Timing.ISSUE`).
        rec = Signal.like(self.issue)
        batch_free = Signal()
        m.d.sync += [self.issue.eq(rec), self.w_addr.eq(w_ptr), self.w_load.eq(loading),
                     self.batch_free.eq(batch_free)]

        def batch_start(half, base):
            """Statements that set up the next batch's first tile, made before it is
            taken: it starts in coordinate half ``half`` at output slot ``base``, with
            tile 0 of layer 0, which reads activation half 1 (its inputs are coordinates)
            and writes half 0. Taking the batch then only sets its length and credit, so
            the take decision drives a handful of registers, not every counter."""
            return [cyc.eq(0), slot.eq(base), *first_tile(),
                    cur_rd.eq(half_words), cur_wr.eq(0), run_rd.eq(half_words), run_wr.eq(0),
                    run_coord.eq(Mux(half, cfg.batch, 0))]

        with m.FSM(name="seq"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [credit.eq(cfg.out_slots), slot_base.eq(0),
                                 self.coord_half.eq(0), w_ptr.eq(0), cyc.eq(0)]
                    m.next = "PRELOAD"
            with m.State("PRELOAD"):
                m.d.comb += [self.busy.eq(1), loading.eq(in_window)]
                m.d.sync += cyc.eq(cyc + 1)
                with m.If(cyc == tile_min - 1):
                    m.d.sync += batch_start(self.coord_half, slot_base)
                    m.next = "WAIT"
            with m.State("WAIT"):
                m.d.comb += self.busy.eq(1)
                with m.If(self.batch_valid & fits):
                    m.d.comb += self.batch_take.eq(1)
                    m.d.sync += [length.eq(self.batch_len), last_batch.eq(self.batch_last),
                                 credit.eq(credit - self.batch_len)]
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [self.busy.eq(1), loading.eq(in_window)]
                with m.If(cyc < length):
                    m.d.comb += [
                        rec.valid.eq(1),
                        rec.q.eq(cyc),
                        rec.swap.eq(cyc == 0),
                        rec.first.eq(cur_f["first_layer"]),
                        rec.coord_half.eq(self.coord_half),
                        rec.read_half.eq(~cur["layer"][0]),
                        rec.write_half.eq(cur["layer"][0]),
                        rec.kt.eq(cur["kt"]),
                        rec.rows_valid.eq(cur_f["rows_valid"]),
                        rec.first_kt.eq(cur["kt"] == 0),
                        rec.last_kt.eq(cur_f["last_kt"]),
                        rec.param_addr.eq(cur["param_addr"]),
                        rec.wbank.eq(cur["wbank"]),
                        rec.wword.eq(cur["wword"]),
                        rec.cols_valid.eq(cur_f["cols_valid"]),
                        rec.out_layer.eq(cur_f["is_out"]),
                        rec.out_word.eq(cur["nt"]),
                        rec.slot.eq(slot),
                        rec.commit.eq(cur_f["is_out"] & last_tile & (cyc == last_query)),
                        rec.act_rd.eq(run_rd),
                        rec.act_wr.eq(run_wr),
                        rec.coord_rd.eq(run_coord),
                    ]
                m.d.sync += [cyc.eq(cyc + 1),
                             slot.eq(Mux(slot == cfg.out_slots - 1, 0, slot + 1)),
                             run_rd.eq(run_rd + AW), run_wr.eq(run_wr + AW),
                             run_coord.eq(run_coord + 1)]
                with m.If(at_end):
                    m.d.sync += [cyc.eq(0), slot.eq(slot_base),
                                 run_rd.eq(cur_rd), run_wr.eq(cur_wr),
                                 run_coord.eq(Mux(self.coord_half, cfg.batch, 0))]
                    with m.If(~last_tile | ~cur_f["final_layer"]):
                        m.d.sync += [*(cur[k].eq(v) for k, v in nx3.items()),
                                     *(cur_f[k].eq(v) for k, v in nx3_f.items()),
                                     cur_rd.eq(nx3_rd), cur_wr.eq(nx3_wr),
                                     run_rd.eq(nx3_rd), run_wr.eq(nx3_wr)]
                        with m.If(last_tile & cur_f["first_layer"]):
                            m.d.comb += batch_free.eq(1)
                    with m.Else():
                        # Batch complete: its slots advance, the next batch may start.
                        m.d.sync += [slot_base.eq(next_base),
                                     self.coord_half.eq(~self.coord_half),
                                     *batch_start(~self.coord_half, next_base)]
                        with m.If(last_batch):
                            m.d.sync += self.done.eq(1)
                            m.next = "IDLE"
                        with m.Else():
                            m.next = "WAIT"
        with m.If(self.done):
            m.d.sync += self.done.eq(0)
        return m
