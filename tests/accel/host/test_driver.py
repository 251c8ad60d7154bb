"""The host driver on every backend: what a host program does with a core.

Frames, queries, counters, error decoding and reset mid-frame go through
:class:`accel.host.driver.PatchINRDriver` into the shared build of ``tests/accel/conftest.py``,
once in Amaranth's simulator (:class:`accel.flows.simulation.AmaranthTransport`) and once
in Verilator, the weights streamed in both; every result is held to the integer reference.
The decoding helpers and the identification check run without a core.
"""

import numpy as np
import pytest

from accel.cycles import frame_cycles, query_cycles_bound
from accel.flows.reference import reference_frame
from accel.host.driver import (DeviceError, DeviceTimeout, HardwareInfo, PatchINRDriver,
                               ProtocolError, Status)
from accel.host.errors import ErrorCode
from accel.host.registers import ID_VALUE, REGISTERS
from accel.host.transport import Transport, pack_beats, unpack_beats
from model.data import quantize_coords
from model.quant import int_forward
from model.support.errors import UserError
from tests.accel.conftest import HEIGHT, WIDTH

# -- without a core --------------------------------------------------------------------------

def test_status_decodes_every_field():
    f = REGISTERS["STATUS"].field
    word = f("ERROR").place(1) | f("ERROR_CODE").place(ErrorCode.WGT_RANGE.value) | f("DONE").place(1)
    s = Status.decode(word)
    assert (s.busy, s.done, s.error, s.code) == (False, True, True, 4)
    assert s.code_name == "WGT_RANGE" and "past the end" in s.message
    assert "error 4 (WGT_RANGE" in str(s)
    # ERROR_CODE is only meaningful while ERROR is set.
    assert Status.decode(f("ERROR_CODE").place(3) | f("BUSY").place(1)).code == 0
    assert str(Status.decode(f("BUSY").place(1))) == "busy"


def test_beats_round_trip():
    wide = (1 << 48) - 1                 # a video build's 3-coordinate beat
    beats = pack_beats([0, 0xFFFF_FFFF, wide], [False, True, False]) | np.uint64(1 << 62)
    data, last, user = unpack_beats(beats)
    assert data.tolist() == [0, 0xFFFF_FFFF, wide]
    assert last.tolist() == [False, True, False] and user.all()
    with pytest.raises(ValueError, match="62 bits"):
        pack_beats([1 << 62], [True])


class _Registers(Transport):
    """A register file without a core behind it, for the identification checks."""

    def __init__(self, **values):
        self.values = {REGISTERS[k].offset: v for k, v in values.items()}

    def read(self, offset):
        return self.values.get(offset, 0)

    def write(self, offset, value):
        self.values[offset] = value

    def send(self, stream, beats):
        raise AssertionError("no stream expected")

    def receive(self, count, *, timeout):
        raise AssertionError("no stream expected")


def test_refuses_a_device_that_is_not_a_patchinr_core():
    with pytest.raises(ProtocolError, match="ID reads 0xdeadbeef"):
        PatchINRDriver(_Registers(ID=0xDEADBEEF))
    version = REGISTERS["HWINFO"].field("VERSION").place(7)
    with pytest.raises(ProtocolError, match="version 7"):
        PatchINRDriver(_Registers(ID=ID_VALUE, HWINFO=version))


def test_a_model_of_another_kind_is_refused():
    # An image model for a video build (and the other way round) differs in LAYERS.COORDS.
    from tests.accel.models import random_model
    mf = random_model(patch=2, hidden=6, layers=1)
    info = HardwareInfo(rows=2, cols=2, int8=True, fp32=False, channels=1, version=2,
                        patch=2, max_width=8, max_height=8, batch=8, layers=1, hidden=6,
                        coords=3)
    with pytest.raises(UserError, match="coordinates per query 3 \\(model 2\\)"):
        info.config(mf.config)
    assert info.config(random_model(patch=2, hidden=6, layers=1, coords=3).config).model.coords == 3


# -- on a core, on each backend ---------------------------------------------------------------


@pytest.fixture
def core(open_link, camera):
    with open_link() as link:
        driver = PatchINRDriver(link)
        driver.load_weights(camera.model_file)
        yield driver


def test_hardware_info_describes_the_build(core, camera):
    cfg = camera.config
    info = core.info
    assert (info.rows, info.cols, info.batch, info.precision) == (cfg.rows, cfg.cols,
                                                                  cfg.batch, cfg.precision)
    assert (info.max_width, info.max_height, info.patch, info.channels) == (
        cfg.max_width, cfg.max_height, cfg.model.patch, cfg.model.channels)
    assert (info.layers, info.hidden) == (cfg.model.layers, cfg.model.hidden)
    assert isinstance(info, HardwareInfo) and str(core.status()) == "idle"


def test_render_and_counters(core, camera):
    mf, cfg = camera.model_file, camera.config
    seen = []
    frame = core.render(WIDTH, HEIGHT, "int8", progress=lambda d, t: seen.append((d, t)))
    assert np.array_equal(frame, reference_frame(mf, cfg, WIDTH, HEIGHT, "int8"))
    n = cfg.model.patch
    assert core.counters() == {"cycles": frame_cycles(cfg, WIDTH, HEIGHT)["total"],
                               "queries": (WIDTH // n) * (HEIGHT // n),
                               "pixels": WIDTH * HEIGHT}
    assert seen[-1] == (WIDTH * HEIGHT, WIDTH * HEIGHT)
    assert core.status().done
    # A second, smaller frame on the same core, without reloading anything.
    assert np.array_equal(core.render(8, 12, "int8"), reference_frame(mf, cfg, 8, 12, "int8"))


def test_query_matches_the_integer_reference(core, camera):
    mf, cfg = camera.model_file, camera.config
    n, ch = cfg.model.patch, cfg.model.channels
    rng = np.random.default_rng(3)
    coords = np.concatenate([rng.uniform(-1, 1, size=(13, 2)),
                             [[-1, -1], [1, 1], [-1, 1], [0, 0]]])
    got = core.query(coords)
    want = int_forward(mf.quant, quantize_coords(coords)).reshape(len(coords), n, n, ch)
    assert got.shape == want.shape and np.array_equal(got, want)
    counters = core.counters()
    assert counters["queries"] == len(coords) and counters["pixels"] == len(coords) * n * n
    assert counters["cycles"] <= query_cycles_bound(cfg, len(coords))
    # Integer coordinates as the core takes them, including the extremes.
    q = np.array([[-32767, 32767], [32767, -32767], [5, -5]], dtype=np.int16)
    assert np.array_equal(core.query(q, quantized=True),
                          int_forward(mf.quant, q).reshape(3, n, n, ch))


def test_queries_at_patch_centres_are_the_frame(core, camera):
    # The continuous representation, sampled where frame mode samples it, is the frame.
    from model.data import patch_centres_q
    n = camera.config.model.patch
    frame = core.render(WIDTH, HEIGHT)
    patches = core.query(patch_centres_q(WIDTH // n, HEIGHT // n), quantized=True)
    tiled = patches.reshape(HEIGHT // n, WIDTH // n, n, n, -1).transpose(0, 2, 1, 3, 4)
    assert np.array_equal(tiled.reshape(frame.shape), frame)


def test_error_codes_are_decoded(core, camera):
    # A frame size the driver would refuse, written past it: the core says FRAME_SIZE.
    core._write("WIDTH", 0)
    core.start()
    with pytest.raises(DeviceError, match="error 1 \\(FRAME_SIZE\\)") as err:
        core.check()
    assert err.value.code == ErrorCode.FRAME_SIZE.value
    core.clear()
    assert not core.status().error
    # A weight packet for a memory that does not exist: WGT_MEMORY, the weights intact.
    core.transport.send("wgt", pack_beats([15 << 28, 1, 2], [False, False, True]))
    with pytest.raises(DeviceError, match="WGT_MEMORY"):
        core.check()
    core.clear()
    mf, cfg = camera.model_file, camera.config
    assert np.array_equal(core.render(WIDTH, HEIGHT),
                          reference_frame(mf, cfg, WIDTH, HEIGHT, "int8"))


def test_reset_mid_frame_loses_nothing(core, camera):
    core._write("WIDTH", WIDTH)
    core._write("HEIGHT", HEIGHT)
    core.start()
    core.transport.run(frame_cycles(camera.config, WIDTH, HEIGHT)["total"] // 2)
    assert core.status().busy
    core.transport.reset()
    assert str(core.status()) == "idle"
    mf, cfg = camera.model_file, camera.config
    assert np.array_equal(core.render(WIDTH, HEIGHT),
                          reference_frame(mf, cfg, WIDTH, HEIGHT, "int8"))


def test_user_errors_and_timeouts(open_link, camera):
    with open_link() as link:
        core = PatchINRDriver(link)
        with pytest.raises(UserError, match="no model loaded"):
            core.render(WIDTH, HEIGHT)
        core.load_weights(camera.model_file)
        with pytest.raises(UserError, match="no fp32 datapath"):
            core.render(WIDTH, HEIGHT, "fp32")
        with pytest.raises(UserError, match="exceeds the build's maximum"):
            core.render(WIDTH + 2, HEIGHT)
        with pytest.raises(UserError, match="in \\[-1, 1\\]"):
            core.query([[0.0, 1.5]])
        with pytest.raises(UserError, match="\\[Q, 2\\]"):
            core.query(np.zeros((3, 3)))
        with pytest.raises(DeviceTimeout, match="of 576 pixels within 100 cycles"):
            core.render(WIDTH, HEIGHT, max_cycles=100)
