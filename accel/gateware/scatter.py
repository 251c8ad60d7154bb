"""Patch scatter: per-query results from the array's output lanes to a raster pixel stream.

The array's ``C`` output lanes finish a query's ``n*n*channels`` values lane-wise (lane
``c`` holds neurons ``o = word*C + c``) and in any order, but a display or a DMA engine
wants pixels in raster order. The unit keeps a ring of query slots and reads a patch row
back line by line once all its queries are done.

Storage: ``C`` banks, bank ``c`` holding neuron ``o = word*C + c`` of the query in slot
``s`` at address ``s*out_stride + word`` (``out_stride``: ``out_words`` rounded up to a
power of two). A beat's ``k`` pixels (``k = config.pixels_per_beat``, a divisor of ``n``)
are ``k`` neighbours on one patch line of one query, so their ``k * channels`` values are
consecutive neurons, which sit in distinct banks (``k * channels <= C``): one cycle reads
a beat. The walker tracks ``(bank, word) = divmod(o, C)`` of the beat's first value incrementally
(adding the constant ``divmod`` of a step wraps at most once), so no divider or multiplier
sits on the read path.
"""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..config import AccelConfig
from .axi import AXIStreamSignature

__all__ = ["PatchScatter", "MODE_FRAME", "MODE_QUERY", "OUT_FIFO_DEPTH"]

#: Beats the output FIFO holds: enough for the read pipeline and the FIFO's own latency
#: (:attr:`accel.config.Timing.SCATTER`) to keep one pixel per cycle flowing.
OUT_FIFO_DEPTH = 8

#: ``mode``: render a raster frame.
MODE_FRAME = 0
#: ``mode``: answer a stream of queries, each query's patch in order.
MODE_QUERY = 1


class PatchScatter(wiring.Component):
    """Ring of query slots, read back as raster-order pixels.

    Parameters
    ----------
    config : AccelConfig
        ``C = config.cols`` lanes and banks, ``config.out_slots`` slots of
        ``config.out_words`` words, patch size ``n = config.model.patch``,
        ``config.model.channels`` values per pixel and ``k = config.pixels_per_beat``
        pixels per beat.

    Ports
    -----
    start : In(1)
        One-cycle pulse starting a job: query and pixel counts and the ring pointers go
        to zero (query ``q`` of the job lives in slot ``q % out_slots``); samples ``mode``,
        ``pw`` and ``ph``. Ignored while ``busy``.
    mode : In(1)
        0 (:data:`accel.gateware.scatter.MODE_FRAME`): raster frame. 1 (:data:`accel.gateware.scatter.MODE_QUERY`): each query's patch
        on its own, in query order.
    pw, ph : In(16)
        Patch grid of the frame (frame mode; ``1 <= pw <= config.patches_per_row_max``,
        ``1 <= ph <= config.max_height / n``).
    frames : In(16)
        Video builds only, sampled with ``start``: frame mode renders this many frames of
        ``pw x ph`` patches one after the other (at least 1), each with ``tuser`` on its
        first pixel.
    wr : In(ArrayLayout(lane, C))
        ``lane = StructLayout({valid: 1, slot: range(out_slots), word: range(out_words),
        data: 8})``. Lane ``c`` writes ``data`` into bank ``c`` when ``valid``: neuron
        ``word*C + c`` of the query in ``slot``. Written on the clock edge; a query may be
        counted in ``committed`` in the same cycle as its last write. Writes of padding
        neurons (``o >= n*n*channels``) are harmless.
    committed : In(32)
        Queries (from the job start) whose outputs are all written; monotonic. The writer
        never writes a query ``q >= freed + out_slots``. The unit registers it, so a
        readable patch row or query reaches ``m_axis_pix`` :attr:`latency` cycles after
        ``committed`` covers it.
    total, total_valid : In(32), In(1)
        Query mode: the job's query count, once known (``total_valid`` low from ``start``
        until then). It must be valid before the last query's pixels are read out, which
        the core guarantees: the last query's coordinate is the stream's ``tlast`` beat that
        sets it. Unused in frame mode, where the job is ``pw * ph`` queries.
    freed : Out(32)
        Queries whose pixels have all been transferred: frame mode, up by ``pw`` on the
        transfer of a patch row's last pixel; query mode, up by 1 on each query's last.
    m_axis_pix : Out(AXIStreamSignature(8*channels*k, user_width=1))
        Beats of ``k`` pixels, left to right (pixel ``p`` of a beat in
        ``tdata[8*channels*(p+1)-1:8*channels*p]``, as Xilinx video IP packs several
        pixels per clock), channel ``ch`` of a pixel in its bits ``[8ch+7:8ch]``. Frame mode: the ``pw*n x ph*n``
        frame in raster order (a video build: ``frames`` of them in order), ``tuser`` on each
        frame's first pixel, ``tlast`` on each line's last (AXI4-Stream video, UG934). Query mode: each query's ``n*n`` pixels in ``(dy, dx)``
        raster order, ``tlast`` on the job's last pixel only, ``tuser`` on the job's first
        beat. Lines and patches are whole beats (``k`` divides ``n``). One beat per cycle
        while ``tready`` is high; ``tvalid`` and ``tdata`` come from registers.
    done : Out(1)
        High for the one cycle after the job's last pixel transfers (query mode: after
        ``freed`` reaches ``total`` with ``total_valid``, whichever comes last).
    busy : Out(1)
        High from the cycle after ``start`` until ``done``.
    pixels : Out(32)
        Pixels transferred in this job; ``clear`` zeroes it between jobs.
    clear : In(1)
        Pulse: zero ``pixels`` (ignored while ``busy``: the count of a running job stays
        whole).
    """

    def __init__(self, *, config):
        if not isinstance(config, AccelConfig):
            raise TypeError(f"config must be an AccelConfig, not {config!r}")
        self._config = config
        lane = data.StructLayout({
            "valid": 1,
            "slot":  range(config.out_slots),
            "word":  range(config.out_words),
            "data":  8,
        })
        super().__init__({
            "start":       In(1),
            "mode":        In(1),
            "pw":          In(16),
            "ph":          In(16),
            **({"frames": In(16)} if config.model.is_video else {}),
            "wr":          In(data.ArrayLayout(lane, config.cols)),
            "committed":   In(32),
            "total":       In(32),
            "total_valid": In(1),
            "freed":       Out(32),
            "m_axis_pix":  Out(AXIStreamSignature(config.pix_bits, user_width=1)),
            "done":        Out(1),
            "busy":        Out(1),
            "pixels":      Out(32),
            "clear":       In(1),
        })

    @property
    def latency(self):
        """Cycles from ``committed`` covering a readable row or query to its first pixel on
        ``m_axis_pix`` (with the stream idle): ``committed`` register, memory read, output
        register (:attr:`accel.config.Timing.scatter`)."""
        return self._config.timing.scatter

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        n, channels, lanes = cfg.model.patch, cfg.model.channels, cfg.cols
        k = cfg.pixels_per_beat
        width = cfg.pix_bits                    # bits of a beat
        slots, words, stride = cfg.out_slots, cfg.out_words, cfg.out_stride
        depth = slots * stride
        stride_bits = stride.bit_length() - 1
        axis = self.m_axis_pix
        video = cfg.model.is_video

        read_ports = []
        for c in range(lanes):
            m.submodules[f"bank{c}"] = bank = memory.Memory(shape=8, depth=depth, init=[])
            wp = bank.write_port()
            m.d.comb += [
                wp.addr.eq(Cat(self.wr[c].word[:stride_bits], self.wr[c].slot)),
                wp.data.eq(self.wr[c].data),
                wp.en.eq(self.wr[c].valid),
            ]
            # Never transparent: a slot being read holds a committed query, which the
            # writer no longer touches (see `committed`).
            read_ports.append(bank.read_port())

        # Job parameters and the registered `committed`. Registering it puts every write
        # of a query (written on the edge of the cycle `committed` counts it) before the
        # first read of that query. `total` is registered too (the core sets it long before
        # the last query's pixels are read: see the port).
        mode = Signal()
        pw = Signal(16)
        frames = Signal(16)                     # video: frames of the job
        committed = Signal(32)
        total = Signal(32)
        total_last = Signal(32)                 # total - 1
        total_valid = Signal()
        m.d.sync += [committed.eq(self.committed), total.eq(self.total),
                     total_last.eq(self.total - 1), total_valid.eq(self.total_valid)]

        # Walker (stage 0): the pixel whose memory read issues next. Every end of a loop
        # is a register, set one step ahead (`*_end`), so that a step is a carry chain
        # and a few multiplexers deep.
        dx = Signal(range(n // k))              # the beat's first pixel is at k * dx
        dy = Signal(range(n))
        px_left = Signal(16)                    # patches after this one in the row
        px_end = Signal()
        py_left = Signal(16)                    # patch rows after this one in the frame
        py_end = Signal()
        pw_last = Signal(16)                    # pw - 1
        ph_last = Signal(16)                    # ph - 1
        frame_left = Signal(16)                 # video: frames after this one
        frame_end = Signal()
        query = Signal(32)                      # query mode: query being read
        row_end = Signal(32)                    # frame mode: (py + 1) * pw
        walking = Signal()                      # frame mode: pixels left to read
        first = Signal()                        # next beat is the job's first (tuser)
        bank = Signal(range(lanes))             # divmod(o, C) of the beat's first value
        word = Signal(range(words))
        line_bank = Signal(range(lanes))        # ... of the first value of patch line dy
        line_word = Signal(range(words))
        slot_addr = Signal(range(depth))        # slot * out_stride of the beat's query
        row_slot_addr = Signal(range(depth))    # ... of the patch row's first query

        def advance(b, w, step):
            # (b, w) + divmod(step, C): b + r < 2C, so one wrap at most; whether it wraps
            # compares b with a constant, and both sums are formed side by side.
            k, r = divmod(step, lanes)
            wrap = b >= lanes - r
            return Mux(wrap, b - (lanes - r), b + r), w + k + wrap

        def next_slot(addr):
            return Mux(addr == depth - stride, 0, addr + stride)

        end_dx = dx == n // k - 1
        end_dy = dy == n - 1
        end_patch_line = end_dx & px_end
        end_row = end_patch_line & end_dy
        s0_valid = Signal()
        s0_last = Signal()
        s0_release = Signal()                   # completes a patch row or query: advances freed
        s0_final = Signal()                     # frame mode: the frame's last pixel
        with m.If(mode == MODE_FRAME):
            m.d.comb += [
                s0_valid.eq(self.busy & walking & (committed >= row_end)),
                s0_last.eq(end_patch_line),
                s0_release.eq(end_row),
                s0_final.eq(end_row & py_end & (frame_end if video else 1)),
            ]
        with m.Else():
            m.d.comb += [
                s0_valid.eq(self.busy & (query < committed)),
                # One packet per job: only the job's last pixel ends it (an AXI DMA ends a
                # transfer on tlast, so per-query tlast would split a batch of queries).
                s0_last.eq(end_dx & end_dy & total_valid & (query == total_last)),
                s0_release.eq(end_dx & end_dy),
            ]

        # The read pipeline never stalls: address (stage 1), memory read (2), the banks'
        # values (3), then a FIFO and the output register. The walker
        # issues a beat only when the FIFO is sure to have room for it (`reserved`
        # counts the beats in the pipeline and the FIFO), so back-pressure reaches no
        # further than the FIFO and the counter.
        beat = data.StructLayout({"last": 1, "first": 1, "release": 1, "final": 1})
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=width + beat.size,
                                                    depth=OUT_FIFO_DEPTH)
        reserved = Signal(range(OUT_FIFO_DEPTH + 1))
        transfer = axis.tvalid & axis.tready
        s0_fire = s0_valid & (reserved < OUT_FIFO_DEPTH)
        m.d.sync += reserved.eq(reserved + s0_fire - transfer)

        # Only the valid bits have a reset: what travels beside them is data.
        s1_valid, s2_valid, s3_valid = Signal(), Signal(), Signal()
        s1_beat, s2_beat, s3_beat = (Signal(beat, name=f"s{i}_beat", reset_less=True)
                                     for i in (1, 2, 3))
        s1_bank, s2_bank, s3_bank = (Signal(range(lanes), name=f"s{i}_bank", reset_less=True)
                                     for i in (1, 2, 3))
        s1_addr = Signal(range(depth + stride + 1), reset_less=True)
        m.d.sync += [
            s1_valid.eq(s0_fire), s1_beat.eq(Cat(s0_last, first, s0_release, s0_final)),
            s1_bank.eq(bank), s1_addr.eq(slot_addr | word),    # word < stride: no carry
            s2_valid.eq(s1_valid), s2_beat.eq(s1_beat), s2_bank.eq(s1_bank),
            s3_valid.eq(s2_valid), s3_beat.eq(s2_beat), s3_bank.eq(s2_bank),
        ]
        # Bank b holds the beat's value o = (bank, word) + j for one j < k * channels:
        # when b < bank the walk wrapped past the last bank into the next word.
        values = []
        for b, rp in enumerate(read_ports):
            m.d.comb += rp.addr.eq(s1_addr + (b < s1_bank))
            v = Signal(8, name=f"s3_value{b}", reset_less=True)
            m.d.sync += v.eq(rp.data)
            values.append(v)
        # Value j of the beat (channel j % channels of pixel j // channels) is in bank
        # (s3_bank + j) % C.
        pixel = Signal(width)
        with m.Switch(s3_bank):
            for b0 in range(lanes):
                with m.Case(b0):
                    m.d.comb += [pixel.word_select(j, 8).eq(values[(b0 + j) % lanes])
                                 for j in range(k * channels)]
        m.d.comb += [fifo.w_en.eq(s3_valid), fifo.w_data.eq(Cat(pixel, s3_beat))]
        # The output register: the stream's tvalid, tdata and flags. tdata changes only
        # with a beat: between beats it holds the last pixel (0 after reset), never what
        # the FIFO's storage holds before anything is written.
        out = Signal(beat)
        take = fifo.r_rdy & (~axis.tvalid | axis.tready)
        m.d.comb += fifo.r_en.eq(take)
        with m.If(take):
            m.d.sync += [axis.tvalid.eq(1), axis.tdata.eq(fifo.r_data[:width]),
                         out.eq(fifo.r_data[width:])]
        with m.Elif(axis.tready):
            m.d.sync += axis.tvalid.eq(0)
        m.d.comb += [axis.tlast.eq(out.last), axis.tuser.eq(out.first)]

        # Job bookkeeping on the output side.
        freed_next = Signal(32)
        m.d.comb += freed_next.eq(
            self.freed + Mux(transfer & out.release, Mux(mode == MODE_FRAME, pw, 1), 0))
        m.d.sync += [
            self.done.eq(0),
            self.freed.eq(freed_next),
        ]
        with m.If(transfer):
            m.d.sync += self.pixels.eq(self.pixels + k)
        with m.If(~self.busy & self.clear):
            m.d.sync += self.pixels.eq(0)
        # Query mode ends when the freed count reaches the total: with the transfer of the
        # last query's last pixel, or (a total that comes later) once it is known; both
        # compare registers.
        query_done = ((transfer & out.release & (self.freed == total_last))
                      | (self.freed == total)) & total_valid
        with m.If(self.busy & Mux(mode == MODE_FRAME, transfer & out.final, query_done)):
            m.d.sync += [self.done.eq(1), self.busy.eq(0)]

        # Walker.
        with m.If(~self.busy & self.start):
            m.d.sync += [
                self.busy.eq(1),
                mode.eq(self.mode),
                pw.eq(self.pw),
                pw_last.eq(self.pw - 1), ph_last.eq(self.ph - 1),
                px_left.eq(self.pw - 1), px_end.eq(self.pw == 1),
                py_left.eq(self.ph - 1), py_end.eq(self.ph == 1),
                *([frames.eq(self.frames), frame_left.eq(self.frames - 1),
                   frame_end.eq(self.frames == 1)] if video else []),
                self.freed.eq(0),
                self.pixels.eq(0),
                dx.eq(0), dy.eq(0),
                query.eq(0),
                row_end.eq(self.pw),
                walking.eq(1),
                first.eq(1),
                bank.eq(0), word.eq(0), line_bank.eq(0), line_word.eq(0),
                slot_addr.eq(0), row_slot_addr.eq(0),
            ]
        with m.Elif(s0_fire):
            m.d.sync += first.eq(0)
            pixel_bank, pixel_word = advance(bank, word, k * channels)
            with m.If(~end_dx):
                m.d.sync += [dx.eq(dx + 1), bank.eq(pixel_bank), word.eq(pixel_word)]
            with m.Elif(mode == MODE_QUERY):
                # The query's values are contiguous in (dy, dx) order: the walk goes on
                # through them and starts over at the next slot.
                m.d.sync += dx.eq(0)
                with m.If(~end_dy):
                    m.d.sync += [dy.eq(dy + 1), bank.eq(pixel_bank), word.eq(pixel_word)]
                with m.Else():
                    m.d.sync += [
                        dy.eq(0), bank.eq(0), word.eq(0),
                        slot_addr.eq(next_slot(slot_addr)),
                        query.eq(query + 1),
                    ]
            with m.Elif(~px_end):
                # Same line of the next patch: its first value of line dy.
                m.d.sync += [
                    dx.eq(0), px_left.eq(px_left - 1), px_end.eq(px_left == 1),
                    bank.eq(line_bank), word.eq(line_word),
                    slot_addr.eq(next_slot(slot_addr)),
                ]
            with m.Elif(~end_dy):
                # Next line of the same patch row: back to its first query, one patch line
                # (n * channels values) further in.
                next_bank, next_word = advance(line_bank, line_word, n * channels)
                m.d.sync += [
                    dx.eq(0), px_left.eq(pw_last), px_end.eq(pw_last == 0),
                    dy.eq(dy + 1), slot_addr.eq(row_slot_addr),
                    line_bank.eq(next_bank), line_word.eq(next_word),
                    bank.eq(next_bank), word.eq(next_word),
                ]
            with m.Else():
                m.d.sync += [
                    dx.eq(0), px_left.eq(pw_last), px_end.eq(pw_last == 0), dy.eq(0),
                    py_left.eq(py_left - 1), py_end.eq(py_left == 1),
                    bank.eq(0), word.eq(0), line_bank.eq(0), line_word.eq(0),
                    slot_addr.eq(next_slot(slot_addr)),
                    row_slot_addr.eq(next_slot(slot_addr)),
                    row_end.eq(row_end + pw),
                ]
                with m.If(py_end):
                    if video:
                        # A clip is its frames stacked: the next frame's rows follow in the
                        # ring, and its first pixel carries tuser.
                        with m.If(frame_end):
                            m.d.sync += walking.eq(0)
                        with m.Else():
                            m.d.sync += [py_left.eq(ph_last), py_end.eq(ph_last == 0),
                                         frame_left.eq(frame_left - 1),
                                         frame_end.eq(frame_left == 1), first.eq(1)]
                    else:
                        m.d.sync += walking.eq(0)
        return m
