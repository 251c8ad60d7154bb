"""Receive a frame from the VCU118 board top over its USB-UART and write it as PNG.

Command line::

    python -m boards.receive --port /dev/ttyUSB1 --size 256x256 --channels 3 --out frame.png

Press the board's centre button (or send START) after this starts listening; it waits for
the ``PINR`` header of :mod:`boards.uart`, reads the frame and writes the PNG. The board's
UART runs at ``--baud`` (default 115200, :class:`boards.top.BoardTop`'s) 8N1. Exit status 0
on a frame, 2 when the port cannot be opened, no frame arrives within ``--timeout``
seconds, or the bytes are not this board's frames; 130 on Ctrl-C.
"""

import sys

from model.support.errors import ArgumentParser, UserError, cli_entry
from model.support.files import check_output
from model.support.validate import cli_type, parse_size, positive_int, positive_number

__all__ = ["build_parser", "main"]


def build_parser():
    p = ArgumentParser(prog="python -m boards.receive", description=__doc__.split("\n\n")[0])
    p.add_argument("--port", required=True, help="serial device (for example /dev/ttyUSB1)")
    p.add_argument("--size", required=True, help="frame WIDTHxHEIGHT the core renders")
    p.add_argument("--channels", type=cli_type(int, positive_int, maximum=3), default=3,
                   help="1 (gray) or 3 (RGB, default)")
    p.add_argument("--baud", type=cli_type(int, positive_int), default=115200)
    p.add_argument("--timeout", type=cli_type(float, positive_number), default=60.0,
                   help="seconds to wait for the whole frame (default %(default)s)")
    p.add_argument("--out", required=True, help="PNG to write")
    return p


@cli_entry("boards.receive")
def main(argv=None):
    args = build_parser().parse_args(argv)
    width, height = parse_size(args.size)
    from model.support.limits import MAX_IMAGE_PIXELS
    if width * height > MAX_IMAGE_PIXELS:
        raise UserError(f"a {width}x{height} frame is {width * height / 1e6:.1f} MP: at most "
                        f"{MAX_IMAGE_PIXELS / 1e6:.0f} MP are received")
    if args.channels not in (1, 3):
        raise UserError(f"--channels must be 1 or 3, not {args.channels}")
    check_output(args.out, suffixes=(".png",))
    import serial

    from model.evaluate import save_png

    from .frames import read_frame
    try:
        port = serial.Serial(args.port, args.baud, timeout=0.2)
    except (serial.SerialException, ValueError) as exc:
        raise UserError(f"cannot open {args.port!r}: {exc}") from None
    with port:
        frame = read_frame(port.read, width=width, height=height, channels=args.channels,
                           timeout=args.timeout)
    save_png(args.out, frame)
    print(f"{width}x{height}x{args.channels} frame from {args.port} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
