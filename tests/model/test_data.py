"""Images, patches and coordinates: layouts, exact inverses, exact integer grids, image files."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from model.config import COORD_SCALE
from model.data import (BUNDLED_IMAGES, bundled_images, from_signal, load_image, patch_centres,
                        patch_centres_q, patch_grid, patchify, quantize_coords, to_signal, to_uint8,
                        unpatchify)
from model.support.errors import UserError

# patchify / unpatchify ---------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(patch=st.integers(1, 5), pw=st.integers(1, 6), ph=st.integers(1, 6),
       channels=st.sampled_from([1, 2, 3]), seed=st.integers(0, 2 ** 32 - 1))
def test_patchify_unpatchify_are_inverses(patch, pw, ph, channels, seed):
    w, h = pw * patch, ph * patch
    img = np.random.default_rng(seed).random((h, w, channels)).astype(np.float32)
    p = patchify(img, patch)
    assert p.shape == (pw * ph, patch * patch * channels)
    assert np.array_equal(unpatchify(p, w, h, patch, channels), img)
    # and the other way round: every patch matrix is some image's patches
    q = np.random.default_rng(seed + 1).random(p.shape)
    assert np.array_equal(patchify(unpatchify(q, w, h, patch, channels), patch), q)


def test_patchify_layout():
    # raster patch order (column fastest), values (dy, dx, channel) with channel fastest
    h, w, c, n = 4, 6, 2, 2
    img = np.arange(h * w * c).reshape(h, w, c)
    p = patchify(img, n)
    for j in range(h // n):
        for i in range(w // n):
            row = p[j * (w // n) + i]
            want = [img[j * n + dy, i * n + dx, ch]
                    for dy in range(n) for dx in range(n) for ch in range(c)]
            assert row.tolist() == want


@pytest.mark.parametrize("shape, patch", [((5, 4, 1), 2), ((4, 6, 3), 4), ((9, 9, 1), 2),
                                          ((3, 3, 3), 4)])
def test_patchify_rejects_indivisible_sizes(shape, patch):
    with pytest.raises(UserError, match=f"not divisible by the patch size {patch}"):
        patchify(np.zeros(shape, np.float32), patch)
    h, w, c = shape
    with pytest.raises(UserError, match="not divisible"):
        unpatchify(np.zeros((1, patch * patch * c)), w, h, patch, c)


@pytest.mark.parametrize("args, name", [((8, 8, 0), "patch size"), ((8, 8, -1), "patch size"),
                                        ((8, 8, True), "patch size"), ((8, 8, 2.0), "patch size"),
                                        ((0, 8, 2), "width"), ((8, -2, 2), "height")])
def test_patch_grid_rejects_non_positive(args, name):
    with pytest.raises(UserError, match=name):
        patch_grid(*args)


def test_patch_grid():
    assert patch_grid(12, 8, 4) == (3, 2)
    assert patch_grid(np.int64(6), np.int64(9), 3) == (2, 3)


def test_unpatchify_rejects_wrong_shape():
    with pytest.raises(ValueError, match="expected patches of shape"):
        unpatchify(np.zeros((4, 11)), 4, 4, 2, 3)


# Coordinates -------------------------------------------------------------------------------

@pytest.mark.parametrize("w, h, n", [(8, 6, 2), (6, 9, 3), (5, 7, 1), (16, 4, 4)])
def test_patch_centres_are_means_of_pixel_centres(w, h, n):
    # pixel (x, y) covers [-1 + 2x/w, -1 + 2(x+1)/w]: its centre is (2x + 1)/w - 1
    xs = (2 * np.arange(w) + 1) / w - 1
    ys = (2 * np.arange(h) + 1) / h - 1
    grid = np.stack(np.meshgrid(xs, ys, indexing="xy"), axis=2)     # [h, w, (x, y)]
    means = patchify(grid, n).reshape(-1, n * n, 2).mean(axis=1)
    got = patch_centres(w // n, h // n)
    assert got.dtype == np.float32 and got.shape == ((w // n) * (h // n), 2)
    np.testing.assert_allclose(got, means, atol=1e-6)


def test_patch_centres_offset_shifts_by_patch_fractions():
    pw, ph = 5, 3
    base = patch_centres(pw, ph).astype(np.float64)
    half = patch_centres(pw, ph, (0.5, 0.25)).astype(np.float64)
    # a patch is 2/pw wide in x and 2/ph high in y
    np.testing.assert_allclose(half[:, 0] - base[:, 0], 0.5 * 2 / pw, atol=1e-6)
    np.testing.assert_allclose(half[:, 1] - base[:, 1], 0.25 * 2 / ph, atol=1e-6)
    # offset by one whole patch lands exactly on the next patch's centre
    one = patch_centres(pw, ph, (1.0, 0.0)).reshape(ph, pw, 2)
    assert np.array_equal(one[:, :-1], base.astype(np.float32).reshape(ph, pw, 2)[:, 1:])


def exact_round_half_up(fr):
    return (fr.numerator * 2 + fr.denominator) // (2 * fr.denominator)


@pytest.mark.parametrize("pw, ph", [(1, 1), (2, 3), (7, 5), (64, 36), (960, 540), (1920, 1080)])
def test_patch_centres_q_is_exact(pw, ph):
    q = patch_centres_q(pw, ph)
    assert q.dtype == np.int16 and q.shape == (pw * ph, 2)
    want_x = [exact_round_half_up(Fraction((2 * i + 1) * COORD_SCALE, pw) - COORD_SCALE)
              for i in range(pw)]
    want_y = [exact_round_half_up(Fraction((2 * j + 1) * COORD_SCALE, ph) - COORD_SCALE)
              for j in range(ph)]
    grid = q.reshape(ph, pw, 2).astype(np.int64)
    assert (grid[:, :, 0] == np.array(want_x)[None, :]).all()
    assert (grid[:, :, 1] == np.array(want_y)[:, None]).all()
    assert np.abs(grid).max() < COORD_SCALE
    # and it agrees with quantizing the float grid to within one code
    assert np.abs(grid.reshape(-1, 2) - quantize_coords(patch_centres(pw, ph))).max() <= 1


def test_patch_centres_q_ties_round_up():
    # pw = 2: the centres are -+32767/2 = -+16383.5 exactly
    assert patch_centres_q(2, 1)[:, 0].tolist() == [-16383, 16384]


def test_quantize_coords():
    q = quantize_coords([[-1.0, 1.0], [0.0, 0.5], [-3.0, 7.0], [1e-9, -1e-9]])
    assert q.dtype == np.int16
    assert q.tolist() == [[-32767, 32767], [0, 16384], [-32767, 32767], [0, 0]]


# Value mappings ----------------------------------------------------------------------------

def test_signal_round_trip_and_clip():
    x = np.linspace(0, 1, 11)
    np.testing.assert_allclose(to_signal(x), 2 * x - 1)
    np.testing.assert_allclose(from_signal(to_signal(x)), x, atol=1e-15)
    assert from_signal([-3.0, 3.0]).tolist() == [0.0, 1.0]


def test_to_uint8():
    codes = np.arange(256)
    assert np.array_equal(to_uint8(codes / 255.0), codes)
    assert to_uint8(np.array([-0.5, 1.5, 0.5 / 255, 1.5 / 255])).tolist() == [0, 255, 0, 2]
    assert to_uint8(np.zeros(1)).dtype == np.uint8


# load_image --------------------------------------------------------------------------------

LUMA = np.array([0.2125, 0.7154, 0.0721])      # ITU-R 709 luminance, as scikit-image uses


def test_bundled_names():
    assert bundled_images() == BUNDLED_IMAGES
    assert "camera" in BUNDLED_IMAGES and "astronaut" in BUNDLED_IMAGES


def test_load_bundled_grayscale():
    from skimage import data
    img = load_image("camera")
    assert img.dtype == np.float32 and img.shape == (512, 512, 1)
    assert np.array_equal(to_uint8(img[:, :, 0]), data.camera())
    rgb = load_image("camera", channels=3)
    assert rgb.shape == (512, 512, 3)
    assert (rgb == img).all()


def test_load_bundled_rgb_and_luminance():
    from skimage import data
    raw = data.astronaut().astype(np.float64) / 255
    img = load_image("astronaut")
    assert img.shape == (512, 512, 3)
    np.testing.assert_allclose(img, raw, atol=1e-6)
    gray = load_image("astronaut", channels=1)
    assert gray.shape == (512, 512, 1)
    np.testing.assert_allclose(gray[:, :, 0], raw @ LUMA, atol=1e-5)


def test_load_resizes_to_width_by_height():
    img = load_image("camera", size=(48, 32))
    assert img.shape == (32, 48, 1) and img.dtype == np.float32
    assert 0 <= img.min() and img.max() <= 1
    sq = load_image("astronaut", size=24)
    assert sq.shape == (24, 24, 3)
    # anti-aliased downsampling of a 512 image by 16 is close to a 16x16 box mean
    from skimage import data
    box = data.camera().reshape(32, 16, 32, 16).mean(axis=(1, 3)) / 255
    small = load_image("camera", size=32)[:, :, 0]
    assert np.abs(small - box).mean() < 0.03


@pytest.fixture
def pixels():
    return np.random.default_rng(3).integers(0, 256, (10, 12, 4), dtype=np.uint8)


def test_load_png_gray(tmp_path, pixels):
    path = tmp_path / "g.png"
    Image.fromarray(pixels[:, :, 0]).save(path)
    img = load_image(path)                      # os.PathLike works too
    assert img.shape == (10, 12, 1) and img.dtype == np.float32
    assert np.array_equal(to_uint8(img[:, :, 0]), pixels[:, :, 0])
    rgb = load_image(str(path), channels=3)
    assert rgb.shape == (10, 12, 3) and (rgb == img).all()


def test_load_png_rgb(tmp_path, pixels):
    path = tmp_path / "c.png"
    Image.fromarray(pixels[:, :, :3]).save(path)
    img = load_image(str(path))
    assert img.shape == (10, 12, 3)
    assert np.array_equal(to_uint8(img), pixels[:, :, :3])
    gray = load_image(str(path), channels=1)
    np.testing.assert_allclose(gray[:, :, 0], pixels[:, :, :3] / 255.0 @ LUMA, atol=1e-5)


def test_load_png_rgba(tmp_path, pixels):
    opaque = pixels.copy()
    opaque[:, :, 3] = 255
    path = tmp_path / "a.png"
    Image.fromarray(opaque).save(path)
    img = load_image(str(path))
    assert img.shape == (10, 12, 3)
    assert np.array_equal(to_uint8(img), pixels[:, :, :3])
    # transparent pixels are composited onto white
    clear = pixels.copy()
    clear[:, :, 3] = 0
    Image.fromarray(clear).save(path)
    assert (load_image(str(path)) == 1).all()


def test_load_16bit_gray_png(tmp_path):
    raw = np.random.default_rng(4).integers(0, 65536, (6, 8)).astype(np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(raw).save(path)
    img = load_image(str(path))
    assert img.shape == (6, 8, 1)
    np.testing.assert_allclose(img[:, :, 0], raw / 65535.0, atol=1e-6)


def test_load_palette_png(tmp_path, pixels):
    path = tmp_path / "p.png"
    Image.fromarray(pixels[:, :, :3]).convert("P", palette=Image.Palette.ADAPTIVE).save(path)
    img = load_image(str(path))
    assert img.shape == (10, 12, 3)
    want = np.asarray(Image.open(path).convert("RGB"))
    assert np.array_equal(to_uint8(img), want)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_load_jpeg(tmp_path, mode):
    # a smooth image survives JPEG almost unchanged
    y, x = np.mgrid[0:32, 0:48]
    base = (x * 4 + y * 2).astype(np.uint8)
    arr = base if mode == "L" else np.stack([base, 255 - base, base // 2], axis=2)
    path = tmp_path / "j.jpg"
    Image.fromarray(arr).save(path, quality=95)
    img = load_image(str(path))
    assert img.shape == (32, 48, 1 if mode == "L" else 3)
    assert np.abs(img.reshape(arr.shape) - arr / 255.0).mean() < 0.02


# load_image errors -------------------------------------------------------------------------

def test_unknown_name():
    with pytest.raises(UserError, match="unknown image 'no_such_image'"):
        load_image("no_such_image")


def test_directory(tmp_path):
    with pytest.raises(UserError, match="is a directory"):
        load_image(str(tmp_path))


def test_text_file(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image\n")
    with pytest.raises(UserError, match="cannot read image"):
        load_image(str(path))


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(UserError, match="cannot read image"):
        load_image(str(path))


def test_truncated_png(tmp_path):
    y, x = np.mgrid[0:64, 0:64]
    src = tmp_path / "full.png"
    Image.fromarray(((x * 7 + y * 13) % 256).astype(np.uint8)).save(src)
    blob = src.read_bytes()
    path = tmp_path / "cut.png"
    for n in range(0, len(blob) // 2, 7):       # signature, header, and into the pixel data
        path.write_bytes(blob[:n])
        with pytest.raises(UserError, match="cannot read image"):
            load_image(str(path))


@pytest.mark.parametrize("kwargs, message", [
    ({"channels": 2}, "channels must be 1 or 3"),
    ({"size": 0}, "image size must be a positive integer"),
    ({"size": (8, -1)}, "image size"),
    ({"size": (8.0, 8)}, "image size"),
    ({"size": True}, "image size"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(UserError, match=message):
        load_image("camera", **kwargs)


def test_bad_source_type():
    with pytest.raises(UserError, match="must be a path"):
        load_image(5)
