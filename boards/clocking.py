"""The accelerator clock: drives the ``sync`` domain (200 MHz on the VCU118, 100 MHz on the
ULX3S) from the board oscillator.

On UltraScale+ hardware an MMCME4_ADV multiplies the oscillator up to a VCO frequency and
divides it down to the accelerator clock; a BUFG puts that clock on the global network, and
the domain's reset is held until the MMCM reports lock. On a Lattice ECP5 an EHXPLLL does
the same (:func:`ecp5_pll_settings`). In simulation the clock generator is ideal: the
testbench drives the domain's clock itself.
"""

import math
from dataclasses import dataclass
from fractions import Fraction

from amaranth.hdl import C, ClockSignal, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In
from amaranth.vendor import LatticeECP5Platform, XilinxPlatform

from accel.config import CLOCK_HZ
from accel.gateware.int8.pumped import FAST_DOMAIN

__all__ = ["ACCEL_FREQ", "MMCMSettings", "mmcm_settings", "PLLSettings", "ecp5_pll_settings",
           "clock_settings", "AcceleratorClock"]

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


# EHXPLLL limits (Lattice DS1044, sysCLOCK PLL timing; FPGA-TN-02200, the divider ranges):
# input 8..400 MHz, phase detector 3.125..400 MHz, VCO 400..800 MHz, output 3.125..400 MHz.
_ECP5_FIN_MIN, _ECP5_FIN_MAX = 8e6, 400e6
_ECP5_FPFD_MIN, _ECP5_FPFD_MAX = 3.125e6, 400e6
_ECP5_FVCO_MIN, _ECP5_FVCO_MAX = 400e6, 800e6
_ECP5_FOUT_MIN, _ECP5_FOUT_MAX = 3.125e6, 400e6
_ECP5_CLKI_MAX, _ECP5_CLKFB_MAX, _ECP5_CLKOP_MAX = 128, 80, 128


@dataclass(frozen=True)
class PLLSettings:
    """Divider settings of an ECP5 EHXPLLL whose feedback is its own ``CLKOP``:
    ``f_out = f_in * CLKFB_DIV / CLKI_DIV``, the VCO at ``f_out * CLKOP_DIV``.

    Attributes
    ----------
    f_in, f_out : float
        Input and output frequencies, in Hz.
    clki_div, clkfb_div, clkop_div : int
        ``CLKI_DIV``, ``CLKFB_DIV`` and ``CLKOP_DIV``.
    """
    f_in: float
    f_out: float
    clki_div: int
    clkfb_div: int
    clkop_div: int

    @property
    def f_pfd(self):
        """Phase-detector frequency ``f_in / CLKI_DIV``, in Hz."""
        return self.f_in / self.clki_div

    @property
    def f_vco(self):
        """VCO frequency ``f_out * CLKOP_DIV``, in Hz."""
        return self.f_out * self.clkop_div

    @property
    def clkop_cphase(self):
        """``CLKOP_CPHASE`` for no phase shift: ``CLKOP_DIV - 1``, as Lattice's tools set it."""
        return self.clkop_div - 1


def ecp5_pll_settings(*, f_in, f_out):
    """Integer EHXPLLL settings that make exactly ``f_out`` from ``f_in``.

    Of the settings within the dividers' ranges that keep the phase detector in
    3.125..400 MHz and the VCO in 400..800 MHz, this picks the smallest ``CLKI_DIV`` (the
    highest phase-detector frequency), then the highest VCO frequency (ULX3S 25 MHz to
    100 MHz: ``CLKI_DIV = 1, CLKFB_DIV = 4, CLKOP_DIV = 8``, VCO 800 MHz).

    Raises
    ------
    ValueError
        If a frequency is not positive or outside the PLL's ranges, or no integer setting
        gives ``f_out`` exactly.
    """
    _check_frequency("PLL input frequency", f_in)
    _check_frequency("PLL output frequency", f_out)
    if not _ECP5_FIN_MIN <= f_in <= _ECP5_FIN_MAX:
        raise ValueError(f"PLL input frequency must be within 8..400 MHz, "
                         f"not {f_in / 1e6:g} MHz")
    if not _ECP5_FOUT_MIN <= f_out <= _ECP5_FOUT_MAX:
        raise ValueError(f"PLL output frequency must be within 3.125..400 MHz, "
                         f"not {f_out / 1e6:g} MHz")
    fin, fout = Fraction(f_in), Fraction(f_out)
    for clki in range(1, _ECP5_CLKI_MAX + 1):
        fpfd = fin / clki
        if fpfd < _ECP5_FPFD_MIN:
            break
        if fpfd > _ECP5_FPFD_MAX:
            continue
        fb = fout / fpfd
        if fb.denominator != 1 or not 1 <= fb <= _ECP5_CLKFB_MAX:
            continue
        # The highest VCO: the largest output divider that keeps it within range.
        op = min(_ECP5_CLKOP_MAX, math.floor(Fraction(_ECP5_FVCO_MAX) / fout))
        if fout * op >= _ECP5_FVCO_MIN:
            return PLLSettings(f_in=f_in, f_out=f_out, clki_div=clki, clkfb_div=int(fb),
                               clkop_div=op)
    raise ValueError(f"no integer PLL setting makes {f_out / 1e6:g} MHz from "
                     f"{f_in / 1e6:g} MHz with the VCO in 400..800 MHz")


def clock_settings(platform, *, f_out):
    """The clock generator's settings for ``platform``'s oscillator: an ECP5 PLL's
    (:func:`ecp5_pll_settings`) or an UltraScale+ MMCM's (:func:`mmcm_settings`)."""
    f_in = platform.default_clk_frequency
    if isinstance(platform, LatticeECP5Platform):
        return ecp5_pll_settings(f_in=f_in, f_out=f_out)
    return mmcm_settings(f_in=f_in, f_out=f_out)


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

    With ``dsp_clock = 2`` (UltraScale+ only) the MMCM's ``CLKOUT1`` makes twice ``freq``
    from the same VCO (its divider half of ``CLKOUT0``'s, both at phase 0: the two clocks
    are synchronous and rise together, PG338's ``dpu_2x_clk``) for the
    :data:`~accel.gateware.int8.pumped.FAST_DOMAIN` of the INT8 array's pumped DSP48E2s,
    through its own BUFG and with its own clock constraint; that domain has no reset.

    Parameters
    ----------
    in_freq : float
        Oscillator frequency at ``clk_in``, in Hz (VCU118 system clock: 300 MHz).
    freq : float
        Frequency of the ``sync`` domain, in Hz.
    dsp_clock : {1, 2}
        2: also drive the fast domain at twice ``freq``.

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

    def __init__(self, *, in_freq=300e6, freq=ACCEL_FREQ, family="xcup", dsp_clock=1):
        if family not in ("xcup", "ecp5"):
            raise ValueError(f"clock family must be 'xcup' or 'ecp5', not {family!r}")
        if dsp_clock not in (1, 2) or (dsp_clock == 2 and family != "xcup"):
            raise ValueError(f"DSP clock must be 1, or 2 on an UltraScale+ MMCM, not "
                             f"{dsp_clock!r} ({family})")
        self._family = family
        self._dsp_clock = dsp_clock
        if dsp_clock == 2:
            # The fast clock's setting, and the fabric's from the same VCO at twice its
            # divider.
            fast = mmcm_settings(f_in=in_freq, f_out=2 * freq)
            if 2 * fast.clkout0_divide > _O_MAX:
                raise ValueError(f"no MMCM output divider makes {freq / 1e6:g} MHz beside "
                                 f"{2 * freq / 1e6:g} MHz")
            self._fast_divide = fast.clkout0_divide
            self._settings = MMCMSettings(
                f_in=in_freq, f_out=freq, divclk_divide=fast.divclk_divide,
                clkfbout_mult=fast.clkfbout_mult, clkout0_divide=2 * fast.clkout0_divide)
        else:
            self._settings = (ecp5_pll_settings if family == "ecp5" else mmcm_settings)(
                f_in=in_freq, f_out=freq)
        super().__init__()

    @property
    def settings(self):
        """:class:`MMCMSettings` the MMCM is built with (:class:`PLLSettings` on an ECP5)."""
        return self._settings

    @property
    def freq(self):
        """Frequency of the ``sync`` domain, in Hz."""
        return self._settings.f_out

    def elaborate(self, platform):
        ecp5 = isinstance(platform, LatticeECP5Platform)
        if platform is not None and not (
                (ecp5 and self._family == "ecp5")
                or (isinstance(platform, XilinxPlatform) and platform.family == "ultrascaleplus"
                    and self._family == "xcup")):
            raise NotImplementedError(
                f"AcceleratorClock needs an UltraScale+ XilinxPlatform (MMCME4_ADV), a "
                f"LatticeECP5Platform (EHXPLLL) of its family, or no platform (simulation), "
                f"not {platform!r}")

        m = Module()
        arst = Signal()
        if platform is None:
            m.d.comb += arst.eq(self.rst_in)
        elif ecp5:
            self._ecp5_pll(m, platform, arst)
        else:
            s = self._settings
            feedback = Signal()
            accel_clk = Signal()    # MMCM CLKOUT0; named for the XDC's create_clock
            fast_clk = Signal()     # CLKOUT1, with dsp_clock 2
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
                **({"p_CLKOUT1_DIVIDE": self._fast_divide, "p_CLKOUT1_PHASE": 0.0,
                    "p_CLKOUT1_DUTY_CYCLE": 0.5, "o_CLKOUT1": fast_clk}
                   if self._dsp_clock == 2 else {}),
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
            if self._dsp_clock == 2:
                m.submodules.bufg_fast = Instance("BUFG", i_I=fast_clk,
                                                  o_O=ClockSignal(FAST_DOMAIN))
                platform.add_clock_constraint(fast_clk, 2 * self.freq)
            # RST already drops LOCKED; rst_in is ORed in as well so that the domain's reset
            # does not rely on how fast LOCKED falls.
            m.d.comb += arst.eq(self.rst_in | ~locked)

        m.submodules.reset_sync = ResetSynchronizer(arst, domain="sync")
        return m

    def _ecp5_pll(self, m, platform, arst):
        """An EHXPLLL whose ``CLKOP`` drives the domain (the tools promote it to a global
        clock) and feeds back to ``CLKFB``; the reset holds until ``LOCK``."""
        s = self._settings
        accel_clk = Signal()    # CLKOP; the LPF's FREQUENCY constraint names this net
        locked = Signal()
        m.submodules.pll = Instance("EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{s.f_in / 1e6:g}",
            a_FREQUENCY_PIN_CLKOP=f"{s.f_out / 1e6:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8",
            a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="ENABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED",
            p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=s.clki_div, p_CLKFB_DIV=s.clkfb_div,
            p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=s.clkop_div,
            p_CLKOP_CPHASE=s.clkop_cphase, p_CLKOP_FPHASE=0,
            p_FEEDBK_PATH="CLKOP",
            i_CLKI=self.clk_in, i_CLKFB=accel_clk, o_CLKOP=accel_clk,
            i_RST=self.rst_in, i_STDBY=0,
            i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
            i_PLLWAKESYNC=0, i_ENCLKOP=0,
            o_LOCK=locked)
        m.d.comb += ClockSignal("sync").eq(accel_clk)
        platform.add_clock_constraint(accel_clk, self.freq)
        m.d.comb += arst.eq(self.rst_in | ~locked)
