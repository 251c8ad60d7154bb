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

Everything the datapath does with a query is decided here and travels with it as an
:data:`issue layout <issue_layout>` record through a delay line; see :mod:`accel.gateware.datapath`.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..config import AccelConfig

__all__ = ["issue_layout", "Sequencer"]


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
    done : Out(1)
        Pulse after the last batch's final tile period.
    busy : Out(1)
    """

    def __init__(self, *, config):
        if not isinstance(config, AccelConfig):
            raise TypeError(f"config must be an AccelConfig, not {config!r}")
        self._config = config
        self.timing = config.timing
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
            "done":        Out(1),
            "busy":        Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, tm = self._config, self.timing
        R, C = cfg.rows, cfg.cols
        L = len(cfg.layers)
        max_period = max(cfg.batch, tm.tile_min) + tm.drain + 1

        layer = Signal(range(L))
        nt = Signal(range(max(g.nt for g in cfg.layers) + 1))
        kt = Signal(range(max(max(g.kt for g in cfg.layers), 2) + 1))
        cyc = Signal(range(max_period + 1))
        period = Signal.like(cyc)
        length = Signal(range(cfg.batch + 1))
        last_batch = Signal()
        issued = Signal(32)                       # queries of started batches
        slot_base = Signal(range(cfg.out_slots))  # output slot of the batch's query 0
        param_addr = Signal(range(max(cfg.param_depth, 2)))

        # Per-layer constants, selected by the current layer.
        kt_n, nt_n = Signal.like(kt), Signal.like(nt)
        k_last, n_last = Signal(range(R + 1)), Signal(range(C + 1))
        is_out = Signal()
        with m.Switch(layer):
            for g in cfg.layers:
                with m.Case(g.index):
                    m.d.comb += [kt_n.eq(g.kt), nt_n.eq(g.nt),
                                 k_last.eq(g.k - (g.kt - 1) * R), n_last.eq(g.n - (g.nt - 1) * C),
                                 is_out.eq(g.kind == "out")]
        last_kt = kt == kt_n - 1
        last_nt = nt == nt_n - 1
        last_tile_of_layer = last_kt & last_nt

        # Shadow-weight reload of the next tile: cycles wload_start .. wload_start+rows-1 of
        # every tile (and of the preload period), one word per cycle.
        w_ptr = Signal(range(max(cfg.weight_depth, 2)))
        loading = Signal()
        with m.If(loading):
            m.d.comb += self.w_load.eq(1)
            m.d.sync += w_ptr.eq(Mux(w_ptr == cfg.weight_depth - 1, 0, w_ptr + 1))
        m.d.comb += self.w_addr.eq(w_ptr)
        in_window = (cyc >= tm.wload_start) & (cyc < tm.wload_start + R)

        def tile_period(n):
            base = Mux(n > tm.tile_min, n, tm.tile_min)
            drained = Mux(base > n + tm.drain, base, n + tm.drain)
            return Mux(last_tile_of_layer, drained, base)

        rec = self.issue
        slot = Signal(range(cfg.out_slots))
        m.d.comb += slot.eq(Mux(slot_base + cyc >= cfg.out_slots,
                                slot_base + cyc - cfg.out_slots, slot_base + cyc))

        with m.FSM(name="seq"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [issued.eq(0), slot_base.eq(0), self.coord_half.eq(0),
                                 w_ptr.eq(0), cyc.eq(0)]
                    m.next = "PRELOAD"
            with m.State("PRELOAD"):
                m.d.comb += [self.busy.eq(1), loading.eq(in_window)]
                m.d.sync += cyc.eq(cyc + 1)
                with m.If(cyc == tm.tile_min - 1):
                    m.next = "WAIT"
            with m.State("WAIT"):
                m.d.comb += self.busy.eq(1)
                fits = issued + self.batch_len <= self.freed + cfg.out_slots
                with m.If(self.batch_valid & fits):
                    m.d.comb += self.batch_take.eq(1)
                    m.d.sync += [length.eq(self.batch_len), last_batch.eq(self.batch_last),
                                 layer.eq(0), nt.eq(0), kt.eq(0), cyc.eq(0), param_addr.eq(0)]
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [self.busy.eq(1), loading.eq(in_window)]
                m.d.comb += period.eq(tile_period(length))
                with m.If(cyc < length):
                    m.d.comb += [
                        rec.valid.eq(1),
                        rec.q.eq(cyc),
                        rec.swap.eq(cyc == 0),
                        rec.first.eq(layer == 0),
                        rec.coord_half.eq(self.coord_half),
                        rec.read_half.eq(~layer[0]),
                        rec.write_half.eq(layer[0]),
                        rec.kt.eq(kt),
                        rec.rows_valid.eq(Mux(last_kt, k_last, R)),
                        rec.first_kt.eq(kt == 0),
                        rec.last_kt.eq(last_kt),
                        rec.param_addr.eq(param_addr),
                        rec.wbank.eq(nt % (R // C)),
                        rec.wword.eq(nt // (R // C)),
                        rec.cols_valid.eq(Mux(last_nt, n_last, C)),
                        rec.out_layer.eq(is_out),
                        rec.out_word.eq(nt),
                        rec.slot.eq(slot),
                        rec.commit.eq(is_out & last_tile_of_layer & (cyc == length - 1)),
                    ]
                m.d.sync += cyc.eq(cyc + 1)
                with m.If(cyc == period - 1):
                    m.d.sync += cyc.eq(0)
                    with m.If(~last_kt):
                        m.d.sync += kt.eq(kt + 1)
                    with m.Elif(~last_nt):
                        m.d.sync += [kt.eq(0), nt.eq(nt + 1), param_addr.eq(param_addr + 1)]
                    with m.Elif(layer != L - 1):
                        m.d.sync += [kt.eq(0), nt.eq(0), layer.eq(layer + 1),
                                     param_addr.eq(param_addr + 1)]
                        with m.If(layer == 0):
                            m.d.comb += self.batch_free.eq(1)
                    with m.Else():
                        # Batch complete: its slots advance, the next batch may start.
                        nxt = slot_base + length
                        m.d.sync += [
                            issued.eq(issued + length),
                            slot_base.eq(Mux(nxt >= cfg.out_slots, nxt - cfg.out_slots, nxt)),
                            self.coord_half.eq(~self.coord_half),
                        ]
                        with m.If(last_batch):
                            m.d.comb += self.done.eq(1)
                            m.next = "IDLE"
                        with m.Else():
                            m.next = "WAIT"
        return m
