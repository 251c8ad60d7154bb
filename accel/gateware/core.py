"""The PatchINR accelerator core: AXI4-Lite control, AXI4-Stream data, one clock.

Data flow::

    CoordinateGenerator ─┐                                   ┌─> PatchScatter ─> m_axis_pix
      (frame mode)       ├─> CoordinateBatcher ─> Datapath ──┘
    s_axis_coord ────────┘        ^        (array, buffers, post-processing)
      (query mode)                └── Sequencer (tiles, weight reloads, output credits)
    s_axis_wgt ─> WeightLoader ─> weight buffers, sine tables
    s_axil ─> ControlRegisters (start, frame size, status, counters)

A job starts with CTRL.START (or the ``start`` input): in frame mode the coordinate
generator renders every patch centre of a WIDTH x HEIGHT frame and the frame leaves
``m_axis_pix`` in raster order; in query mode coordinates come from ``s_axis_coord``
(until ``tlast``) and each query's patch leaves as ``n*n`` pixels. STATUS.DONE rises when
the last pixel has been transferred; CYCLES then holds the job's length from start to done.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..config import AccelConfig
from ..host.errors import ErrorCode
from .axi import AXI4LiteSignature, AXIStreamSignature
from .batcher import CoordinateBatcher
from .coord_gen import CoordinateGenerator
from .csr import ControlRegisters
from .datapath import Datapath
from .scatter import PatchScatter
from .sequencer import Sequencer
from .weight_loader import WeightLoader

__all__ = ["PatchINRCore", "coord_bits"]


def coord_bits(config):
    """Width of ``s_axis_coord``'s ``tdata``: 16 bits per coordinate, in whole 32-bit words
    (32 for an image build, 64 for a video build)."""
    return 32 * -(-16 * config.model.coords // 32)


class PatchINRCore(wiring.Component):
    """The accelerator.

    Parameters
    ----------
    config : AccelConfig
    images : dict, optional
        Initial weight-buffer contents (:func:`accel.host.weights.memory_images`); without
        them the buffers start at zero and are loaded over ``s_axis_wgt``.
    width, height : int
        Reset values of the WIDTH / HEIGHT registers (the frame a ``start`` pulse renders
        without any register access).

    Ports
    -----
    s_axil : In(AXI4LiteSignature(addr_width=12))
        Control and status registers (:mod:`accel.gateware.csr`).
    s_axis_wgt : In(AXIStreamSignature(32))
        Weight-stream packets (:mod:`accel.gateware.weight_loader`); not accepted while busy.
    s_axis_coord : In(AXIStreamSignature(coord_bits(config)))
        Query mode: ``tdata = {y[15:0], x[15:0]}`` int16 coordinates ``round(x*32767)``
        (32 bits); a video build's is 64 bits, ``{16'b0, t, y, x}``; ``tlast`` on the last
        query.
    m_axis_pix : Out(AXIStreamSignature(config.pix_bits, user_width=1))
        Pixels, ``config.pixels_per_beat`` per beat
        (:class:`~accel.gateware.scatter.PatchScatter`).
    start : In(1)
        Pulse: same as writing CTRL.START with the current CTRL mode/precision bits.
    busy, done, error : Out(1)
        STATUS bits (for LEDs or interrupts): done and error stay high until the next
        start or CTRL.CLEAR.
    """

    def __init__(self, *, config, images=None, width=None, height=None):
        if not isinstance(config, AccelConfig):
            raise TypeError(f"config must be an AccelConfig, not {config!r}")
        width = config.max_width if width is None else width
        height = config.max_height if height is None else height
        config.check_frame(width, height)
        self._config = config
        self._images = images
        self._width, self._height = width, height
        super().__init__({
            "s_axil":       In(AXI4LiteSignature(addr_width=12)),
            "s_axis_wgt":   In(AXIStreamSignature(32)),
            "s_axis_coord": In(AXIStreamSignature(coord_bits(config))),
            "m_axis_pix":   Out(AXIStreamSignature(config.pix_bits, user_width=1)),
            "start":        In(1),
            "busy":         Out(1),
            "done":         Out(1),
            "error":        Out(1),
        })

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        n = cfg.model.patch

        m.submodules.csr = csr = ControlRegisters(config=cfg, width_init=self._width,
                                                  height_init=self._height)
        m.submodules.coord_gen = cgen = CoordinateGenerator(config=cfg)
        m.submodules.batcher = bat = CoordinateBatcher(config=cfg)
        m.submodules.sequencer = seq = Sequencer(config=cfg)
        m.submodules.datapath = dp = Datapath(config=cfg, images=self._images)
        m.submodules.scatter = sc = PatchScatter(config=cfg)
        m.submodules.loader = ld = WeightLoader(config=cfg)

        wiring.connect(m, wiring.flipped(self.s_axil), csr.s_axil)
        wiring.connect(m, wiring.flipped(self.s_axis_wgt), ld.s_axis)
        wiring.connect(m, sc.m_axis_pix, wiring.flipped(self.m_axis_pix))

        # Weights: loadable only between jobs.
        m.d.comb += [ld.enable.eq(~self.busy), dp.wr.eq(ld.wr), dp.lut.eq(ld.lut)]

        # Job state.
        mode = Signal()            # 0 frame, 1 query stream
        precision = Signal()       # 0 INT8, 1 FP32
        committed = Signal(32)
        cycles = Signal(32)
        total = Signal(32)
        total_valid = Signal()
        error_code = Signal(ErrorCode)

        start = csr.start | self.start
        w, h = csr.width, csr.height
        size_ok = ((w != 0) & (h != 0) & (w <= cfg.max_width) & (h <= cfg.max_height)
                   & (w % n == 0) & (h % n == 0))
        prec_ok = Mux(csr.precision, cfg.has_fp32, cfg.has_int8)
        video = cfg.model.is_video
        if video:
            from model.video import MAX_FRAMES
            job_frames = Signal(16)             # FRAME_COUNT as the job started
            with m.If(start & ~self.busy):
                m.d.sync += job_frames.eq(csr.frame_count)
            clip_ok = ((csr.frame_count != 0) & (csr.clip_frames <= MAX_FRAMES)
                       & (csr.first_frame + csr.frame_count <= csr.clip_frames))

        launch = Signal()
        with m.If(start & ~self.busy):
            with m.If(~prec_ok):
                m.d.sync += [self.error.eq(1), error_code.eq(ErrorCode.PRECISION), self.done.eq(0)]
            with m.Elif(~csr.mode & ~size_ok):
                m.d.sync += [self.error.eq(1), error_code.eq(ErrorCode.FRAME_SIZE), self.done.eq(0)]
            if video:
                with m.Elif(~csr.mode & ~clip_ok):
                    m.d.sync += [self.error.eq(1), error_code.eq(ErrorCode.CLIP_RANGE),
                                 self.done.eq(0)]
            with m.Else():
                m.d.comb += launch.eq(1)
        with m.If(launch):
            m.d.sync += [
                self.busy.eq(1), self.done.eq(0), self.error.eq(0),
                error_code.eq(ErrorCode.NONE),
                mode.eq(csr.mode), precision.eq(csr.precision),
                committed.eq(0), cycles.eq(0), total_valid.eq(0),
            ]
        with m.If(csr.clear):
            m.d.sync += [self.done.eq(0), self.error.eq(0), error_code.eq(ErrorCode.NONE)]
            # The counters of a finished job; a running job's keep counting (QUERIES is
            # the output unit's progress, not only a report).
            with m.If(~self.busy):
                m.d.sync += [cycles.eq(0), committed.eq(0)]
        with m.If(ld.error):
            m.d.sync += [self.error.eq(1), error_code.eq(ld.error_code)]
        with m.If(self.busy):
            m.d.sync += cycles.eq(cycles + 1)
            with m.If(sc.done):
                m.d.sync += [self.busy.eq(0), self.done.eq(1)]

        # Frame mode: the generator needs the frame size one cycle after launch, and the
        # scatter unit the patch grid once the generator has divided it out.
        m.d.comb += [cgen.start.eq(launch & ~csr.mode), cgen.width.eq(w), cgen.height.eq(h)]
        if video:
            m.d.comb += [cgen.clip_frames.eq(csr.clip_frames),
                         cgen.first_frame.eq(csr.first_frame),
                         cgen.frame_count.eq(csr.frame_count), sc.frames.eq(job_frames)]
        sc_started = Signal()
        with m.If(launch):
            m.d.sync += sc_started.eq(0)
        scatter_go = Signal()
        m.d.comb += scatter_go.eq(self.busy & ~sc_started & (mode | cgen.info_valid))
        with m.If(scatter_go):
            m.d.sync += sc_started.eq(1)
        m.d.comb += [sc.start.eq(scatter_go), sc.mode.eq(mode), sc.pw.eq(cgen.pw), sc.ph.eq(cgen.ph),
                     sc.clear.eq(csr.clear)]

        # Coordinates: from the generator or the input stream.
        coord_in = self.s_axis_coord
        # tready is assigned outside any If: a conditional assignment becomes an `always @*`
        # process in Verilog, which SystemVerilog simulators do not evaluate at time zero
        # when it reads only initialised registers, leaving the port X while idle.
        m.d.comb += coord_in.tready.eq(mode & bat.coords.ready & self.busy)
        with m.If(mode):
            m.d.comb += [
                bat.coords.valid.eq(coord_in.tvalid & self.busy),
                bat.coords.payload.x.eq(coord_in.tdata[:16]),
                bat.coords.payload.y.eq(coord_in.tdata[16:32]),
                *([bat.coords.payload.t.eq(coord_in.tdata[32:48])] if video else []),
                bat.coords.payload.last.eq(coord_in.tlast),
            ]
            with m.If(coord_in.tvalid & coord_in.tready & coord_in.tlast):
                m.d.sync += [total.eq(bat.count + 1), total_valid.eq(1)]
        with m.Else():
            wiring.connect(m, cgen.coords, bat.coords)

        m.d.comb += [
            bat.start.eq(launch),
            seq.start.eq(launch),
            dp.mode.eq(precision), seq.mode.eq(precision),
            dp.issue.eq(seq.issue), dp.w_addr.eq(seq.w_addr), dp.w_load.eq(seq.w_load),
            dp.coord_wr.eq(bat.coord_wr),
            bat.half.eq(seq.coord_half),
            seq.batch_valid.eq(bat.batch_valid), seq.batch_len.eq(bat.batch_len),
            seq.batch_last.eq(bat.batch_last),
            bat.batch_take.eq(seq.batch_take), bat.batch_free.eq(seq.batch_free),
            seq.freed.eq(sc.freed),
            sc.wr.eq(dp.out_wr),
            sc.committed.eq(committed),
            sc.total.eq(total), sc.total_valid.eq(total_valid),
        ]
        with m.If(dp.commit):
            m.d.sync += committed.eq(committed + dp.commit_count)

        m.d.comb += [
            csr.busy.eq(self.busy), csr.done.eq(self.done), csr.error.eq(self.error),
            csr.error_code.eq(error_code), csr.cycles.eq(cycles), csr.queries.eq(committed),
            csr.pixels.eq(sc.pixels),
        ]
        return m
