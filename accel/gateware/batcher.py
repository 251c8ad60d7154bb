"""Collects query coordinates into batches for the sequencer (double buffered)."""

from amaranth import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import AccelConfig
from .coord_gen import coord_layout

__all__ = ["CoordinateBatcher", "coord_write_layout"]


def coord_write_layout(config):
    """A coordinate-buffer write: ``en``, ``addr`` (``2 * batch`` entries) and one 16-bit
    field per coordinate (``x``, ``y``, and ``t`` in a video build)."""
    names = ("x", "y", "t")[:config.model.coords]
    return data.StructLayout({"en": 1, "addr": range(2 * config.batch),
                              **{name: 16 for name in names}})


class CoordinateBatcher(wiring.Component):
    """Writes incoming coordinates into the coordinate buffer's two halves, a batch each.

    While the sequencer computes the batch in one half, the next batch fills the other, so
    in steady state the array never waits for coordinates. A half is refilled only after
    the sequencer reports it free (its layer 0 has drained).

    Ports
    -----
    start : In(1)
        Pulse: a new job; both halves empty, filling starts in half 0.
    coords : In(stream.Signature(coord_layout(coords)))
        Coordinates, ``last`` on the job's final query. Accepted one per cycle while the
        half being filled has room.
    coord_wr : Out(StructLayout(en, addr, x, y[, t]))
        Coordinate-buffer write (``addr = half * batch + index``; ``t`` in video builds).
    half : In(1)
        The half the sequencer takes next (its ``coord_half``).
    batch_valid : Out(1), batch_len : Out(range(batch + 1)), batch_last : Out(1)
        The sequencer's view of half ``half``.
    batch_take : In(1)
        The sequencer started the batch in ``half``.
    batch_free : In(1)
        The sequencer no longer needs half ``half``'s coordinates.
    count : Out(32)
        Coordinates accepted in this job.
    """

    def __init__(self, *, config):
        if not isinstance(config, AccelConfig):
            raise TypeError(f"config must be an AccelConfig, not {config!r}")
        self._config = config
        B = config.batch
        super().__init__({
            "start":       In(1),
            "coords":      In(stream.Signature(coord_layout(config.model.coords))),
            "coord_wr":    Out(coord_write_layout(config)),
            "half":        In(1),
            "batch_valid": Out(1),
            "batch_len":   Out(range(B + 1)),
            "batch_last":  Out(1),
            "batch_take":  In(1),
            "batch_free":  In(1),
            "count":       Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        B = self._config.batch
        ready = Signal(2)      # half holds a complete batch not yet taken
        in_use = Signal(2)     # half taken by the sequencer and not yet freed
        length = [Signal(range(B + 1), name=f"len{h}") for h in range(2)]
        last = [Signal(name=f"last{h}") for h in range(2)]
        fill = Signal()        # half being filled
        index = Signal(range(B + 1))
        ended = Signal()       # the job's last coordinate has been accepted

        m.d.comb += [
            self.batch_valid.eq(ready.bit_select(self.half, 1)),
            self.batch_len.eq(length[0]),
            self.batch_last.eq(last[0]),
        ]
        with m.If(self.half):
            m.d.comb += [self.batch_len.eq(length[1]), self.batch_last.eq(last[1])]

        with m.If(self.batch_take):
            for h in range(2):
                with m.If(self.half == h):
                    m.d.sync += [ready[h].eq(0), in_use[h].eq(1)]
        with m.If(self.batch_free):
            for h in range(2):
                with m.If(self.half == h):
                    m.d.sync += in_use[h].eq(0)

        free = ~ready.bit_select(fill, 1) & ~in_use.bit_select(fill, 1)
        m.d.comb += self.coords.ready.eq(free & ~ended)
        c = self.coords.payload
        m.d.comb += [
            self.coord_wr.en.eq(self.coords.valid & self.coords.ready),
            self.coord_wr.addr.eq(fill * B + index),
            *(getattr(self.coord_wr, name).eq(getattr(c, name))
              for name in ("x", "y", "t")[:self._config.model.coords]),
        ]
        with m.If(self.coords.valid & self.coords.ready):
            m.d.sync += [index.eq(index + 1), self.count.eq(self.count + 1)]
            with m.If((index == B - 1) | c.last):
                # The batch is complete: hand it over and fill the other half next.
                m.d.sync += [index.eq(0), fill.eq(~fill), ended.eq(c.last)]
                for h in range(2):
                    with m.If(fill == h):
                        m.d.sync += [ready[h].eq(1), length[h].eq(index + 1), last[h].eq(c.last)]

        with m.If(self.start):
            m.d.sync += [ready.eq(0), in_use.eq(0), fill.eq(0), index.eq(0), ended.eq(0),
                         self.count.eq(0)]
        return m
