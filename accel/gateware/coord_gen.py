"""Coordinate generator: a frame's patch-centre queries from one start command.

Per axis with ``P`` patches and ``S = 32767`` (:data:`model.config.COORD_SCALE`), patch ``i``
sits at ``q(i) = floor(((2i + 1 - P) * 2S + P) / 2P)``, the round-half-up of
``(2i + 1 - P) * S / P`` (:func:`model.data.patch_centres_q`). A divider per query would
be large or slow; instead each axis runs a DDA. Offsetting the numerator by ``S * 2P``
makes it positive, ``N(i) = (2i + 1) * 2S + P``, ``q(i) = floor(N(i) / 2P) - S``, and
``N(i + 1) = N(i) + 4S``; with ``4S = 2P * k + m`` the quotient advances by ``k`` plus a
carry when the remainder (kept in ``[0, 2P)``) wraps.

All per-frame constants follow from one division per axis, ``S = a * P + b``:
``2b = P * c + t`` (``c`` in {0, 1}, ``t`` in ``[0, P)``) gives ``k = 2a + c``,
``m = 2t``, and ``N(0) = 2S + P = 2P * (a + c) + (t if c else t + P)``.
"""

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from model.config import COORD_SCALE

from ..config import AccelConfig, Timing
from .divider import SequentialDivider

__all__ = ["CoordinateGenerator", "COORD_LAYOUT", "coord_layout"]


def coord_layout(coords):
    """One query: the patch centre in int16 coordinates ``x``, ``y`` (and ``t`` for a
    video build, ``coords = 3``), and ``last`` on the job's final query."""
    fields = {"x": signed(16), "y": signed(16)}
    if coords == 3:
        fields["t"] = signed(16)
    return data.StructLayout({**fields, "last": 1})


#: The query layout of an image build.
COORD_LAYOUT = coord_layout(2)


class _Axis:
    """DDA registers of one axis: the current centre ``q``, the remainder ``r`` of its
    offset numerator by ``2P``, the per-frame step ``k``, ``m`` (and ``m - 2P``), and the
    patches ``left`` after the current one, with ``end`` high on the axis's last patch.

    Every update is one carry chain deep: the remainder's two candidate sums, and the
    centre's with and without the carry, are formed side by side and a multiplexer picks
    them; the end of the axis is a register, set one step ahead."""

    def __init__(self, name, patches_max):
        self.q = Signal(signed(16), name=f"{name}_q")
        self.r = Signal(16, name=f"{name}_r")
        self.k = Signal(16, name=f"{name}_k")
        self.m = Signal(16, name=f"{name}_m")
        self.m_wrap = Signal(signed(18), name=f"{name}_m_wrap")       # m - 2P
        self.left = Signal(range(max(patches_max, 2)), name=f"{name}_left")
        self.end = Signal(name=f"{name}_end")
        self.last = Signal(range(max(patches_max, 2)), name=f"{name}_last")   # P - 1
        self.single = Signal(name=f"{name}_single")                           # P == 1
        # Set-up: the division's result, then the two registered steps that derive the
        # step and the first centre from it.
        self.quotient = Signal(16, name=f"{name}_quotient")
        self.twice_b = Signal(17, name=f"{name}_twice_b")
        self.c = Signal(name=f"{name}_c")
        self.t = Signal(16, name=f"{name}_t")

    def capture(self, quotient, remainder):
        """Statements that keep ``divmod(S, P) = (quotient, remainder)``."""
        return [self.quotient.eq(quotient), self.twice_b.eq(remainder << 1)]

    def derive(self, patches):
        """Set-up step 1: ``2b = P * c + t``."""
        over = self.twice_b >= patches
        return [self.c.eq(over), self.t.eq(Mux(over, self.twice_b - patches, self.twice_b))]

    def setup(self, patches):
        """Set-up step 2: ``(k, m, q0, r0)`` and the end counter; returns
        ``(statements, q0, r0)``. ``q0`` is taken modulo 2**16 by the signed 16-bit
        register: two's complement."""
        q0 = self.quotient + self.c - COORD_SCALE
        r0 = Mux(self.c, self.t, self.t + patches)
        return [self.k.eq((self.quotient << 1) + self.c), self.m.eq(self.t << 1),
                self.m_wrap.eq((self.t << 1) - (patches << 1)),
                self.q.eq(q0), self.r.eq(r0),
                self.last.eq(patches - 1), self.single.eq(patches == 1),
                self.left.eq(patches - 1), self.end.eq(patches == 1)], q0, r0

    def restart(self, q0, r0):
        """Statements that go back to the first centre (``q0``, ``r0`` registers)."""
        return [self.q.eq(q0), self.r.eq(r0), self.left.eq(self.last),
                self.end.eq(self.single)]

    def step(self, m):
        """Statements that advance to the next centre (``m``: the module, for the
        combinational sum)."""
        # r + m < 4P, so one conditional subtraction of 2P restores r < 2P: both sums are
        # formed, the sign of the second says which.
        reduced = Signal(signed(19), name=f"{self.q.name[:-2]}_reduced")
        m.d.comb += reduced.eq(self.r + self.m_wrap)
        carry = ~reduced[-1]
        return [
            self.q.eq(Mux(carry, self.q + self.k + 1, self.q + self.k)),
            self.r.eq(Mux(carry, reduced, self.r + self.m)),
            self.left.eq(self.left - 1),
            self.end.eq(self.left == 1),
        ]


class CoordinateGenerator(wiring.Component):
    """Patch-centre coordinates of a whole frame in raster patch order (x fastest); in a
    video build, of ``frame_count`` frames from ``first_frame`` on, frame by frame, each
    with its ``t`` (frame ``f`` of a ``clip_frames``-frame clip at the patch-centre rule's
    ``q(f)``, so :func:`model.video.clip_coords_q` of the frames rendered).

    Parameters
    ----------
    config : AccelConfig
        Supplies the patch size ``n`` (a build constant) and the largest frame, which size
        the patch counters.

    Ports
    -----
    start : In(1)
        One-cycle pulse; samples ``width`` and ``height``. Ignored while ``busy`` (a frame
        in flight finishes; its stream is never cut short).
    width, height : In(16)
        Frame size in pixels, sampled with ``start``. The caller guarantees positive
        multiples of ``n`` within ``config.max_width`` / ``config.max_height``.
    pw, ph : Out(16)
        Patches per row and per column. Valid while ``info_valid``.
    info_valid : Out(1)
        Low from ``start`` until ``pw``/``ph`` are known (:attr:`info_latency` cycles
        after ``start``), then high until the next ``start``.
    clip_frames, first_frame, frame_count : In(16)
        Video builds only, sampled with ``start``: the clip's frame count (the ``t`` grid),
        the first frame and the number of frames. The caller guarantees
        ``1 <= frame_count`` and ``first_frame + frame_count <= clip_frames``.
    coords : Out(stream.Signature(coord_layout(coords)))
        ``pw * ph`` queries (per frame) equal to :func:`model.data.patch_centres_q`
        ``(pw, ph)``, ``last`` on the final one. The first is valid :attr:`setup_latency`
        cycles after ``start`` (plus ``first_frame`` in a video build); then one query per
        cycle while ``ready`` is high.
    busy : Out(1)
        High from the cycle after ``start`` until the final query transfers.
    """

    def __init__(self, *, config):
        if not isinstance(config, AccelConfig):
            raise TypeError(f"config must be an AccelConfig, not {config!r}")
        self._config = config
        video = {"clip_frames": In(16), "first_frame": In(16), "frame_count": In(16)} \
            if config.model.is_video else {}
        super().__init__({
            "start":      In(1),
            "width":      In(16),
            "height":     In(16),
            **video,
            "pw":         Out(16),
            "ph":         Out(16),
            "info_valid": Out(1),
            "coords":     Out(stream.Signature(coord_layout(config.model.coords))),
            "busy":       Out(1),
        })

    @property
    def info_latency(self):
        """Cycles from ``start`` until ``info_valid`` is high
        (:attr:`accel.config.Timing.coord_info`)."""
        return self._config.timing.coord_info

    @property
    def setup_latency(self):
        """Cycles from ``start`` until the first query is valid
        (``Timing.coord_setup`` of :class:`accel.config.Timing`)."""
        return self._config.timing.coord_setup

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        n = cfg.model.patch
        m.submodules.divider = div = SequentialDivider(width=Timing.COORD_DIV_WIDTH)
        video = cfg.model.is_video
        x = _Axis("x", cfg.patches_per_row_max)
        y = _Axis("y", cfg.max_height // n)
        # x restarts every row (and y every frame), so their first centres and remainders
        # are kept.
        x_q0 = Signal(signed(16))
        x_r0 = Signal(16)
        y_q0 = Signal(signed(16))
        y_r0 = Signal(16)
        pw, ph = self.pw, self.ph

        # Set-up program: each step divides and captures (quotient, remainder); an axis's
        # step then derives its DDA constants in two registered steps
        # (Timing.COORD_DERIVE). Without a power-of-two patch size, pw and ph first hold
        # the raw width and height and are divided in place.
        def capture_pw(q, r):
            return [pw.eq(q)]

        def capture_ph(q, r):
            return [ph.eq(q), self.info_valid.eq(1)]

        steps = []          # (dividend, divisor, capture, axis or None, after set-up)
        if cfg.timing.patch_shift is None:
            steps += [(pw, n, capture_pw, None, None), (ph, n, capture_ph, None, None)]

        def init_x(q0, r0):
            return [x_q0.eq(q0), x_r0.eq(r0)]

        steps += [(COORD_SCALE, pw, x.capture, (x, pw), init_x)]
        if video:
            from model.video import MAX_FRAMES
            t = _Axis("t", MAX_FRAMES)
            frames = Signal(16)                 # the clip's frames: t's patch count
            skip = Signal(16)                   # frames still to pass before the first
            count = Signal(16)                  # frames to render
            frame_left = Signal(16)             # frames of this job after this one
            frame_end = Signal()                # this frame is the job's last

            def init_y(q0, r0):
                return [y_q0.eq(q0), y_r0.eq(r0)]
            steps += [(COORD_SCALE, ph, y.capture, (y, ph), init_y),
                      (COORD_SCALE, frames, t.capture, (t, frames), lambda q0, r0: [])]
            end_job = x.end & y.end & frame_end
            m.d.comb += self.coords.payload.t.eq(t.q)
        else:
            def init_y(q0, r0):
                return [y_q0.eq(q0), y_r0.eq(r0), self.coords.valid.eq(1)]
            steps += [(COORD_SCALE, ph, y.capture, (y, ph), init_y)]
            end_job = x.end & y.end

        m.d.comb += [
            self.coords.payload.x.eq(x.q),
            self.coords.payload.y.eq(y.q),
            self.coords.payload.last.eq(end_job),
        ]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [self.busy.eq(1), self.info_valid.eq(0)]
                    if video:
                        m.d.sync += [frames.eq(self.clip_frames), skip.eq(self.first_frame),
                                     count.eq(self.frame_count)]
                    if cfg.timing.patch_shift is None:
                        m.d.sync += [pw.eq(self.width), ph.eq(self.height)]
                    else:
                        m.d.sync += [pw.eq(self.width >> cfg.timing.patch_shift),
                                     ph.eq(self.height >> cfg.timing.patch_shift),
                                     self.info_valid.eq(1)]
                    m.next = "ISSUE-0"
            after_setup = "SKIP" if video else "RUN"
            for i, (dividend, divisor, capture, axis, init) in enumerate(steps):
                following = f"ISSUE-{i + 1}" if i + 1 < len(steps) else after_setup
                with m.State(f"ISSUE-{i}"):
                    m.d.comb += [div.start.eq(1), div.dividend.eq(dividend),
                                 div.divisor.eq(divisor)]
                    m.next = f"WAIT-{i}"
                with m.State(f"WAIT-{i}"):
                    with m.If(div.done):
                        m.d.sync += capture(div.quotient, div.remainder)
                        m.next = f"DERIVE-{i}" if axis is not None else following
                if axis is not None:
                    ax, patches = axis
                    with m.State(f"DERIVE-{i}"):
                        m.d.sync += ax.derive(patches)
                        m.next = f"SETUP-{i}"
                    with m.State(f"SETUP-{i}"):
                        stmts, q0, r0 = ax.setup(patches)
                        m.d.sync += [*stmts, *init(q0, r0)]
                        m.next = following
            if video:
                with m.State("SKIP"):
                    # Step t to the first frame, one frame a cycle.
                    with m.If(skip == 0):
                        m.d.sync += [self.coords.valid.eq(1), frame_left.eq(count - 1),
                                     frame_end.eq(count == 1)]
                        m.next = "RUN"
                    with m.Else():
                        m.d.sync += [*t.step(m), skip.eq(skip - 1)]
            with m.State("RUN"):
                with m.If(self.coords.valid & self.coords.ready):
                    with m.If(x.end):
                        m.d.sync += x.restart(x_q0, x_r0)
                        with m.If(end_job):
                            m.d.sync += [self.coords.valid.eq(0), self.busy.eq(0)]
                            m.next = "IDLE"
                        if video:
                            with m.Elif(y.end):
                                # The next frame: y starts over, t steps.
                                m.d.sync += [*y.restart(y_q0, y_r0), *t.step(m),
                                             frame_left.eq(frame_left - 1),
                                             frame_end.eq(frame_left == 1)]
                        with m.Else():
                            m.d.sync += y.step(m)
                    with m.Else():
                        m.d.sync += x.step(m)
        return m
