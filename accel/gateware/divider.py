"""Sequential unsigned divider: one quotient bit per cycle.

Used where a division happens once per job (frame set-up), so a few dozen cycles cost
nothing and a combinational divider's area and timing would be wasted.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from model.support.validate import positive_int

from ..config import Timing

__all__ = ["SequentialDivider"]


class SequentialDivider(wiring.Component):
    """Unsigned restoring divider: ``quotient, remainder = divmod(dividend, divisor)``.

    Parameters
    ----------
    width : int
        Bits of the dividend, divisor, quotient and remainder.

    Ports
    -----
    start : In(1)
        One-cycle request. ``dividend`` and ``divisor`` are sampled on the clock edge where
        ``start`` is high; a ``start`` while ``busy`` abandons the division in progress and
        begins the new one.
    dividend, divisor : In(width)
        Unsigned operands, sampled with ``start`` (free to change afterwards).
    busy : Out(1)
        High from the cycle after ``start`` until the result is ready (``width`` cycles).
    done : Out(1)
        One-cycle pulse, :attr:`latency` cycles after the ``start`` cycle, when ``quotient``
        and ``remainder`` become valid.
    quotient, remainder : Out(width)
        The result, valid from ``done`` and held until the next ``start``. Division by zero
        gives ``quotient = 2**width - 1`` (all ones) and ``remainder = dividend``: what the
        restoring recurrence produces when every trial subtraction of 0 succeeds, so it
        costs no extra logic.
    """

    def __init__(self, *, width):
        positive_int("divider width", width)
        self._width = width
        super().__init__({
            "start":     In(1),
            "dividend":  In(width),
            "divisor":   In(width),
            "busy":      Out(1),
            "done":      Out(1),
            "quotient":  Out(width),
            "remainder": Out(width),
        })

    @property
    def width(self):
        return self._width

    @property
    def latency(self):
        """Cycles from the ``start`` cycle to the ``done`` cycle: one load, one per bit."""
        return self.latency_for(self._width)

    @staticmethod
    def latency_for(width):
        """:attr:`latency` of a ``width``-bit divider, without building one
        (:meth:`accel.config.Timing.divider`)."""
        return Timing.divider(width)

    def elaborate(self, platform):
        m = Module()
        w = self._width

        # The quotient register doubles as the dividend shift register: each step moves the
        # next dividend bit out of the top into the partial remainder and a quotient bit in
        # at the bottom, so after `width` steps it holds only quotient bits.
        divisor = Signal(w)
        rem = Signal(w)
        quo = Signal(w)
        count = Signal(range(w + 1))

        trial = Signal(w + 1)
        m.d.comb += trial.eq((rem << 1) | quo[-1])
        fits = Signal()
        m.d.comb += fits.eq(trial >= divisor)

        m.d.comb += [
            self.quotient.eq(quo),
            self.remainder.eq(rem),
        ]
        m.d.sync += self.done.eq(0)

        with m.If(self.start):
            m.d.sync += [
                divisor.eq(self.divisor),
                quo.eq(self.dividend),
                rem.eq(0),
                count.eq(w),
                self.busy.eq(1),
            ]
        with m.Elif(self.busy):
            # The remainder stays below the divisor, so the trial fits in width + 1 bits and
            # the difference, when it is kept, fits back in width bits.
            m.d.sync += [
                rem.eq(Mux(fits, trial - divisor, trial)),
                quo.eq((quo << 1) | fits),
                count.eq(count - 1),
            ]
            with m.If(count == 1):
                m.d.sync += [
                    self.busy.eq(0),
                    self.done.eq(1),
                ]
        return m
