"""Boards: the platform definition, the clock, the UART and the top that wraps the core.

:mod:`~boards.vcu118` (the VCU118 as an Amaranth ``XilinxPlatform``), :mod:`~boards.clocking`
(the MMCM that makes the accelerator clock), :mod:`~boards.uart` (the frame's serial path),
:mod:`~boards.top` (the board top: core, clock, button, LEDs, UART), and the host side of
the UART frames, :mod:`~boards.frames` and :mod:`~boards.receive` (a command).
"""
