"""boards.receive: the simulated board top's UART bytes through a pseudo-terminal, decoded
bit for bit into a PNG; a missing port, a timeout and a stream without header fail in one
line with exit status 2."""

import os
import pty
import termios
import threading
import time

import numpy as np
import pytest
from PIL import Image

from boards.frames import read_frame
from boards.receive import main

from .test_top import DIVIDER, make_top, out_of_reset, simulate, tiny_core
from .test_uart import uart_receive

pytest.importorskip("serial", reason="needs pyserial: pip install -e .")


@pytest.fixture(scope="module")
def board_bytes():
    """What the board top's tx line carries for one button press, decoded as a UART
    receiver would."""
    core = tiny_core()
    dut = make_top(core)
    received = []

    async def board(ctx):
        await out_of_reset(ctx)
        ctx.set(dut.button, 1)
        await ctx.tick().until(dut.led[0])
        ctx.set(dut.button, 0)

    async def host(ctx):
        received.extend(await uart_receive(ctx, dut.tx, DIVIDER, 4 + 18 + 1,
                                           timeout=400 * DIVIDER))
    simulate(dut, board, host)
    return core, bytes(received)


def _serve(data, *, delay=0.3):
    """A pseudo-terminal whose far end writes ``data`` once the receiver has opened it (and
    put it in raw mode: opening also discards what was waiting), ``delay`` seconds later."""
    master, slave = pty.openpty()
    name = os.ttyname(slave)

    def write():
        deadline = time.monotonic() + 30
        while termios.tcgetattr(slave)[3] & termios.ICANON and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(delay)
        for i in range(0, len(data), 7):              # in pieces, as a UART delivers them
            os.write(master, data[i:i + 7])
            time.sleep(0.01)
    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return name, (master, slave, thread)


def _close(handles):
    master, slave, thread = handles
    thread.join(timeout=5)
    os.close(slave)
    os.close(master)


def test_receives_the_simulated_frame_bit_for_bit(board_bytes, tmp_path, capsys):
    core, data = board_bytes
    assert data.startswith(b"PINR")
    name, handles = _serve(b"\x00\x13noise" + data)      # a receiver may start mid-stream
    out = tmp_path / "frame.png"
    try:
        rc = main(["--port", name, "--size", f"{core.width}x{len(core.pixels) // core.width}",
                   "--channels", "3", "--timeout", "20", "--out", str(out)])
    finally:
        _close(handles)
    assert rc == 0, capsys.readouterr().err
    want = np.array(core.pixels, dtype=np.uint8).reshape(2, 3, 3)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), want)


@pytest.mark.parametrize("data, argv, message", [
    (b"", ["--timeout", "1"], "no frame header within 1 s"),
    (b"\x00" * 200, ["--timeout", "10"], "no PINR header in"),
    (b"PINR\x01\x02", ["--timeout", "1"], "frame incomplete after 1 s: 2 of 18 bytes"),
], ids=["timeout", "no-header", "truncated"])
def test_failures_are_one_line_and_exit_2(data, argv, message, tmp_path, capsys):
    name, handles = _serve(data, delay=0.1)
    try:
        rc = main(["--port", name, "--size", "3x2", "--out", str(tmp_path / "f.png"), *argv])
    finally:
        _close(handles)
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "f.png").exists()


def test_missing_port(tmp_path, capsys):
    rc = main(["--port", str(tmp_path / "ttyNONE"), "--size", "3x2", "--out",
               str(tmp_path / "f.png")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("boards.receive: error: cannot open") and err.count("\n") == 1


def test_read_frame_skips_to_the_header():
    stream = iter([b"xx", b"PI", b"NR", b"\x01\x02\x03\x04"])
    frame = read_frame(lambda n: next(stream, b""), width=2, height=2, channels=1, timeout=5)
    assert frame[:, :, 0].tolist() == [[1, 2], [3, 4]]
