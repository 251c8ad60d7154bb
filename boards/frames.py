"""Reading the board top's UART frames on the host (:mod:`boards.uart` is the other end).

A frame is the header ``PINR`` then ``width * height * channels`` bytes in raster order,
channel 0 first. :func:`read_frame` finds the header in a byte stream (anything before it,
a previous frame's tail or line noise, is skipped) and returns the frame as a
``[height, width, channels]`` ``uint8`` array.
"""

import time

import numpy as np

from model.support.errors import UserError

from .uart import FRAME_HEADER

__all__ = ["read_frame", "FrameTimeout"]


class FrameTimeout(UserError):
    """No whole frame arrived in time."""


def read_frame(read, *, width, height, channels, timeout, max_skip=None,
               clock=time.monotonic):
    """One frame from ``read(n) -> bytes`` (a serial port's ``read``: it may return fewer
    bytes, or none when its own timeout passes).

    Raises
    ------
    FrameTimeout
        When ``timeout`` seconds pass before the frame is whole (the message says how much
        arrived).
    UserError
        When ``max_skip`` bytes (default: one frame's worth) arrive without a header: the
        stream is not this board's frames (wrong baud rate, port or size).
    """
    size = width * height * channels
    max_skip = size + len(FRAME_HEADER) if max_skip is None else max_skip
    deadline = clock() + timeout
    window = b""
    skipped = 0
    while True:                                   # find the header
        if clock() > deadline:
            raise FrameTimeout(f"no frame header within {timeout:g} s "
                               f"({skipped + len(window)} bytes received)")
        chunk = read(1)
        if not chunk:
            continue
        window = (window + chunk)[-len(FRAME_HEADER):]
        if window == FRAME_HEADER:
            break
        skipped += len(chunk)
        if skipped > max_skip:
            raise UserError(f"no {FRAME_HEADER.decode()} header in {skipped} bytes: not a "
                            f"frame of this board (check the port, baud rate and size)")
    data = bytearray()
    while len(data) < size:
        if clock() > deadline:
            raise FrameTimeout(f"frame incomplete after {timeout:g} s: {len(data)} of "
                               f"{size} bytes")
        data += read(size - len(data))
    return np.frombuffer(bytes(data), dtype=np.uint8).reshape(height, width, channels)
