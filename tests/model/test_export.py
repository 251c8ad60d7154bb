"""The model file: round trip, and every way a file can be wrong ends in a ModelFileError."""

import json
import zipfile

import numpy as np
import pytest
import torch

from model import export
from model.config import PatchINRConfig, QuantSpec
from model.data import patch_centres, patch_centres_q
from model.export import ModelFileError
from model.network import PatchINR
from model.quant import int_forward, quantize
from model.support.errors import UserError

META = {"image": "camera", "width": 16, "height": 16, "psnr_fp32": 31.5, "steps": 7,
        "note": "ünïcode"}


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    cfg = PatchINRConfig(patch=2, channels=3, hidden=6, layers=2, omega0=25.0,
                         quant=QuantSpec(phase_bits=10))
    model = PatchINR(cfg)
    return cfg, model, quantize(model)


@pytest.fixture
def model_file(tmp_path, trained):
    cfg, model, qm = trained
    path = tmp_path / "m.npz"
    export.save(path, config=cfg, fp32=model.state_arrays(), quant=qm, meta=META)
    return path


def arrays_of(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def header_of(arrays):
    return json.loads(str(arrays["header"][()]))


def write(path, arrays, header=None):
    if header is not None:
        arrays = {**arrays, "header": np.array(json.dumps(header))}
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def load_fails(path, *fragments):
    with pytest.raises(ModelFileError) as info:
        export.load(path)
    msg = str(info.value)
    assert "\n" not in msg
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)
    return msg


# Round trip --------------------------------------------------------------------------------

def test_round_trip(model_file, trained):
    cfg, model, qm = trained
    mf = export.load(model_file)
    assert mf.config == cfg
    assert mf.meta == META
    assert len(mf.fp32) == len(model.state_arrays())
    for (w, b), (w0, b0) in zip(mf.fp32, model.state_arrays()):
        assert w.dtype == np.float32 and np.array_equal(w, w0)
        assert b.dtype == np.float32 and np.array_equal(b, b0)
    for got, want in zip(mf.quant.layers, qm.layers, strict=True):
        assert got.kind == want.kind
        for name in ("w", "b", "m", "s"):
            assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert np.array_equal(mf.quant.lut, qm.lut)
    # and it computes the same frames
    c = patch_centres_q(8, 8)
    assert np.array_equal(int_forward(mf.quant, c), int_forward(qm, c))
    coords = patch_centres(8, 8)
    assert np.array_equal(mf.torch_model().render(coords), model.render(coords))


def test_file_layout(model_file, trained):
    cfg, _, _ = trained
    arrays = arrays_of(model_file)
    header = header_of(arrays)
    assert header == {"format": "patchinr-model", "version": 2, "config": cfg.to_dict(),
                      "meta": META}
    n = len(cfg.layer_shapes)
    want = {"header", "int8/lut"} | {f"fp32/{a}{i}" for i in range(n) for a in "wb"} \
        | {f"int8/{a}{i}" for i in range(n) for a in "wbms"}
    assert set(arrays) == want
    assert arrays["int8/w0"].dtype == np.int16 and arrays["int8/w1"].dtype == np.int8
    assert arrays["int8/b1"].dtype == np.int32 and arrays["int8/lut"].dtype == np.int8
    # no pickle anywhere: it loads with allow_pickle=False (done above) and is a plain zip
    assert zipfile.is_zipfile(model_file)


def test_save_keeps_the_name_and_makes_folders(tmp_path, trained):
    cfg, model, qm = trained
    path = tmp_path / "sub" / "dir" / "model.bin"
    export.save(str(path), config=cfg, fp32=model.state_arrays(), quant=qm)
    assert path.exists() and not (tmp_path / "sub" / "dir" / "model.bin.npz").exists()
    assert export.load(path).meta == {}


def test_model_file_error_is_a_user_error():
    assert issubclass(ModelFileError, UserError)


# Errors: the file itself -------------------------------------------------------------------

def test_missing_file(tmp_path):
    load_fails(tmp_path / "nope.npz", "does not exist", "nope.npz")


def test_directory(tmp_path):
    load_fails(tmp_path, "is a directory")


@pytest.mark.parametrize("blob", [b"", b"hello, world\n", bytes(range(256)) * 4,
                                  b"PK\x03\x04" + b"\0" * 40])
def test_junk(tmp_path, blob):
    path = tmp_path / "junk.npz"
    path.write_bytes(blob)
    load_fails(path, "not a PatchINR model file")


def test_random_junk(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "junk.npz"
    for _ in range(20):
        path.write_bytes(rng.bytes(int(rng.integers(1, 3000))))
        load_fails(path, "junk.npz")


def test_truncated(tmp_path, model_file):
    blob = model_file.read_bytes()
    path = tmp_path / "cut.npz"
    for n in list(range(0, len(blob), max(1, len(blob) // 60))) + [len(blob) - 1]:
        path.write_bytes(blob[:n])
        load_fails(path, "cut.npz")


def test_corrupt_bytes(tmp_path, model_file):
    # bytes flipped anywhere: either harmless (zip metadata that is not checked) or a clean
    # ModelFileError, never another exception
    blob = model_file.read_bytes()
    rng = np.random.default_rng(1)
    path = tmp_path / "flip.npz"
    failures = 0
    for _ in range(150):
        b = bytearray(blob)
        pos = int(rng.integers(0, len(b)))
        b[pos] ^= int(rng.integers(1, 256))
        path.write_bytes(bytes(b))
        try:
            export.load(path)
        except ModelFileError:
            failures += 1
    assert failures > 75


def test_npy_is_not_a_model_file(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.zeros(3))
    load_fails(path, "not a PatchINR model file")


def test_pickle_is_refused(tmp_path):
    path = tmp_path / "p.npz"
    with open(path, "wb") as f:
        np.savez(f, header=np.array([{"format": "patchinr-model"}], dtype=object))
    load_fails(path, "not a PatchINR model file")


def test_plain_zip_is_not_a_model_file(tmp_path):
    path = tmp_path / "z.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    load_fails(path, "no header")


# Errors: the header ------------------------------------------------------------------------

def test_npz_without_header(tmp_path, model_file):
    arrays = arrays_of(model_file)
    del arrays["header"]
    load_fails(write(tmp_path / "h.npz", arrays), "no header")


def test_header_not_json(tmp_path, model_file):
    arrays = {**arrays_of(model_file), "header": np.array("{format: patchinr")}
    load_fails(write(tmp_path / "h.npz", arrays), "corrupt header")


@pytest.mark.parametrize("header", ["[1, 2]", "3", "null"])
def test_header_not_an_object(tmp_path, model_file, header):
    arrays = {**arrays_of(model_file), "header": np.array(header)}
    load_fails(write(tmp_path / "h.npz", arrays), "not a PatchINR model file")


def test_wrong_format(tmp_path, model_file):
    arrays = arrays_of(model_file)
    header = {**header_of(arrays), "format": "siren-weights"}
    load_fails(write(tmp_path / "h.npz", arrays, header), "not a PatchINR model file",
               "siren-weights")


@pytest.mark.parametrize("version", [3, 0, "2", None, 1.5, True, 2.0])
def test_other_version(tmp_path, model_file, version):
    arrays = arrays_of(model_file)
    header = {**header_of(arrays), "version": version}
    load_fails(write(tmp_path / "h.npz", arrays, header), f"version {version!r} is not supported")


def test_version_1_files_are_image_models(tmp_path, model_file):
    # Version 1 is version 2 without ``coords``: such a file loads as a 2-coordinate model
    # computing the same frames; ``coords`` in a version 1 header is a contradiction.
    arrays = arrays_of(model_file)
    header = header_of(arrays)
    config = {k: v for k, v in header["config"].items() if k != "coords"}
    old = export.load(write(tmp_path / "v1.npz", arrays, {**header, "version": 1,
                                                           "config": config}))
    assert old.config == export.load(model_file).config and old.config.coords == 2
    load_fails(write(tmp_path / "bad.npz", arrays, {**header, "version": 1}),
               "version 1 model file has no 'coords'")


def test_committed_fixtures_of_version_1_still_load():
    from tests.paths import FIXTURES
    for name in ("camera24_p2.npz", "astronaut24_p3_rgb.npz"):
        with np.load(FIXTURES / name, allow_pickle=False) as z:
            assert json.loads(str(z["header"][()]))["version"] == 1
        assert export.load(FIXTURES / name).config.coords == 2


def test_video_model_round_trip(tmp_path):
    torch.manual_seed(1)
    cfg = PatchINRConfig(patch=2, channels=1, hidden=5, layers=2, coords=3)
    model = PatchINR(cfg)
    qm = quantize(model)
    path = tmp_path / "v.npz"
    export.save(path, config=cfg, fp32=model.state_arrays(), quant=qm, meta={"video": "x"})
    mf = export.load(path)
    assert mf.config == cfg and mf.config.is_video
    assert mf.fp32[0][0].shape == (5, 3) and mf.quant.layers[0].w.shape == (5, 3)
    coords = np.array([[0, 0, 0], [32767, -32767, 100]], dtype=np.int16)
    assert np.array_equal(int_forward(mf.quant, coords), int_forward(qm, coords))


def test_missing_version(tmp_path, model_file):
    arrays = arrays_of(model_file)
    header = header_of(arrays)
    del header["version"]
    load_fails(write(tmp_path / "h.npz", arrays, header), "version None")


@pytest.mark.parametrize("change, fragments", [
    ({"colour": "blue"}, ["invalid configuration", "unknown configuration keys: colour"]),
    ({"patch": 0}, ["invalid configuration", "patch size"]),
    ({"patch": 2.0}, ["invalid configuration", "patch size"]),
    ({"channels": 2}, ["invalid configuration", "channels"]),
    ({"channels": 3.0}, ["invalid configuration", "channels"]),
    ({"hidden": -6}, ["invalid configuration", "hidden width"]),
    ({"layers": "2"}, ["invalid configuration", "number of sine layers"]),
    ({"omega0": -25.0}, ["invalid configuration", "omega0"]),
    ({"omega0": float("inf")}, ["invalid configuration", "omega0"]),
    ({"quant": {"phase_bits": 40}}, ["invalid configuration", "phase bits"]),
    ({"quant": {"sign_bits": 1}}, ["invalid configuration", "sign_bits"]),
    ({"quant": None}, ["invalid configuration"]),
    ({"quant": [12]}, ["invalid configuration"]),
])
def test_invalid_config(tmp_path, model_file, change, fragments):
    arrays = arrays_of(model_file)
    header = header_of(arrays)
    header["config"].update(change)
    load_fails(write(tmp_path / "h.npz", arrays, header), *fragments)


@pytest.mark.parametrize("config", [None, [2, 3], "patch=2"])
def test_config_not_a_mapping(tmp_path, model_file, config):
    arrays = arrays_of(model_file)
    header = {**header_of(arrays), "config": config}
    load_fails(write(tmp_path / "h.npz", arrays, header), "invalid configuration")


@pytest.mark.parametrize("meta", ["camera", 5, [1, 2]])
def test_meta_not_a_mapping(tmp_path, model_file, meta):
    arrays = arrays_of(model_file)
    header = {**header_of(arrays), "meta": meta}
    load_fails(write(tmp_path / "h.npz", arrays, header), "meta")


def test_config_for_another_geometry(tmp_path, model_file):
    # a valid configuration whose shapes the arrays do not have
    arrays = arrays_of(model_file)
    header = header_of(arrays)
    header["config"]["hidden"] = 7
    load_fails(write(tmp_path / "h.npz", arrays, header), "'fp32/w0'", "(6, 2)", "(7, 2)")


# Errors: the arrays ------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["fp32/w0", "fp32/b2", "int8/w1", "int8/m2", "int8/s0", "int8/lut"])
def test_missing_array(tmp_path, model_file, key):
    arrays = arrays_of(model_file)
    del arrays[key]
    load_fails(write(tmp_path / "a.npz", arrays), f"array {key!r} is missing")


@pytest.mark.parametrize("key, dtype", [("fp32/w1", np.float64), ("fp32/b0", np.float16),
                                        ("int8/w0", np.int8), ("int8/w1", np.int16),
                                        ("int8/b2", np.int64), ("int8/m1", np.uint32),
                                        ("int8/lut", np.uint8)])
def test_wrong_dtype(tmp_path, model_file, key, dtype):
    arrays = arrays_of(model_file)
    arrays[key] = arrays[key].astype(dtype)
    load_fails(write(tmp_path / "a.npz", arrays), repr(key), f"dtype {np.dtype(dtype)}")


@pytest.mark.parametrize("key, shape", [("fp32/w0", (6, 3)), ("fp32/b1", (5,)),
                                        ("fp32/w2", (6, 12)), ("int8/w2", (3, 6)),
                                        ("int8/s1", (6, 1)), ("int8/lut", (512,))])
def test_wrong_shape(tmp_path, model_file, key, shape):
    arrays = arrays_of(model_file)
    arrays[key] = np.zeros(shape, arrays[key].dtype)
    load_fails(write(tmp_path / "a.npz", arrays), repr(key), f"shape {shape}",
               "configuration needs")


def test_head_shape_for_another_patch(tmp_path, model_file):
    # the file's arrays are a patch-2 RGB model; a header claiming grayscale must be refused
    arrays = arrays_of(model_file)
    header = header_of(arrays)
    header["config"]["channels"] = 1
    load_fails(write(tmp_path / "a.npz", arrays, header), "'fp32/w2'", "(12, 6)", "(4, 6)")


def test_extra_array(tmp_path, model_file):
    arrays = {**arrays_of(model_file), "fp32/w3": np.zeros((1, 1), np.float32)}
    load_fails(write(tmp_path / "a.npz", arrays), "arrays the configuration does not have",
               "fp32/w3")


@pytest.mark.parametrize("key, value", [("fp32/w1", np.nan), ("fp32/b2", np.inf),
                                        ("fp32/w0", -np.inf)])
def test_non_finite_weights(tmp_path, model_file, key, value):
    arrays = arrays_of(model_file)
    arrays[key] = arrays[key].copy()
    arrays[key].flat[0] = value
    layer = key[-1]
    load_fails(write(tmp_path / "a.npz", arrays), f"float weights of layer {layer} are not finite")


@pytest.mark.parametrize("key, index, value, fragment", [
    ("int8/w0", (0, 0), 2048, r"layer 0 weights exceed +-2047"),
    ("int8/m1", (0,), -5, "layer 1 multipliers"),
    ("int8/m2", (0,), 2 ** 15, "layer 2 multipliers exceed 15 bits"),
    ("int8/s0", (1,), 0, "layer 0 shifts outside 1..47"),
    ("int8/s2", (0,), 63, "layer 2 shifts outside"),
])
def test_integer_ranges(tmp_path, model_file, key, index, value, fragment):
    arrays = arrays_of(model_file)
    arrays[key] = arrays[key].copy()
    arrays[key][index] = value
    load_fails(write(tmp_path / "a.npz", arrays), fragment)


def test_uncompressed_archive_loads(tmp_path, model_file):
    # the format is any npz: save() compresses, but np.savez output is read the same
    arrays = arrays_of(model_file)
    mf = export.load(write(tmp_path / "plain.npz", arrays))
    assert np.array_equal(mf.quant.layers[1].w, arrays["int8/w1"])


def test_load_from_bytes_of_another_file_name(tmp_path, model_file):
    # the check does not depend on the suffix
    path = tmp_path / "model.weights"
    path.write_bytes(model_file.read_bytes())
    assert export.load(path).config == export.load(model_file).config
