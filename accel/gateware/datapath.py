"""The datapath: buffers, feeds, systolic array and post-processing around one issue stream.

Every query the :class:`~accel.gateware.sequencer.Sequencer` issues carries a record that says
everything about it (which layer, tile, query, buffer halves, output slot). The record
enters a delay line; each stage reads the record at its own fixed delay (a "tap"), so
control needs no handshakes and every column sees its queries exactly when the skewed
data arrives. With ``F = Timing.FEED``, ``L`` the array's row skew, ``A`` its column latency
(``Timing.array``), ``P`` the post-processing latency, a query issued at cycle ``t``:

==================================  ===================================================
cycle                               what happens
==================================  ===================================================
``t + r*L``                         row ``r`` reads its activation bank (or coordinates)
``t + r*L + 1``                     row ``r``'s feed register selects, converts, masks
``t + F + r*L + c``                 PE ``(r, c)`` multiplies (activations move right)
``t + F + c - 1``                   column ``c`` reads its bias / previous partial sum
``t + F + c``                       ... which enters the top of column ``c``
``t + F + c + A``                   the sum leaves column ``c``: partial sum memory, or
                                    the post-processing lane when the tile ends ``K``
``t + F + c + A + P``               lane ``c`` writes the activation bank of element
                                    ``nt*cols + c`` (or the output unit's bank ``c``)
==================================  ===================================================

A dual build has one set of taps per mode (:meth:`AccelConfig.timing_for
<accel.config.AccelConfig.timing_for>`): in INT8 its PEs' sums move one row per cycle
(``L = 1``) and each column's is delayed to the INT8 array's latency ``A``, so that an
INT8 job takes the INT8 build's cycles; in FP32 ``L`` is the FP32 MAC's latency.

Activations live in ``rows`` banks: element ``k`` of query ``q`` in half ``h`` is bank
``k % rows``, word ``h*batch*W + q*W + k // rows`` (``W = act_words``). Partial sums live
in one memory per column (``batch`` words). Coordinates of two batches (double buffered)
live in one memory read by rows 0 and 1.
"""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from ..config import AccelConfig
from ..formats import for_config
from .banked_memory import add_memory
from .batcher import coord_write_layout
from .int8.array import Int8Array
from .mac_array import MacArray
from .postproc import PostLane
from .sequencer import issue_layout
from .weight_buffer import WeightBuffer

__all__ = ["Datapath"]


class Datapath(wiring.Component):
    """Array, buffers and post-processing, driven by the sequencer's issue stream.

    Ports
    -----
    issue : In(issue_layout)
        The sequencer's record of this cycle.
    w_addr : In(weight_addr_bits), w_load : In(1)
        Shadow-weight reload: read ``w_addr`` and shift it into the columns.
    mode : In(1)
        0 INT8, 1 FP32 (dual builds; constant during a job).
    coord_wr : In(StructLayout(en, addr, x, y))
        Coordinate buffer write (``addr`` = half * batch + query).
    wr, lut : In
        Weight-buffer and sine-table writes from the weight loader.
    out_wr : Out(ArrayLayout(StructLayout(valid, slot, word, data), cols))
        Output writes toward :class:`~accel.gateware.scatter.PatchScatter`.
    commit : Out(1), commit_count : Out(range(batch + 1))
        Pulse when a batch's every output has been written, with its query count.
    """

    def __init__(self, *, config, images=None):
        if not isinstance(config, AccelConfig):
            raise TypeError(f"config must be an AccelConfig, not {config!r}")
        self._config = config
        self._images = images or {}
        self.timing = config.timing
        self._timings = {p: config.timing_for(p) for p in config.precisions}
        self._buffer = WeightBuffer(config=config, images=self._images)
        k = config.model.quant.phase_bits
        lane = data.StructLayout({"valid": 1, "slot": range(config.out_slots),
                                  "word": range(config.out_words), "data": 8})
        super().__init__({
            "issue":        In(issue_layout(config)),
            "w_addr":       In(config.weight_addr_bits),
            "w_load":       In(1),
            "mode":         In(1),
            "coord_wr":     In(coord_write_layout(config)),
            "wr":           In(self._buffer.wr.shape()),
            "lut":          In(data.StructLayout({"en": 1, "addr": k, "data": 8})),
            "out_wr":       Out(data.ArrayLayout(lane, config.cols)),
            "commit":       Out(1),
            "commit_count": Out(range(config.batch + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, tm = self._config, self.timing
        R, C, B = cfg.rows, cfg.cols, cfg.batch
        arith = for_config(cfg)

        m.submodules.buffer = buf = self._buffer
        m.d.comb += buf.wr.eq(self.wr)
        plan = cfg.array_plan
        if plan is not None:
            m.submodules.array = arr = Int8Array(rows=R, cols=C, wide_rows=plan.wide_rows,
                                                 lut_cols=plan.lut_cols, packed=plan.packed,
                                                 pumped=plan.pumped)
        else:
            m.submodules.array = arr = MacArray(rows=R, cols=C, arith=arith)
            m.d.comb += arr.mode.eq(self.mode)

        # The delay line: line[d] is the record issued d cycles ago.
        layout = issue_layout(cfg)
        line = [self.issue]
        for d in range(1, max(t.depth for t in self._timings.values()) + 1):
            # Only `valid` is reset: every use of a record is gated by it, and the rest
            # (about 100 bits a stage, the stages spread over the whole array) kept off the
            # reset net, whose fan-out across the die limited the ECP5 build's clock.
            data_reg = Signal(layout, name=f"line{d}_data", reset_less=True)
            valid = Signal(name=f"line{d}_valid")
            m.d.sync += [data_reg.eq(line[-1]), valid.eq(line[-1].valid)]
            rec = Signal(layout, name=f"line{d}")
            m.d.comb += [rec.eq(data_reg), rec.valid.eq(valid)]
            line.append(rec)

        def tap(delay, name):
            """The record issued ``delay(timing)`` cycles ago, in the job's mode."""
            at = {p: delay(t) for p, t in self._timings.items()}
            if len(set(at.values())) == 1:
                return line[next(iter(at.values()))]
            rec = Signal(layout, name=name)
            m.d.comb += rec.eq(Mux(self.mode, line[at["fp32"]].as_value(),
                                   line[at["int8"]].as_value()))
            return rec

        # Weight feed: one word per reload cycle, column c delayed c cycles (the array skew).
        # The load pulse follows its word through the weight buffer's read.
        wv = self.w_load
        for d in range(cfg.weight_read_latency):
            v = Signal(name=f"wv{d}")
            m.d.sync += v.eq(wv)
            wv = v
        if cfg.precision == "int8":
            words = [buf.w_int[c] for c in range(C)]
        elif cfg.precision == "fp32":
            words = [buf.w_fp32[c] for c in range(C)]
        else:
            words = [Mux(self.mode, buf.w_fp32[c], buf.w_int[c]) for c in range(C)]
        m.d.comb += buf.w_addr.eq(self.w_addr)
        for c in range(C):
            w, v = words[c], wv
            for i in range(c):
                w2 = Signal(arith.weight_width, name=f"wskew{c}_{i}", reset_less=True)
                v2 = Signal(name=f"wvskew{c}_{i}")
                m.d.sync += [w2.eq(w), v2.eq(v)]
                w, v = w2, v2
            m.d.comb += [arr.w[c].eq(w), arr.w_shift[c].eq(v)]

        # Coordinates: two batches, one 16-bit field per coordinate, read by the first
        # min(rows, coords) rows (with fewer rows than coordinates, row r takes component
        # kt * rows + r in input tile kt).
        K = cfg.model.coords
        names = ("x", "y", "t")[:K]
        m.submodules.coords = cmem = memory.Memory(shape=16 * K, depth=2 * B, init=[])
        cw = cmem.write_port()
        m.d.comb += [cw.en.eq(self.coord_wr.en), cw.addr.eq(self.coord_wr.addr),
                     cw.data.eq(Cat(*(getattr(self.coord_wr, name) for name in names)))]

        # Columns: partial sums, bias, post-processing.
        results = []
        for c in range(C):
            t_rd, t_top = line[tm.FEED + c - 1], line[tm.FEED + c]
            t_psum = line[tm.FEED + c - cfg.psum_read_latency]
            t_bot = tap(lambda t: t.FEED + c + t.array, f"bot{c}")
            t_prm = tap(lambda t: t.FEED + c + t.array - 1, f"prm{c}")
            t_res = tap(lambda t: t.result_tap + c, f"res{c}")
            bottom = self._bottom(m, arr.psum_bottom[c], c)

            m.submodules[f"psum{c}"] = pmem = memory.Memory(shape=32, depth=B, init=[])
            prp, pwp = pmem.read_port(), pmem.write_port()
            psum = prp.data
            for i in range(cfg.psum_read_latency - 1):
                # Beside the block RAM, so that its read does not cross the die to the
                # array in the same cycle.
                reg = Signal(32, name=f"psum{c}_r{i + 1}", reset_less=True)
                m.d.sync += reg.eq(psum)
                psum = reg
            m.d.comb += [
                prp.addr.eq(t_psum.q),
                buf.bias_addr[c].eq(t_rd.param_addr),
                arr.psum_top[c].eq(Mux(t_top.first_kt, self._bias(buf.bias[c]), psum)),
                pwp.en.eq(t_bot.valid & ~t_bot.last_kt),
                pwp.addr.eq(t_bot.q),
                pwp.data.eq(bottom),
            ]

            post = PostLane(config=cfg, lut_init=self._images.get("sine_lut"))
            m.submodules[f"post{c}"] = post
            m.d.comb += [
                buf.post_addr[c].eq(t_prm.param_addr),
                post.acc.eq(bottom),
                post.out_layer.eq(t_bot.out_layer),
                post.mode.eq(self.mode),
                post.lut_we.eq(self.lut.en),
                post.lut_addr.eq(self.lut.addr),
                post.lut_data.eq(self.lut.data),
            ]
            if cfg.has_int8:
                m.d.comb += [post.m.eq(buf.post[c][32:48]), post.s.eq(buf.post[c][48:54])]
            results.append(post.result)
            o = self.out_wr[c]
            m.d.comb += [
                o.valid.eq(t_res.valid & t_res.last_kt & t_res.out_layer & (c < t_res.cols_valid)),
                o.slot.eq(t_res.slot),
                o.word.eq(t_res.out_word),
                o.data.eq(post.result[:8]),
            ]

        # Activation banks and row feeds.
        for r in range(R):
            rd = tm.FEED - 1                    # the bank's read latency
            bank = add_memory(m, f"act{r}", width=cfg.elem_bits, depth=cfg.act_depth,
                              bank_depth=cfg.bank_words(cfg.elem_bits), latency=rd)
            t_read = tap(lambda t: r * t.pe, f"read{r}")
            t_feed = tap(lambda t: r * t.pe + rd, f"feed{r}")
            m.d.comb += bank.r_addr.eq(t_read.act_rd)
            coord = None
            if r < min(R, K):
                # The coordinates (one block RAM at most) are read late enough to arrive
                # with the activations.
                crp = cmem.read_port()
                m.d.comb += crp.addr.eq(tap(lambda t: r * t.pe + rd - 1, f"crd{r}").coord_rd)
                coord = Signal(16, name=f"coord{r}")
                if R >= K:
                    m.d.comb += coord.eq(crp.data.word_select(r, 16))
                else:
                    # Component kt * R + r of this row; past the last one the row is not
                    # live (rows_valid), so what it reads then does not matter.
                    comp = t_feed.kt * R + r
                    with m.Switch(comp):
                        for k in range(K):
                            with m.Case(k):
                                m.d.comb += coord.eq(crp.data.word_select(k, 16))
            act = self._feed_value(m, r, bank.r_data, coord, t_feed)
            live = t_feed.valid & (r < t_feed.rows_valid)
            m.d.sync += [arr.a[r].eq(Mux(live, act, 0)),
                         arr.swap[r].eq(t_feed.valid & t_feed.swap)]

            # Bank r holds elements k with k % rows == r, written by lane r % cols when the
            # tile's outputs (elements nt*cols .. nt*cols + cols-1) fall in this bank.
            c = r % C
            t_res = tap(lambda t: t.result_tap + c, f"wres{r}")
            # The write is registered first (Timing.ACT_WRITE): the enable's decode and a
            # deep bank's block-select decode are not one path.
            wen = Signal(name=f"act{r}_wen")
            waddr = Signal.like(bank.w_addr, name=f"act{r}_waddr", reset_less=True)
            wdata = Signal.like(bank.w_data, name=f"act{r}_wdata", reset_less=True)
            m.d.sync += [
                wen.eq(t_res.valid & t_res.last_kt & ~t_res.out_layer
                       & (c < t_res.cols_valid) & (t_res.wbank == r // C)),
                waddr.eq(t_res.act_wr),
                wdata.eq(results[c]),
            ]
            m.d.comb += [bank.w_en.eq(wen), bank.w_addr.eq(waddr), bank.w_data.eq(wdata)]

        t_commit = tap(lambda t: t.result_tap + C - 1, "commit")
        m.d.comb += [self.commit.eq(t_commit.valid & t_commit.commit),
                     self.commit_count.eq(t_commit.q + 1)]
        return m

    def _bottom(self, m, psum, c):
        """Column ``c``'s sum as it leaves the array: in a dual build's INT8 mode delayed to
        the INT8 array's latency (its PEs' INT8 sums take one cycle a row, the INT8
        array's :attr:`~accel.plan.ArrayPlan.latency` three more), so that both builds run
        an INT8 job on one schedule and its cycle count does not depend on the build."""
        if self._config.precision != "dual":
            return psum
        pad = self._timings["int8"].array - self._config.rows * self._timings["int8"].pe
        late = psum
        for i in range(pad):
            reg = Signal.like(psum, name=f"int8_pad{c}_{i + 1}", reset_less=True)
            m.d.sync += reg.eq(late)
            late = reg
        return Mux(self.mode, psum, late)

    def _bias(self, word):
        """The column-top bias of this build / mode from a lane-parameter word."""
        cfg = self._config
        if cfg.precision == "int8":
            return word[:32]
        if cfg.precision == "fp32":
            return word[:32]
        return Mux(self.mode, word[64:96], word[:32])

    def _feed_value(self, m, r, bank_data, coord, rec):
        """Row ``r``'s operand: the coordinate (layer 0) or the stored activation, in the
        number format of the build / mode."""
        cfg = self._config
        int8_act = bank_data[:8].as_signed()        # sign-extends into the operand
        if cfg.precision == "int8":
            stored, first = int8_act, (coord.as_signed() if coord is not None else 0)
        else:
            from ..formats.float32.from_int import IntToFp32
            fp_coord = 0
            if coord is not None:
                m.submodules[f"i2f{r}"] = i2f = IntToFp32()
                m.d.comb += i2f.x.eq(coord)
                fp_coord = i2f.y
            if cfg.precision == "fp32":
                stored, first = bank_data, fp_coord
            else:
                stored = Mux(self.mode, bank_data, int8_act)
                first = Mux(self.mode, fp_coord, coord.as_signed()) if coord is not None else 0
        return Mux(rec.first, first, stored)
