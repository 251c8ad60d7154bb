"""Platforms: the AMD VCU118 board, any other UltraScale+ part, and the board registry
(the ULX3S boards are in :mod:`boards.ulx3s`)."""

import re

from amaranth.build import Attrs, Clock, DiffPairs, Pins, Resource
from amaranth.vendor import XilinxPlatform
from amaranth_boards.resources import ButtonResources, LEDResources, UARTResource

__all__ = ["VCU118Platform", "UltraScalePlusPlatform", "BOARDS", "get_board"]


class VCU118Platform(XilinxPlatform):
    """AMD VCU118 evaluation board: Virtex UltraScale+ XCVU9P, part xcvu9p-flga2104-2L-e.

    Pins are taken from the public board files (Xilinx's VCU118 master XDC and open-source
    platform files that agree with it); confirm them against the board user guide, UG1224,
    before relying on a pin that this package has not exercised on a board.

    ===================  ======================  ============  ============================
    resource             pins                    I/O standard  notes
    ===================  ======================  ============  ============================
    ``clk300`` 0         G31 (p), F31 (n)        DIFF_SSTL12   300 MHz system clock
    ``clk125`` 0         AY24 (p), AY23 (n)      LVDS          125 MHz clock
    ``cpu_reset`` 0      L19                     LVCMOS12      push button, active high
    ``uart`` 0           tx BB21, rx AW25,       LVCMOS18      CP2105 USB-UART; directions
                         rts BB22, cts AY25                    as seen from the FPGA
    ``led`` 0..7         AT32 AV34 AY30 BB32     LVCMOS12      GPIO LEDs, active high
                         BF32 AU37 AV36 BA37
    ``button_center`` 0  BD23                    LVCMOS18      GPIO push buttons,
    ``button_north`` 0   BB24                    LVCMOS18      active high
    ``button_east`` 0    BE23                    LVCMOS18
    ``button_south`` 0   BE22                    LVCMOS18
    ``button_west`` 0    BF22                    LVCMOS18
    ===================  ======================  ============  ============================

    ``default_clk`` is the 300 MHz clock and ``default_rst`` the CPU reset button.
    """

    device = "xcvu9p"
    package = "flga2104"
    speed = "2L-e"
    default_clk = "clk300"
    default_rst = "cpu_reset"
    #: ``(resource, number)`` of the button that starts a frame, and of the reset button.
    start_button = ("button_center", 0)
    reset_button = ("cpu_reset", 0)
    #: The accelerator clock a build of this board runs at unless told otherwise, in Hz.
    default_clock_hz = 200_000_000
    #: Device facts (:data:`accel.device.DEVICES`).
    device_name = "xcvu9p"
    resources = [
        Resource("clk300", 0, DiffPairs("G31", "F31", dir="i"),
                 Clock(300e6), Attrs(IOSTANDARD="DIFF_SSTL12")),
        Resource("clk125", 0, DiffPairs("AY24", "AY23", dir="i"),
                 Clock(125e6), Attrs(IOSTANDARD="LVDS")),
        *ButtonResources("cpu_reset", pins="L19", attrs=Attrs(IOSTANDARD="LVCMOS12")),
        # The FPGA drives rts and samples cts, so it is the DTE side of the CP2105.
        UARTResource(0, tx="BB21", rx="AW25", rts="BB22", cts="AY25", role="dte",
                     attrs=Attrs(IOSTANDARD="LVCMOS18")),
        *LEDResources(pins="AT32 AV34 AY30 BB32 BF32 AU37 AV36 BA37",
                      attrs=Attrs(IOSTANDARD="LVCMOS12")),
        *[resource
          for name, pin in (("center", "BD23"), ("north", "BB24"), ("east", "BE23"),
                            ("south", "BE22"), ("west", "BF22"))
          for resource in ButtonResources(f"button_{name}", pins=pin,
                                          attrs=Attrs(IOSTANDARD="LVCMOS18"))],
    ]
    connectors = []


# Device names of the UltraScale+ families (Virtex/Kintex UltraScale+ end in "p", Zynq
# UltraScale+ MPSoC/RFSoC are "zu...", Artix UltraScale+ "au..."), with AMD's commercial
# (xc), automotive (xa) and defence (xq) prefixes.
_ULTRASCALE_PLUS_DEVICE = re.compile(r"x[caq](?:(?:vu|ku)\d+p|zu\d+\w*|au\d+p)")


class UltraScalePlusPlatform(XilinxPlatform):
    """Any UltraScale+ part with no board around it (``--board generic``).

    With no clock pin the platform has no resources at all: it serves to elaborate the
    accelerator core for that part, for example ``verilog.convert(core, platform=...)``, so
    that platform checks pick the part's primitives (DSP48E2, MMCME4_ADV) and the core
    keeps its own ports. With ``clk_pin`` it has one resource, ``clk`` 0, which is also
    ``default_clk``, so a design's ``sync`` domain comes from that pin through Amaranth's
    default Xilinx clocking. Boards with buttons, LEDs and a UART get their own platform
    class, like :class:`VCU118Platform`.

    Parameters
    ----------
    part : str
        Full part name, ``device-package-speed``, for example ``"xcku5p-ffvb676-2-e"``.
    clk_pin : str or None
        Package pin of a single-ended clock input, for example ``"AU21"``.
    clk_freq : float or None
        Frequency of that clock, in Hz; required with ``clk_pin``.
    clk_iostandard : str
        I/O standard of that pin.
    toolchain : str
        Passed to :class:`~amaranth.vendor.XilinxPlatform`.
    """

    def __init__(self, *, part, clk_pin=None, clk_freq=None, clk_iostandard="LVCMOS18",
                 toolchain="Vivado"):
        fields = part.split("-", 2) if isinstance(part, str) else []
        if len(fields) != 3 or not all(fields):
            raise ValueError(f"part must be 'device-package-speed' (for example "
                             f"'xcvu9p-flga2104-2L-e'), not {part!r}")
        device, package, speed = fields
        if not _ULTRASCALE_PLUS_DEVICE.fullmatch(device.lower()):
            raise ValueError(f"part {part!r} is not an UltraScale+ device")
        if clk_pin is None and clk_freq is not None:
            raise ValueError("clock frequency given without a clock pin")
        if clk_pin is not None and (not isinstance(clk_freq, (int, float))
                                    or isinstance(clk_freq, bool) or not clk_freq > 0):
            raise ValueError(f"clock frequency must be a positive number of Hz, "
                             f"not {clk_freq!r}")
        self._device, self._package, self._speed = device, package, speed
        self._default_clk = None if clk_pin is None else "clk"
        super().__init__(toolchain=toolchain)
        if clk_pin is not None:
            self.add_resources([Resource("clk", 0, Pins(clk_pin, dir="i"), Clock(clk_freq),
                                         Attrs(IOSTANDARD=clk_iostandard))])

    # Platform and XilinxPlatform declare these abstract: the part is the constructor's, and
    # the resources start empty (the constructor adds the clock).
    device = property(lambda self: self._device)
    package = property(lambda self: self._package)
    speed = property(lambda self: self._speed)
    default_clk = property(lambda self: self._default_clk)
    resources = []
    connectors = []


def _lattice(module, name):
    # Imported on first use: amaranth-boards' ECP5 board modules are needed by those
    # boards only.
    def make(**options):
        from importlib import import_module
        return getattr(import_module(f"boards.{module}"), name)(**options)
    return make


#: Board names accepted by ``--board``, and their platform classes (or factories).
BOARDS = {
    "vcu118": VCU118Platform,
    "ulx3s-85f": _lattice("ulx3s", "ULX3S85FPlatform"),
    "ecp5-evn": _lattice("ecp5_evn", "ECP5EVNPlatform"),
    "ulx3s-12f": _lattice("ulx3s", "ULX3S12FPlatform"),
    "generic": UltraScalePlusPlatform,
}


def get_board(name, **options):
    """A platform for board ``name``, built with ``options`` (``generic`` needs ``part``).

    Raises
    ------
    ValueError
        If ``name`` is not in :data:`BOARDS`.
    """
    if name not in BOARDS:
        raise ValueError(f"unknown board {name!r} (choose {', '.join(BOARDS)})")
    return BOARDS[name](**options)
