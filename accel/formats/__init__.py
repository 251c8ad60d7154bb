"""Number formats of the processing element, as strategies.

A processing element is written once (:mod:`accel.gateware.pe`) over an
:class:`~accel.formats.arith.Arithmetic`, which says how wide its operands are and builds
its multiply-accumulate unit: :mod:`~accel.formats.int8` and :mod:`~accel.formats.fp32`
(FP32, and the run-time selectable dual arithmetic). The FP32 units themselves (adder,
multiplier, sine, pixel converter, integer conversion) are the :mod:`~accel.formats.float32`
family.
"""

__all__ = ["for_config"]


def for_config(config):
    """The processing element's :class:`~accel.formats.arith.Arithmetic` for an
    :class:`~accel.config.AccelConfig`'s precision."""
    from .int8 import Int8Arithmetic
    if config.precision == "int8":
        return Int8Arithmetic()
    from .fp32 import DualArithmetic, Fp32Arithmetic
    return Fp32Arithmetic() if config.precision == "fp32" else DualArithmetic()
