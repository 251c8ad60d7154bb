"""What host software sees of the core, and nothing of its gateware.

:mod:`~accel.host.registers` (the register map, the one source of ``docs/interface.md``, the
CSR block, the C header, SystemRDL and IP-XACT), :mod:`~accel.host.errors` (the ERROR
register's codes), :mod:`~accel.host.weights` (a model file as memory words and
weight-stream packets), :mod:`~accel.host.transport` (the link a driver talks over),
:mod:`~accel.host.driver` (the driver), and the writers of :mod:`~accel.host.cheader`,
:mod:`~accel.host.systemrdl` and :mod:`~accel.host.ipxact`.
"""
