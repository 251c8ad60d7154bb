"""Images, patches and patch-centre coordinates.

Layouts used throughout the package:

* an image is a float32 array ``[H, W, C]`` with values in [0, 1];
* a patch grid of a ``W x H`` frame at patch size n has ``W/n x H/n`` patches, enumerated
  in raster order (patch column fastest);
* one query's values are ordered ``(dy, dx, channel)``, channel fastest, so that the
  ``n*n*C`` outputs of a query are the patch's pixels in raster order;
* network targets are the image mapped to [-1, 1].
"""

import os

import numpy as np

from .config import COORD_SCALE
from .support.errors import UserError
from .support.limits import MAX_IMAGE_PIXELS, MAX_SIDE
from .support.validate import positive_int

__all__ = [
    "load_image", "bundled_images", "BUNDLED_IMAGES", "patchify", "unpatchify", "patch_grid",
    "patch_centres", "patch_centres_q", "quantize_coords", "to_signal", "from_signal",
    "to_uint8",
]


#: Images that ship inside scikit-image (no download needed), usable by name.
BUNDLED_IMAGES = (
    "astronaut", "brick", "camera", "cat", "cell", "checkerboard", "chelsea", "clock",
    "coffee", "coins", "colorwheel", "grass", "gravel", "horse", "hubble_deep_field",
    "immunohistochemistry", "logo", "microaneurysms", "moon", "page", "retina", "rocket",
    "shepp_logan_phantom", "text",
)


def bundled_images():
    """Names of the images bundled with scikit-image that :func:`load_image` accepts."""
    return BUNDLED_IMAGES


def _read_bundled(name):
    from skimage import data
    if name not in BUNDLED_IMAGES:
        raise UserError(f"unknown image {name!r}: not a file and not a scikit-image image "
                        f"(try camera, astronaut, chelsea, coffee)")
    try:
        return np.asarray(getattr(data, name)())
    except Exception as exc:  # a bundled image that needs a download (pooch) is unusable offline
        raise UserError(f"image {name!r} is not available offline: {exc}") from None


#: What Pillow raises on a damaged file while decoding (a truncated GIF ends in an
#: IndexError inside Pillow; a bad header in SyntaxError).
DECODE_ERRORS = (OSError, ValueError, IndexError, EOFError, SyntaxError, KeyError,
                 TypeError)


def open_image(path, what="image"):
    """Open an image file with Pillow, its size checked from the header against
    :data:`~model.support.limits.MAX_IMAGE_PIXELS` before anything is decoded; one
    :class:`UserError` line for anything that is not such a file (``what`` names it)."""
    import warnings

    from PIL import Image, UnidentifiedImageError
    try:
        with warnings.catch_warnings():
            # Pillow warns on large images and raises on larger ones; the limit below is
            # the one that applies, checked from the header before anything is decoded.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UserError(f"cannot read {what} {os.fspath(path)!r}: {exc}") from None
    except (UnidentifiedImageError, *DECODE_ERRORS) as exc:
        raise UserError(f"cannot read {what} {os.fspath(path)!r}: {exc}") from None
    w, h = im.size
    if w * h > MAX_IMAGE_PIXELS:
        im.close()
        raise UserError(f"{what} {os.fspath(path)!r} is {w}x{h} ({w * h / 1e6:.1f} MP): at "
                        f"most {MAX_IMAGE_PIXELS / 1e6:.0f} MP are read (resize it first)")
    return im


def _read_file(path):
    from PIL import UnidentifiedImageError
    im = open_image(path)
    try:
        with im:
            im.load()
            if im.mode.startswith("I") or im.mode == "F":
                # 16-bit grayscale (PNG opens as "I;16" or "I"): converting to RGB would
                # saturate every value above 255, so keep the integers and their full scale.
                a = np.asarray(im)
                if im.mode == "F" or a.min(initial=0) < 0 or a.max(initial=0) > 65535:
                    raise UserError(f"cannot read image {path!r}: unsupported pixel format "
                                    f"{im.mode} (use 8- or 16-bit grayscale or RGB)")
                return a.astype(np.uint16)
            if im.mode not in ("L", "RGB"):
                im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
            return np.asarray(im)
    except UserError:
        raise
    except (UnidentifiedImageError, *DECODE_ERRORS) as exc:
        raise UserError(f"cannot read image {path!r}: {exc}") from None


def load_image(source, *, size=None, channels=None):
    """Load an image by scikit-image name or by file path.

    Parameters
    ----------
    source : str
        A file path (PNG, JPEG, ...) or the name of an image bundled with scikit-image.
    size : int or (int, int), optional
        Output size ``(width, height)`` (an int means square). The image is resized with
        anti-aliasing; no crop. ``None`` keeps the original size.
    channels : {1, 3}, optional
        1 converts to luminance, 3 to RGB. ``None`` keeps grayscale images grayscale and
        makes everything else RGB (transparent pixels are composited onto white).

    Returns
    -------
    numpy.ndarray
        float32 ``[H, W, C]`` with values in [0, 1].
    """
    from skimage.color import gray2rgb, rgb2gray, rgba2rgb
    from skimage.transform import resize
    from skimage.util import img_as_float32

    if not isinstance(source, (str, os.PathLike)):
        raise UserError(f"image must be a path or a scikit-image name, not {source!r}")
    source = os.fspath(source)
    if os.path.exists(source):
        if os.path.isdir(source):
            raise UserError(f"cannot read image {source!r}: it is a directory")
        raw = _read_file(source)
    else:
        raw = _read_bundled(source)

    img = img_as_float32(raw)
    if img.ndim == 3 and img.shape[2] == 4:
        img = rgba2rgb(img)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise UserError(f"image {source!r} has unsupported shape {raw.shape}")

    if channels is None:
        channels = 1 if img.ndim == 2 else 3
    if channels not in (1, 3):
        raise UserError(f"channels must be 1 or 3, not {channels!r}")
    if channels == 1 and img.ndim == 3:
        img = rgb2gray(img)
    if channels == 3 and img.ndim == 2:
        img = gray2rgb(img)
    if img.ndim == 2:
        img = img[:, :, None]

    if size is not None:
        w, h = (size, size) if isinstance(size, int) else size
        for v in (w, h):
            positive_int("image size", v, maximum=MAX_SIDE)
        if (h, w) != img.shape[:2]:
            img = resize(img, (h, w, img.shape[2]), anti_aliasing=True, preserve_range=True)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def patch_grid(width, height, patch):
    """Patch columns and rows ``(pw, ph)`` of a ``width x height`` frame.

    Raises :class:`UserError` when a side is not a multiple of the patch size: the grid
    would not tile the frame and a silent crop would misalign every patch.
    """
    for name, v in (("patch size", patch), ("width", width), ("height", height)):
        positive_int(name, v)
    if width % patch or height % patch:
        raise UserError(f"frame size {width}x{height} is not divisible by the patch size {patch}")
    return width // patch, height // patch


def patchify(img, patch):
    """``[H, W, C]`` image to ``[ph*pw, n*n*C]`` patches (raster patch order, (dy, dx, c))."""
    h, w, c = img.shape
    pw, ph = patch_grid(w, h, patch)
    return (img.reshape(ph, patch, pw, patch, c)
               .transpose(0, 2, 1, 3, 4)
               .reshape(ph * pw, patch * patch * c))


def unpatchify(patches, width, height, patch, channels):
    """Inverse of :func:`patchify`."""
    pw, ph = patch_grid(width, height, patch)
    patches = np.asarray(patches)
    if patches.shape != (ph * pw, patch * patch * channels):
        raise ValueError(f"expected patches of shape {(ph * pw, patch * patch * channels)}, "
                         f"not {patches.shape}")
    return (patches.reshape(ph, pw, patch, patch, channels)
                   .transpose(0, 2, 1, 3, 4)
                   .reshape(height, width, channels))


def patch_centres(pw, ph, offset=(0.0, 0.0)):
    """Float32 ``[ph*pw, 2]`` (x, y) patch-centre coordinates in [-1, 1], raster order.

    Patch ``(i, j)`` of a ``pw x ph`` grid sits at ``x = (2i + 1)/pw - 1``,
    ``y = (2j + 1)/ph - 1``. ``offset`` shifts the grid by a fraction of a patch (0.5 puts
    the queries between patch centres): the representation is continuous.
    """
    ox, oy = offset
    xs = (2 * (np.arange(pw) + ox) + 1) / pw - 1
    ys = (2 * (np.arange(ph) + oy) + 1) / ph - 1
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32)


def _grid_q(p):
    # round-half-up((2i + 1 - p) * S / p) in exact integer arithmetic; the accelerator's
    # coordinate generator computes the same sequence incrementally.
    i = np.arange(p, dtype=np.int64)
    return np.floor_divide((2 * i + 1 - p) * 2 * COORD_SCALE + p, 2 * p)


def patch_centres_q(pw, ph):
    """int16 ``[ph*pw, 2]`` quantized patch centres: ``round_half_up(x * 32767)``, exactly."""
    xq, yq = _grid_q(pw), _grid_q(ph)
    yy, xx = np.meshgrid(yq, xq, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.int16)


def quantize_coords(coords):
    """Arbitrary float coordinates to int16: ``round_half_up(x * 32767)`` clamped to +-32767."""
    q = np.floor(np.asarray(coords, dtype=np.float64) * COORD_SCALE + 0.5)
    return np.clip(q, -COORD_SCALE, COORD_SCALE).astype(np.int16)


def to_signal(img):
    """[0, 1] image values to the network's [-1, 1] targets."""
    return img * 2.0 - 1.0


def from_signal(sig):
    """Network outputs in [-1, 1] back to [0, 1] image values (clipped)."""
    return np.clip((np.asarray(sig) + 1.0) / 2.0, 0.0, 1.0)


def to_uint8(img):
    """[0, 1] float image to uint8 with round-half-to-even (numpy's rounding)."""
    return np.clip(np.rint(np.asarray(img, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
