"""Validation of values a user or a caller passes in: one helper per kind of check.

Every check raises :class:`~model.support.errors.UserError` (a ``ValueError``) whose message names
the value, says what was expected and, for a limit, states it. Library code calls these
at the boundary (constructors, command options); the command lines turn the error into one
line on stderr and exit status 2.
"""

import math
import numbers

from .errors import UserError

__all__ = ["positive_int", "nonnegative_int", "positive_number", "nonnegative_number",
           "one_of", "parse_pair", "parse_size", "parse_array"]


def _is_int(value):
    # bool is an int subclass, but True is no count or size
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(name, value, *, maximum=None):
    """``value`` as an ``int`` if it is an integer in ``1 .. maximum``."""
    if not _is_int(value) or value <= 0:
        raise UserError(f"{name} must be a positive integer, not {value!r}")
    if maximum is not None and value > maximum:
        raise UserError(f"{name} {value} exceeds the limit of {maximum:,}")
    return int(value)


def nonnegative_int(name, value, *, maximum=None):
    """``value`` as an ``int`` if it is an integer in ``0 .. maximum``."""
    if not _is_int(value) or value < 0:
        raise UserError(f"{name} must be a non-negative integer, not {value!r}")
    if maximum is not None and value > maximum:
        raise UserError(f"{name} {value} exceeds the limit of {maximum:,}")
    return int(value)


def _number(name, value, what, ok, maximum):
    if (not isinstance(value, numbers.Real) or isinstance(value, bool)
            or not math.isfinite(value) or not ok(value)):
        raise UserError(f"{name} must be a {what} number, not {value!r}")
    if maximum is not None and value > maximum:
        raise UserError(f"{name} {value:g} exceeds the limit of {maximum:g}")
    return float(value)


def positive_number(name, value, *, maximum=None):
    """``value`` as a ``float`` if it is finite and ``0 < value <= maximum``."""
    return _number(name, value, "positive", lambda v: v > 0, maximum)


def nonnegative_number(name, value, *, maximum=None):
    """``value`` as a ``float`` if it is finite and ``0 <= value <= maximum``."""
    return _number(name, value, "non-negative", lambda v: v >= 0, maximum)


def one_of(name, value, choices):
    """``value`` if it is one of ``choices`` (the message lists them: "a, b or c")."""
    if value not in choices:
        names = [str(c) for c in choices]
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        raise UserError(f"unknown {name} {value!r} (choose {listed})")
    return value


def parse_pair(text, *, what, form, example, square=False):
    """``"AxB"`` (or ``"A"`` when ``square``) -> ``(A, B)``, two positive integers."""
    parts = str(text).lower().split("x")
    if square and len(parts) == 1:
        parts *= 2
    try:
        if len(parts) != 2:
            raise ValueError
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise UserError(f"{what} must be {form} (for example {example}), not {text!r}") from None
    if min(dims) <= 0:
        raise UserError(f"{what} must be two positive integers, not {text!r}")
    return dims


def parse_size(text):
    """A frame or image size, ``WxH`` or ``N`` (square) -> ``(width, height)``, each side at
    most :data:`~model.support.limits.MAX_SIDE` (the coordinates are int16)."""
    from .limits import MAX_SIDE
    dims = parse_pair(text, what="frame size", form="WIDTHxHEIGHT", example="24x24",
                      square=True)
    for side in dims:
        if side > MAX_SIDE:
            raise UserError(f"frame size {text!r}: a side of {side:,} exceeds the limit of "
                            f"{MAX_SIDE:,}")
    return dims


def parse_array(text):
    """A systolic array shape ``RxC`` -> ``(rows, cols)``."""
    return parse_pair(text, what="array shape", form="ROWSxCOLS", example="4x4")


def cli_type(parse, check, **limits):
    """An ``argparse`` ``type=``: ``parse(text)``, then ``check("value", value, **limits)``;
    a failure of either becomes ``argparse``'s one-line ``argument --x: ...`` message."""
    import argparse

    def convert(text):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {parse.__name__}, not {text!r}") from None
        try:
            return check("value", value, **limits)
        except UserError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix("value ")) from None
    convert.__name__ = check.__name__
    return convert


def int_list(text, *, minimum=None, maximum=None):
    """``"1,2,4"`` -> ``[1, 2, 4]`` (an ``argparse`` ``type=``; use
    :func:`functools.partial` for the bounds): at least one integer, each within
    ``[minimum, maximum]`` where given, no repeats."""
    import argparse
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, not {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected at least one integer, not {text!r}")
    for v in values:
        if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
            raise argparse.ArgumentTypeError(
                f"{v} is outside {minimum if minimum is not None else '...'}"
                f"..{maximum if maximum is not None else ''}")
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"{text!r} repeats a value")
    return values
