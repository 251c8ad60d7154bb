"""Platforms: the Radiona ULX3S boards (Lattice ECP5), built by the open Trellis flow.

amaranth-boards defines the boards' pins; this module adds what the board top
(:class:`~boards.top.BoardTop`) looks up on every platform, the button that starts a frame
and the one that resets, and points Amaranth's Trellis toolchain at the tools
:mod:`accel.flows.toolchain` finds (the YoWASP wheels this package installs, or the
``YOSYS``, ``NEXTPNR_ECP5`` and ``ECPPACK`` commands a user names).

===================  =====================  =================================================
resource             pins                   use on this board
===================  =====================  =================================================
``clk25`` 0          G2                     25 MHz oscillator, the PLL's input
``button_fire`` 0    R1 (active high)       starts a frame (the VCU118's centre button)
``button_pwr`` 0     D6 (active low)        reset (the VCU118's CPU reset)
``uart`` 0           tx L4                  FTDI USB-UART, the frame path (no flow control)
``led`` 0..3         B2 C2 C1 D2            busy, done, error, heartbeat
===================  =====================  =================================================
"""

from amaranth_boards.ulx3s import ULX3S_12F_Platform, ULX3S_85F_Platform

__all__ = ["ULX3S85FPlatform", "ULX3S12FPlatform"]


class _BoardPins:
    #: ``(resource, number)`` of the button that starts a frame, and of the reset button.
    start_button = ("button_fire", 0)
    reset_button = ("button_pwr", 0)
    #: The accelerator clock a build of this board runs at unless told otherwise, in Hz.
    default_clock_hz = 100_000_000
    #: Device facts (:data:`accel.device.DEVICES`).
    device_name = None


class ULX3S85FPlatform(_BoardPins, ULX3S_85F_Platform):
    """ULX3S with the LFE5U-85F (speed grade 6, CABGA381): the largest ULX3S."""
    device_name = "lfe5u-85f"


class ULX3S12FPlatform(_BoardPins, ULX3S_12F_Platform):
    """ULX3S with the LFE5U-12F: room for small configurations only (the suite's
    place-and-route check)."""
    device_name = "lfe5u-12f"
