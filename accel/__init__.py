"""The accelerator: configuration, cycle model and sizing, number formats, gateware, host
side, tool flows and command lines.

:mod:`~accel.config` (:class:`~accel.config.AccelConfig`, the one source of geometry,
memory layout and latencies; the clock), :mod:`~accel.plan` (the INT8 array's plan),
:mod:`~accel.cycles` (the analytic cycle model), :mod:`~accel.device` and
:mod:`~accel.sizing` (the XCVU9P's resources, the fit check, ``--array auto``);
:mod:`~accel.formats` (INT8 and FP32 arithmetic), :mod:`~accel.gateware` (the blocks),
:mod:`~accel.host` (register map, driver, transport and writers), :mod:`~accel.flows`
(export, simulation, synthesis, builds, sweeps, soak) and :mod:`~accel.cli` (the commands).
"""
