"""Platform: Lattice's ECP5-5G Evaluation Board (LFE5UM5G-85F, speed grade 8), built by the
open Trellis flow.

The ULX3S 85F and this board carry the same 85k-LUT ECP5 fabric (83,640 LUT4s, 208 EBRs,
156 MULT18X18Ds), so the accelerator's configuration, and its cycles, are the same on
both; the ECP5-5G parts come only in speed grade 8, the fastest, where the ULX3S has the
slowest, 6. nextpnr's timing database makes the same netlist faster on it: this is the
ECP5 board for a build that must close its clock at the 85F's fill (:doc:`/timing`).

amaranth-boards defines the board's pins; this module adds what the board top
(:class:`~boards.top.BoardTop`) looks up on every platform, as :mod:`boards.ulx3s` does.

===================  =====================  =================================================
resource             pins                   use on this board
===================  =====================  =================================================
``clk12`` 0          A10                    12 MHz oscillator, the PLL's input
``button`` 0         P4 (active low)        starts a frame
``rst`` 0            G2 (active low)        reset
``uart`` 0           tx P3                  the FTDI USB-UART; the board ships with it
                                            wired for JTAG: two resistor jumpers swapped
                                            (the board's user manual, section 6.2) make
                                            it a UART
``led`` 0..3         A13 A12 B19 A18        busy, done, error, heartbeat
===================  =====================  =================================================
"""

from amaranth_boards.ecp5_5g_evn import ECP55GEVNPlatform

__all__ = ["ECP5EVNPlatform"]


class ECP5EVNPlatform(ECP55GEVNPlatform):
    """ECP5-5G Evaluation Board: LFE5UM5G-85F, speed grade 8, CABGA381."""
    #: ``(resource, number)`` of the button that starts a frame, and of the reset button.
    start_button = ("button", 0)
    reset_button = ("rst", 0)
    #: The accelerator clock a build of this board runs at unless told otherwise, in Hz.
    default_clock_hz = 100_000_000
    #: Device facts (:data:`accel.device.DEVICES`).
    device_name = "lfe5um5g-85f"
