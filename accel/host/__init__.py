"""The host interface: what software and a Vivado block design see of the core.

:mod:`~accel.host.axi` (AXI4-Lite and AXI4-Stream signatures), :mod:`~accel.host.csr` (the
register map, the one source of ``docs/interface.md``) and :mod:`~accel.host.errors` (the
ERROR register's codes).
"""
