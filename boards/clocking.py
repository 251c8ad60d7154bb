"""The accelerator clock: drives the 200 MHz ``sync`` domain from the board oscillator.

On UltraScale+ hardware an MMCME4_ADV multiplies the oscillator up to a VCO frequency and
divides it down to the accelerator clock; a BUFG puts that clock on the global network, and
the domain's reset is held until the MMCM reports lock. In simulation the MMCM is ideal: the
testbench drives the domain's clock itself.
"""

import math
from dataclasses import dataclass
from fractions import Fraction

from amaranth.hdl import C, ClockSignal, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In
from amaranth.vendor import XilinxPlatform

from accel.config import CLOCK_HZ

__all__ = ["ACCEL_FREQ", "MMCMSettings", "mmcm_settings", "AcceleratorClock"]

#: Frequency of the accelerator's ``sync`` domain, in Hz: :data:`accel.config.CLOCK_HZ`.
ACCEL_FREQ = float(CLOCK_HZ)

# MMCME4 limits for Virtex UltraScale+ at -2 speed grade, VCCINT 0.85 V (what the
# xcvu9p-...-2L-e part runs at on the VCU118): DS923, MMCM switching characteristics, and
# UG572, MMCM attributes (integer ranges of D, M and O).
_FIN_MIN, _FIN_MAX = 10e6, 933e6
_FOUT_MAX = 775e6
_FPFD_MIN, _FPFD_MAX = 10e6, 500e6
_FVCO_MIN, _FVCO_MAX = 800e6, 1600e6
_D_MAX, _M_MIN, _M_MAX, _O_MAX = 106, 2, 128, 128


@dataclass(frozen=True)
class MMCMSettings:
    """Divider settings of one MMCM output: ``f_out = f_in * M / (D * O)``.

    Attributes
    ----------
    f_in, f_out : float
        Input and output frequencies, in Hz.
    divclk_divide : int
        ``D``, the input divider (``DIVCLK_DIVIDE``).
    clkfbout_mult : int
        ``M``, the feedback multiplier (``CLKFBOUT_MULT_F``).
    clkout0_divide : int
        ``O``, the output divider (``CLKOUT0_DIVIDE_F``).
    """
    f_in: float
    f_out: float
    divclk_divide: int
    clkfbout_mult: int
    clkout0_divide: int

    @property
    def f_pfd(self):
        """Phase-detector frequency ``f_in / D``, in Hz."""
        return self.f_in / self.divclk_divide

    @property
    def f_vco(self):
        """VCO frequency ``f_in * M / D``, in Hz."""
        return self.f_in * self.clkfbout_mult / self.divclk_divide

    @property
    def clkin1_period_ns(self):
        """``CLKIN1_PERIOD``: the input period in ns, to the 3 decimals Vivado accepts."""
        return round(1e9 / self.f_in, 3)


def _check_frequency(name, value):
    if (not isinstance(value, (int, float)) or isinstance(value, bool)
            or not math.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a positive number of Hz, not {value!r}")


def mmcm_settings(*, f_in, f_out):
    """Integer MMCME4 settings that make exactly ``f_out`` from ``f_in``.

    Of all integer ``D``, ``M``, ``O`` within the primitive's ranges that keep the phase
    detector in 10..500 MHz and the VCO in 800..1600 MHz, this picks the smallest ``D``
    (the highest phase-detector frequency, so the loop filters the least reference noise)
    and then the highest VCO frequency (UG949: the lowest output jitter). Fractional
    ``M``/``O`` are not used: they add jitter, and the board's 300 and 125 MHz oscillators
    reach 200 MHz without them (300 MHz * 4 / 1 / 6, 125 MHz * 8 / 1 / 5).

    Raises
    ------
    ValueError
        If a frequency is not positive, ``f_in`` is outside the MMCM's 10..933 MHz input
        range, ``f_out`` above its 775 MHz output limit, or no integer setting gives
        ``f_out`` exactly.
    """
    _check_frequency("MMCM input frequency", f_in)
    _check_frequency("MMCM output frequency", f_out)
    if not _FIN_MIN <= f_in <= _FIN_MAX:
        raise ValueError(f"MMCM input frequency must be within 10..933 MHz, "
                         f"not {f_in / 1e6:g} MHz")
    if f_out > _FOUT_MAX:
        raise ValueError(f"MMCM output frequency must be at most 775 MHz, "
                         f"not {f_out / 1e6:g} MHz")
    # Exact rational arithmetic: a float ratio such as 1200 MHz / 200 MHz must not be "almost 6".
    fin, fout = Fraction(f_in), Fraction(f_out)
    for d in range(1, _D_MAX + 1):
        fpfd = fin / d
        if fpfd < _FPFD_MIN:
            break
        if fpfd > _FPFD_MAX:
            continue
        # From the highest VCO frequency down: the first M that divides exactly is the best.
        m_hi = min(_M_MAX, math.floor(Fraction(_FVCO_MAX) / fpfd))
        m_lo = max(_M_MIN, math.ceil(Fraction(_FVCO_MIN) / fpfd))
        for mult in range(m_hi, m_lo - 1, -1):
            o = fpfd * mult / fout
            if o.denominator == 1 and 1 <= o <= _O_MAX:
                return MMCMSettings(f_in=f_in, f_out=f_out, divclk_divide=d,
                                    clkfbout_mult=mult, clkout0_divide=int(o))
    raise ValueError(f"no integer MMCM setting makes {f_out / 1e6:g} MHz from "
                     f"{f_in / 1e6:g} MHz with the VCO in 800..1600 MHz")


class AcceleratorClock(wiring.Component):
    """Drives the accelerator's ``sync`` clock domain (200 MHz) from the board oscillator.

    The module that contains it defines the domain (``m.domains.sync = ClockDomain()``),
    since Amaranth 0.6 no longer lets a parent use a domain that a child defines; this
    component drives the domain's clock and reset.

    On a :class:`~amaranth.vendor.XilinxPlatform` of the UltraScale+ family, an MMCME4_ADV
    synthesises the clock (settings from :func:`mmcm_settings`; 300 MHz in gives
    ``D = 1, M = 4, O = 6``: PFD 300 MHz, VCO 1200 MHz, 200 MHz out) and a BUFG drives
    the domain. The MMCM's feedback runs from ``CLKFBOUT`` straight to ``CLKFBIN``: the
    output is not phase-aligned to the oscillator, which nothing needs, since no logic is
    clocked by the oscillator itself. The domain's reset is asserted at once while
    ``rst_in`` is high or the MMCM is not locked, and released two ``sync`` edges after
    both clear (:class:`~amaranth.lib.cdc.ResetSynchronizer`).

    The MMCM's output net carries a clock constraint at ``freq``
    (``platform.add_clock_constraint``), so the XDC states the accelerator clock itself:
    ``create_clock -name accel_clk -period 5.0 [get_nets ".../accel_clk"]``. Vivado would
    otherwise derive that clock from the oscillator's constraint and the MMCM attributes; a
    clock defined on the net takes its place (``report_methodology`` lists it as TIMING-3,
    a primary clock on the output of a clock-modifying block). All that is lost is the
    phase relation to the oscillator, which no path uses: the only crossing is the reset,
    and the synchroniser's input is a false path.

    In simulation (``platform`` is ``None``) the MMCM is ideal: the domain's clock is driven
    directly by the testbench, ``sim.add_clock(1 / freq)``, ``clk_in`` is not used, and the
    reset path is the same synchroniser fed by ``rst_in`` alone: reset holds for the first
    2 cycles and after each ``rst_in`` pulse.

    Parameters
    ----------
    in_freq : float
        Oscillator frequency at ``clk_in``, in Hz (VCU118 system clock: 300 MHz).
    freq : float
        Frequency of the ``sync`` domain, in Hz.

    Attributes
    ----------
    clk_in : In(1)
        Oscillator, after its input buffer. Feeds the MMCM's ``CLKIN1``.
    rst_in : In(1)
        Asynchronous reset, active high (the board's CPU reset button). Resets the MMCM;
        the ``sync`` reset asserts at once and releases 2 ``sync`` cycles after lock.
    """

    clk_in: In(1)
    rst_in: In(1)

    def __init__(self, *, in_freq=300e6, freq=ACCEL_FREQ):
        self._settings = mmcm_settings(f_in=in_freq, f_out=freq)
        super().__init__()

    @property
    def settings(self):
        """:class:`MMCMSettings` the MMCM is built with."""
        return self._settings

    @property
    def freq(self):
        """Frequency of the ``sync`` domain, in Hz."""
        return self._settings.f_out

    def elaborate(self, platform):
        if platform is not None and not (isinstance(platform, XilinxPlatform)
                                         and platform.family == "ultrascaleplus"):
            raise NotImplementedError(
                f"AcceleratorClock needs an UltraScale+ XilinxPlatform (MMCME4_ADV) or no "
                f"platform (simulation), not {platform!r}")

        m = Module()
        arst = Signal()
        if platform is None:
            m.d.comb += arst.eq(self.rst_in)
        else:
            s = self._settings
            feedback = Signal()
            accel_clk = Signal()    # MMCM CLKOUT0; named for the XDC's create_clock
            locked = Signal()
            m.submodules.mmcm = Instance("MMCME4_ADV",
                p_BANDWIDTH="OPTIMIZED",
                p_COMPENSATION="AUTO",
                p_STARTUP_WAIT="FALSE",
                p_CLKIN1_PERIOD=s.clkin1_period_ns,
                p_DIVCLK_DIVIDE=s.divclk_divide,
                p_CLKFBOUT_MULT_F=float(s.clkfbout_mult),
                p_CLKOUT0_DIVIDE_F=float(s.clkout0_divide),
                p_CLKOUT0_PHASE=0.0,
                p_CLKOUT0_DUTY_CYCLE=0.5,
                i_CLKIN1=self.clk_in,
                i_CLKIN2=0,
                i_CLKINSEL=1,
                i_CLKFBIN=feedback,
                o_CLKFBOUT=feedback,
                o_CLKOUT0=accel_clk,
                o_LOCKED=locked,
                i_RST=self.rst_in,
                i_PWRDWN=0,
                # Dynamic reconfiguration and phase shift ports, unused: held idle.
                i_DCLK=0, i_DEN=0, i_DWE=0, i_DADDR=C(0, 7), i_DI=C(0, 16),
                i_PSCLK=0, i_PSEN=0, i_PSINCDEC=0, i_CDDCREQ=0,
            )
            m.submodules.bufg = Instance("BUFG", i_I=accel_clk, o_O=ClockSignal("sync"))
            platform.add_clock_constraint(accel_clk, self.freq)
            # RST already drops LOCKED; rst_in is ORed in as well so that the domain's reset
            # does not rely on how fast LOCKED falls.
            m.d.comb += arst.eq(self.rst_in | ~locked)

        m.submodules.reset_sync = ResetSynchronizer(arst, domain="sync")
        return m
