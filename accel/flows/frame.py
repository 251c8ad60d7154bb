"""One frame through the accelerator's RTL, against the frame it must produce.

:func:`reference_frame` is that frame, bit for bit (INT8: the integer reference, equal to
the fake-quantized torch model; FP32: the float32 reference of the hardware's operation
order); :func:`simulate_frame` renders a frame in Amaranth's simulator or the Verilator
model and compares every pixel. ``python -m accel.sim`` and the tests call them.
"""

import os
import sys
import time

import numpy as np

from model.support.errors import UserError
from model.support.limits import SEED_MAX
from model.support.validate import nonnegative_int, one_of

from ..config import SIMULATION, AccelConfig

__all__ = ["reference_frame", "torch_frames", "simulate_frame", "simulate_clip",
           "simulate_upscaled",
           "AMARANTH_MAX_CYCLES"]

#: Frames longer than this are refused by the Amaranth backend before they start: at a few
#: thousand cycles a second they would take hours (the Verilator backend runs them).
AMARANTH_MAX_CYCLES = 20_000_000


def reference_frame(model_file, config, width, height, precision):
    """The frame the RTL must produce, bit for bit, as uint8 ``[H, W, C]``."""
    from model.data import patch_centres_q, patch_grid, unpatchify
    cfg = model_file.config
    pw, ph = patch_grid(width, height, cfg.patch)
    coords = patch_centres_q(pw, ph)
    if precision == "int8":
        from model.quant import int_forward
        pix = int_forward(model_file.quant, coords)
    else:
        from model.fp32ref import fold_weights, fp32_forward
        pix = fp32_forward(fold_weights(model_file.fp32, cfg.omega0), coords, k_pad=config.rows)
    return unpatchify(pix, width, height, cfg.patch, cfg.channels)


def torch_frames(model_file, width, height):
    """``(fake_quant_uint8, fp32_float)`` frames of the torch models."""
    import torch

    from model.data import patch_centres_q, patch_grid, unpatchify
    from model.evaluate import render_fp32
    from model.quant import FakeQuantPatchINR
    cfg = model_file.config
    net = model_file.torch_model()
    pw, ph = patch_grid(width, height, cfg.patch)
    with torch.no_grad():
        fq = FakeQuantPatchINR(net)(torch.as_tensor(patch_centres_q(pw, ph).astype(np.int64)))
    fq = unpatchify(fq.numpy().astype(np.uint8), width, height, cfg.patch, cfg.channels)
    return fq, render_fp32(net, width, height)


def simulate_frame(*, weights, precision="int8", array=None, batch=None, size=None, image=None,
        stream_weights=False, stall=0.0, seed=0, backend="amaranth", progress=True,
        verilator_opt="-O2", verilator_threads=1):
    """Simulate one frame and compare it; returns the result dictionary (see the module
    docstring and the README for the keys).

    The Verilator backend always streams the weights in over ``s_axis_wgt`` (one compiled
    model serves every model file) and honours ``stall``; ``verilator_opt`` is the C++
    optimisation level of its model and ``verilator_threads`` its simulation threads. Its
    result adds ``compile_seconds`` (export and compile, or the cache lookup),
    ``verilator_cached`` and ``verilator`` (the version); ``wall_seconds`` is the frame
    alone.
    """
    from model.data import load_image
    from model.evaluate import score

    from ..cycles import frame_cycles, pe_utilization
    from ..host.weights import memory_images

    mf, config, source = _setup(weights=weights, precision=precision, array=array, batch=batch,
                                size=size, image=image, stall=stall, seed=seed, backend=backend)
    width, height = config.max_width, config.max_height
    rows, cols, batch, cfg_m = config.rows, config.cols, config.batch, mf.config
    model = frame_cycles(config, width, height)
    if backend == "amaranth" and model["total"] > AMARANTH_MAX_CYCLES:
        raise UserError(f"a {width}x{height} frame takes {model['total']:,} cycles on a "
                        f"{rows}x{cols} array, more than the {AMARANTH_MAX_CYCLES:,} the Amaranth "
                        f"simulator runs in reasonable time: use --backend verilator")
    images = None if stream_weights else memory_images(config, mf)

    expected = reference_frame(mf, config, width, height, precision)
    extra = {}
    t0 = time.perf_counter()
    if backend == "amaranth":
        from .simulation import render
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=width * height, desc="rtl sim", unit="px", file=sys.stderr,
                       leave=False, dynamic_ncols=True)
        def tick(received):
            if bar is not None:
                bar.update(received - bar.n)
        try:
            res = render(config, width=width, height=height, precision=precision,
                         images=images, model_file=mf, stream_weights=stream_weights,
                         stall=stall, seed=seed, progress=tick)
        finally:
            if bar is not None:
                bar.close()         # also on an interrupt: the line is cleared
        frame, cycles = res.frame, res.cycles
    else:
        built, extra = _verilator_model(config, verilator_opt, verilator_threads, progress)
        t0 = time.perf_counter()
        frame, cycles = built.run(mf, width=width, height=height, precision=precision,
                                  stall=stall, seed=seed, progress=progress)
    wall = time.perf_counter() - t0

    result = {
        "weights": os.fspath(weights), "precision": precision, "backend": backend,
        "array": f"{rows}x{cols}", "batch": batch, "width": width, "height": height,
        "patch": cfg_m.patch, "channels": cfg_m.channels, "widths": cfg_m.widths,
        "pixels": int(width * height),
        "mismatches": int(np.count_nonzero(np.any(frame != expected, axis=2))),
        "cycles": int(cycles), "cycles_model": int(model["total"]),
        "cycles_model_error": (model["total"] - cycles) / cycles,
        "pe_utilization": pe_utilization(config, width, height, cycles),
        "fps_at_200mhz": 200e6 / cycles,
        "wall_seconds": wall,
        **extra,
    }
    if precision == "int8":
        fq, _ = torch_frames(mf, width, height)
        result["mismatches_torch"] = int(np.count_nonzero(np.any(frame != fq, axis=2)))
    target = (None if source is None else
              load_image(source, size=(width, height), channels=mf.config.channels))
    if target is not None:
        _, fp = torch_frames(mf, width, height)
        result["image"] = image or mf.meta.get("image")
        result["psnr"] = score(target, frame)["psnr"]
        # Like with like: the core emits 8-bit pixels, so the torch frame it is compared
        # with is rounded the same way (half to even); the unrounded frame's PSNR is kept
        # beside it, since that rounding alone moves a good model's PSNR (README).
        result["psnr_torch"] = score(target, np.rint(fp * 255).astype(np.uint8))["psnr"]
        result["psnr_torch_float"] = score(target, fp)["psnr"]
    result["_frame"] = frame
    return result


def simulate_clip(*, weights, precision="int8", array=None, batch=None, size=None,
                  first_frame=0, frames=None, clip_frames=None, stream_weights=False,
                  stall=0.0, seed=0, backend="amaranth", progress=True, verilator_opt="-O2",
                  verilator_threads=1):
    """A video model's clip through the RTL in one job (frames ``first_frame`` ..
    ``first_frame + frames - 1`` of the ``clip_frames`` the model was fitted to, by default
    the model file's), every pixel of every frame against the reference of the same
    ``(x, y, t)`` queries, CYCLES against the cycle model. The result has the keys of
    :func:`simulate_frame` (``pixels`` over the clip, ``fps_at_200mhz`` frames per second)
    plus ``frames``, ``first_frame``, ``clip_frames``, ``mismatches_frames`` and, when the
    model file names its clip, ``psnr`` (mean over the frames) and ``psnr_frames``
    against it; ``_clip`` holds the rendered frames."""
    from model.evaluate import render_clip_int8, score_clip
    from model.support.validate import nonnegative_int, positive_int
    from model.video import MAX_FRAMES, clip_coords_q, load_video, unpatchify_clip

    from ..cycles import frame_cycles, pe_utilization
    from ..host.weights import memory_images

    mf, config, _ = _setup(weights=weights, precision=precision, array=array, batch=batch,
                           size=size, image=None, stall=stall, seed=seed, backend=backend,
                           video=True)
    width, height = config.max_width, config.max_height
    meta = mf.meta
    if clip_frames is None:
        clip_frames = meta.get("frames")
        if not isinstance(clip_frames, int) or clip_frames <= 0:
            raise UserError("the model file records no clip length: give --clip-frames")
    positive_int("clip frames", clip_frames, maximum=MAX_FRAMES)
    nonnegative_int("first frame", first_frame)
    frames = clip_frames - first_frame if frames is None else frames
    positive_int("frame count", frames)
    if first_frame + frames > clip_frames:
        raise UserError(f"frames {first_frame}..{first_frame + frames - 1} are outside the "
                        f"{clip_frames}-frame clip the model was fitted to")
    model = frame_cycles(config, width, height, frames=frames, first_frame=first_frame)
    if backend == "amaranth" and model["total"] > AMARANTH_MAX_CYCLES:
        raise UserError(f"{frames} frames of {width}x{height} take {model['total']:,} cycles "
                        f"on a {config.rows}x{config.cols} array, more than the "
                        f"{AMARANTH_MAX_CYCLES:,} the Amaranth simulator runs in reasonable "
                        f"time: use --backend verilator")
    cfg_m = mf.config
    n = cfg_m.patch
    span = slice(first_frame, first_frame + frames)
    if precision == "int8":
        expected = render_clip_int8(mf.quant, width, height, clip_frames)[span]
    else:
        from model.fp32ref import fold_weights, fp32_forward
        pw, ph = width // n, height // n
        per = pw * ph
        q = clip_coords_q(pw, ph, clip_frames)[first_frame * per:(first_frame + frames) * per]
        pix = fp32_forward(fold_weights(mf.fp32, cfg_m.omega0), q, k_pad=config.rows)
        expected = unpatchify_clip(pix, width, height, frames, n, cfg_m.channels)
    clip = (clip_frames, first_frame, frames)
    extra = {}
    t0 = time.perf_counter()
    if backend == "amaranth":
        from .simulation import render
        res = render(config, width=width, height=height, precision=precision, clip=clip,
                     images=None if stream_weights else memory_images(config, mf),
                     model_file=mf, stream_weights=stream_weights, stall=stall, seed=seed,
                     max_cycles=2 * model["total"] + 100_000)
        if res.frame is None:
            raise RuntimeError(f"the clip job ended in error {res.error_code}")
        got, cycles = res.frame, res.cycles
    else:
        built, extra = _verilator_model(config, verilator_opt, verilator_threads, progress)
        t0 = time.perf_counter()
        got, cycles = built.run(mf, width=width, height=height, precision=precision,
                                stall=stall, seed=seed, progress=progress, clip=clip)
    wall = time.perf_counter() - t0
    bad = np.any(got != expected, axis=3)
    result = {
        "weights": os.fspath(weights), "precision": precision, "backend": backend,
        "array": f"{config.rows}x{config.cols}", "batch": config.batch,
        "width": width, "height": height, "frames": frames, "first_frame": first_frame,
        "clip_frames": clip_frames, "patch": n, "channels": cfg_m.channels,
        "widths": cfg_m.widths, "pixels": int(width * height * frames),
        "mismatches": int(np.count_nonzero(bad)),
        "mismatches_frames": [int(v) for v in bad.sum(axis=(1, 2))],
        "cycles": int(cycles), "cycles_model": int(model["total"]),
        "cycles_model_error": (model["total"] - cycles) / cycles,
        "pe_utilization": pe_utilization(config, width, height, cycles, frames=frames),
        "fps_at_200mhz": 200e6 * frames / cycles, "wall_seconds": wall, **extra,
    }
    source = meta.get("video")
    if source:
        # The clip as the model was fitted to it (the same frames, crop and size).
        step = meta.get("frame_step", 1)
        first = meta.get("first_frame", 0) + first_frame * step
        target = load_video(source, size=(width, height), frames=frames, first=first,
                            step=step, channels=1 if cfg_m.channels == 1 else None,
                            fit=meta.get("fit", "crop"))
        scored = score_clip(target, got)
        result.update(video=source, psnr=scored["psnr"], psnr_frames=scored["psnr_frames"])
    result["_clip"] = got
    return result


def simulate_upscaled(*, weights, scale, precision="int8", array=None, batch=None, size=None,
                      image=None, stream_weights=False, stall=0.0, seed=0, backend="amaranth",
                      progress=True, verilator_opt="-O2", verilator_threads=1):
    """Render ``size`` (default: the fitted frame) at ``scale`` times its resolution through
    the RTL's query mode (:mod:`model.upscale`: ``scale^2`` sub-patch phases, interleaved on
    the host) and compare every pixel with the reference of the same queries.

    The result has the keys of :func:`simulate_frame` that apply (``width``/``height`` are
    the upscaled frame's, ``base_width``/``base_height`` the fitted one's, ``queries`` and
    ``cycles_bound`` in place of the frame's cycle model) and, when the image is known,
    ``psnr`` of the upscaled frame against the image at the upscaled size, beside
    ``psnr_bicubic`` (the image at the base size upsampled by ``skimage.transform.resize``,
    order 3) and ``psnr_torch`` (the torch FP32 model upscaled the same way).
    """
    from model.data import load_image
    from model.evaluate import score
    from model.support.validate import positive_int
    from model.upscale import MAX_UPSCALE, interleave, render_upscaled_fp32, upscale_coords_q

    from ..config import BUILD
    from ..cycles import query_cycles_bound
    from ..host.weights import memory_images

    positive_int("upscale factor", scale, maximum=MAX_UPSCALE)
    mf, config, source = _setup(weights=weights, precision=precision, array=array, batch=batch,
                                size=size, image=image, stall=stall, seed=seed, backend=backend)
    w0, h0 = config.max_width, config.max_height
    width, height = scale * w0, scale * h0
    mw, mh = BUILD.max_frame
    if width > mw or height > mh:
        raise UserError(f"a {scale}x upscale of {w0}x{h0} is {width}x{height}, beyond the "
                        f"build's maximum frame {mw}x{mh}")
    cfg_m = mf.config
    n, ch = cfg_m.patch, cfg_m.channels
    queries = upscale_coords_q(w0, h0, n, scale)
    bound = query_cycles_bound(config, len(queries))
    if backend == "amaranth" and bound > AMARANTH_MAX_CYCLES:
        raise UserError(f"{len(queries):,} queries take up to {bound:,} cycles on a "
                        f"{config.rows}x{config.cols} array, more than the "
                        f"{AMARANTH_MAX_CYCLES:,} the Amaranth simulator runs in reasonable "
                        f"time: use --backend verilator")
    if precision == "int8":
        from model.quant import int_forward
        want = int_forward(mf.quant, queries)
    else:
        from model.fp32ref import fold_weights, fp32_forward
        want = fp32_forward(fold_weights(mf.fp32, cfg_m.omega0), queries, k_pad=config.rows)
    extra = {}
    t0 = time.perf_counter()
    if backend == "amaranth":
        from .simulation import render
        res = render(config, width=w0, height=h0, precision=precision, queries=queries,
                     images=None if stream_weights else memory_images(config, mf),
                     model_file=mf, stream_weights=stream_weights, stall=stall, seed=seed,
                     max_cycles=2 * bound + 100_000)
        if res.frame is None:
            raise RuntimeError(f"the query job ended in error {res.error_code}")
        got, cycles = res.frame, res.cycles
    else:
        built, extra = _verilator_model(config, verilator_opt, verilator_threads, progress)
        t0 = time.perf_counter()
        got, cycles = built.query(mf, queries, precision=precision, stall=stall, seed=seed)
        got = got.reshape(len(queries), n * n * ch)
    wall = time.perf_counter() - t0
    frame = interleave(got, w0, h0, n, ch, scale)
    expected = interleave(want, w0, h0, n, ch, scale)
    result = {
        "weights": os.fspath(weights), "precision": precision, "backend": backend,
        "array": f"{config.rows}x{config.cols}", "batch": config.batch,
        "upscale": scale, "base_width": w0, "base_height": h0,
        "width": width, "height": height, "patch": n, "channels": ch, "widths": cfg_m.widths,
        "pixels": int(width * height), "queries": int(len(queries)),
        "mismatches": int(np.count_nonzero(np.any(frame != expected, axis=2))),
        "cycles": int(cycles), "cycles_bound": int(bound),
        "fps_at_200mhz": 200e6 / cycles, "wall_seconds": wall, **extra,
    }
    if source is not None:
        from skimage.transform import resize
        target = load_image(source, size=(width, height), channels=ch)
        base = load_image(source, size=(w0, h0), channels=ch)
        bicubic = np.clip(resize(base, (height, width, ch), order=3, anti_aliasing=False),
                          0, 1)
        result["image"] = image or mf.meta.get("image")
        result["psnr"] = score(target, frame)["psnr"]
        result["psnr_bicubic"] = score(target, bicubic)["psnr"]
        torch_up = render_upscaled_fp32(mf.torch_model(), w0, h0, scale)
        result["psnr_torch"] = score(target, np.rint(torch_up * 255).astype(np.uint8))["psnr"]
    result["_frame"] = frame
    return result


def _verilator_model(config, opt, threads, progress):
    """The compiled Verilator model of ``config`` and the result keys that describe it."""
    from .lint import find_verilator, verilator_version
    from .verilator import build_model
    built = build_model(config, opt=opt, threads=threads, progress=progress)
    return built, {"compile_seconds": built.compile_seconds, "verilator_cached": built.cached,
                   "verilator_opt": opt, "verilator_threads": threads,
                   "verilator": verilator_version(find_verilator())}


def _setup(*, weights, precision, array, batch, size, image, stall, seed, backend,
           video=False):
    """The model file, the build configuration (its maximum frame is the frame to render:
    ``size`` or the model file's) and the image to score against. ``video`` says which
    kind of model the caller renders; the other kind is refused with one line."""
    from model import export
    one_of("backend", backend, tuple(SIMULATION))
    nonnegative_int("seed", seed, maximum=SEED_MAX)
    if not 0.0 <= stall < 1.0:
        raise UserError(f"stall must be in [0, 1), not {stall}")
    if array is None:
        array = SIMULATION[backend].array
    mf = export.load(weights)
    cfg_m = mf.config
    if cfg_m.is_video != video:
        kind = "a video model (x, y, t)" if cfg_m.is_video else "an image model (x, y)"
        raise UserError(f"{os.fspath(weights)!r} is {kind}: "
                        + ("render its clip (accel.sim without --upscale)" if cfg_m.is_video
                           else "a clip needs a video model (model.train --video)"))
    if precision not in ("int8", "fp32"):
        raise UserError(f"unknown precision {precision!r} (choose int8 or fp32)")
    if size is None:
        size = (mf.meta.get("width"), mf.meta.get("height"))
        if not all(isinstance(v, int) and v > 0 for v in size):
            raise UserError("the model file records no frame size: give --size WxH")
    width, height = size
    if width % cfg_m.patch or height % cfg_m.patch:
        raise UserError(f"frame size {width}x{height} is not divisible by the model's patch "
                        f"size {cfg_m.patch}")
    rows, cols = array
    if batch is None:
        batch = SIMULATION[backend].batch_for(rows)
    config = AccelConfig(model=cfg_m, rows=rows, cols=cols, batch=batch, precision=precision,
                         max_width=width, max_height=height)
    if backend == "verilator":
        from .verilator import default_build_dir
        default_build_dir()                 # a bad PATCHINR_VERILATOR_DIR fails now
    return mf, config, _target_source(mf, image)


def _target_source(mf, image):
    """The image to score the frame against: ``image``, or the one the model file records
    (a scikit-image name, or a path that must exist from here)."""
    from model.data import BUNDLED_IMAGES
    if image:
        return image
    source = mf.meta.get("image")
    if not source:
        return None
    if source not in BUNDLED_IMAGES and not os.path.exists(source):
        raise UserError(f"the model file records its image as {source!r}, which does not exist "
                        f"from {os.getcwd()!r}: give --image")
    return source
