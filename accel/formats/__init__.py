"""Number formats of the processing element, as strategies.

A processing element is written once (:mod:`accel.gateware.pe`) over an
:class:`~accel.formats.arith.Arithmetic`, which says how wide its operands are and builds
its multiply-accumulate unit: :mod:`~accel.formats.int8` and :mod:`~accel.formats.fp32`
(FP32, and the run-time selectable dual arithmetic). The FP32 units themselves (adder,
multiplier, sine, pixel converter, integer conversion) are the :mod:`~accel.formats.float32`
family.
"""
