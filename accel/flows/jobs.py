"""The three kinds of simulation job, as :func:`accel.flows.frame.simulate` runs them.

Each kind says, for one model file and build: what the RTL must produce (its reference),
how long the cycle model says it takes, how the driver runs it
(:class:`~accel.host.driver.PatchINRDriver`: ``render``, ``render_clip`` or ``query``), and
how the rendered pixels are scored against the reference and the source image or clip.
"""

import os

import numpy as np

from model.support.errors import UserError
from model.support.validate import nonnegative_int, positive_int

from ..config import BUILD
from ..cycles import frame_cycles, pe_utilization, query_cycles_bound
from .reference import reference_frame, reference_queries, torch_frames

__all__ = ["FrameJob", "ClipJob", "UpscaleJob", "job_for", "target_source"]


class FrameJob:
    """One frame (``render``): every pixel against the reference of its datapath."""
    kind = "frame"

    def __init__(self, sim, mf, config, source):
        self.sim, self.mf, self.config, self.source = sim, mf, config, source
        self.width, self.height = config.max_width, config.max_height
        self.cycles_model = frame_cycles(config, self.width, self.height,
                                         clock_hz=sim.clock_hz,
                                         precision=sim.precision)["total"]
        self.budget = self.cycles_model

    def expected(self):
        return reference_frame(self.mf, self.config, self.width, self.height,
                               self.sim.precision)

    def run(self, driver, progress):
        return driver.render(self.width, self.height, self.sim.precision, progress=progress)

    def figures(self, got, cycles, bad):
        from model.data import load_image
        from model.evaluate import score
        out = {"width": self.width, "height": self.height, "pixels": self.width * self.height,
               "cycles_model": self.cycles_model,
               "pe_utilization": pe_utilization(self.config, self.width, self.height, cycles)}
        if self.sim.precision != "int8" and self.source is None:
            return out
        fq, fp = torch_frames(self.mf, self.width, self.height)     # both from one render
        if self.sim.precision == "int8":
            out["mismatches_torch"] = int(np.count_nonzero(np.any(got != fq, axis=2)))
        if self.source is not None:
            target = load_image(self.source, size=(self.width, self.height),
                                channels=self.mf.config.channels)
            # Like with like: the core emits 8-bit pixels, so the torch frame it is compared
            # with is rounded the same way (half to even); the unrounded frame's PSNR is kept
            # beside it, since that rounding alone moves a good model's PSNR.
            out.update(image=self.sim.image or self.mf.meta.get("image"),
                       psnr=score(target, got)["psnr"],
                       psnr_torch=score(target, np.rint(fp * 255).astype(np.uint8))["psnr"],
                       psnr_torch_float=score(target, fp)["psnr"])
        return out


class ClipJob:
    """A video model's clip from one START (``render_clip``): frames ``first_frame`` ..
    ``first_frame + frames - 1`` of the ``clip_frames`` the model was fitted to."""
    kind = "clip"

    def __init__(self, sim, mf, config, source):
        from model.video import MAX_FRAMES
        self.sim, self.mf, self.config = sim, mf, config
        self.width, self.height = config.max_width, config.max_height
        clip_frames = sim.clip_frames or mf.meta.get("frames")
        if not isinstance(clip_frames, int) or clip_frames <= 0:
            raise UserError("the model file records no clip length: give --clip-frames")
        positive_int("clip frames", clip_frames, maximum=MAX_FRAMES)
        first = nonnegative_int("first frame", sim.first_frame)
        frames = clip_frames - first if sim.frames is None else sim.frames
        positive_int("frame count", frames)
        if first + frames > clip_frames:
            raise UserError(f"frames {first}..{first + frames - 1} are outside the "
                            f"{clip_frames}-frame clip the model was fitted to")
        self.clip_frames, self.first, self.frames = clip_frames, first, frames
        self.cycles_model = frame_cycles(config, self.width, self.height, frames=frames,
                                         first_frame=first, clock_hz=sim.clock_hz,
                                         precision=sim.precision)["total"]
        self.budget = self.cycles_model

    def expected(self):
        from model.evaluate import render_clip_int8
        from model.video import clip_coords_q, unpatchify_clip
        span = slice(self.first, self.first + self.frames)
        if self.sim.precision == "int8":
            return render_clip_int8(self.mf.quant, self.width, self.height,
                                    self.clip_frames)[span]
        n = self.mf.config.patch
        per = (self.width // n) * (self.height // n)
        q = clip_coords_q(self.width // n, self.height // n, self.clip_frames)
        pix = reference_queries(self.mf, self.config, q[span.start * per:span.stop * per],
                                "fp32")
        return unpatchify_clip(pix, self.width, self.height, self.frames, n,
                               self.mf.config.channels)

    def run(self, driver, progress):
        return driver.render_clip(self.width, self.height, clip_frames=self.clip_frames,
                                  first_frame=self.first, frame_count=self.frames,
                                  precision=self.sim.precision, progress=progress)

    def figures(self, got, cycles, bad):
        from model.evaluate import score_clip
        from model.video import load_video
        out = {"width": self.width, "height": self.height, "frames": self.frames,
               "first_frame": self.first, "clip_frames": self.clip_frames,
               "pixels": self.width * self.height * self.frames,
               "mismatches_frames": [int(v) for v in bad.sum(axis=(1, 2))],
               "cycles_model": self.cycles_model,
               "pe_utilization": pe_utilization(self.config, self.width, self.height, cycles,
                                                frames=self.frames)}
        meta, cfg = self.mf.meta, self.mf.config
        if meta.get("video"):
            # The clip as the model was fitted to it (the same frames, crop and size).
            step = meta.get("frame_step", 1)
            target = load_video(meta["video"], size=(self.width, self.height),
                                frames=self.frames,
                                first=meta.get("first_frame", 0) + self.first * step,
                                step=step, channels=1 if cfg.channels == 1 else None,
                                fit=meta.get("fit", "crop"))
            scored = score_clip(target, got)
            out.update(video=meta["video"], psnr=scored["psnr"],
                       psnr_frames=scored["psnr_frames"])
        return out


class UpscaleJob:
    """The fitted frame at ``upscale`` times its resolution through query mode
    (:mod:`model.upscale`: ``upscale^2`` sub-patch phases, interleaved on the host)."""
    kind = "upscale"

    def __init__(self, sim, mf, config, source):
        from model.upscale import MAX_UPSCALE, upscale_coords_q
        self.sim, self.mf, self.config, self.source = sim, mf, config, source
        scale = positive_int("upscale factor", sim.upscale, maximum=MAX_UPSCALE)
        self.w0, self.h0 = config.max_width, config.max_height
        self.width, self.height = scale * self.w0, scale * self.h0
        mw, mh = BUILD.max_frame
        if self.width > mw or self.height > mh:
            raise UserError(f"a {scale}x upscale of {self.w0}x{self.h0} is {self.width}x"
                            f"{self.height}, beyond the build's maximum frame {mw}x{mh}")
        self.queries = upscale_coords_q(self.w0, self.h0, mf.config.patch, scale)
        self.cycles_model = None
        self.budget = query_cycles_bound(config, len(self.queries))

    def _interleave(self, patches):
        from model.upscale import interleave
        cfg = self.mf.config
        return interleave(patches.reshape(len(self.queries), -1), self.w0, self.h0, cfg.patch,
                          cfg.channels, self.sim.upscale)

    def expected(self):
        return self._interleave(reference_queries(self.mf, self.config, self.queries,
                                                  self.sim.precision))

    def run(self, driver, progress):
        return self._interleave(driver.query(self.queries, self.sim.precision,
                                             quantized=True))

    def figures(self, got, cycles, bad):
        out = {"upscale": self.sim.upscale, "base_width": self.w0, "base_height": self.h0,
               "width": self.width, "height": self.height,
               "pixels": self.width * self.height, "queries": int(len(self.queries)),
               "cycles_bound": int(self.budget)}
        if self.source is not None:
            from skimage.transform import resize

            from model.data import load_image
            from model.evaluate import score
            from model.upscale import render_upscaled_fp32
            ch, scale = self.mf.config.channels, self.sim.upscale
            target = load_image(self.source, size=(self.width, self.height), channels=ch)
            base = load_image(self.source, size=(self.w0, self.h0), channels=ch)
            bicubic = np.clip(resize(base, (self.height, self.width, ch), order=3,
                                     anti_aliasing=False), 0, 1)
            torch_up = render_upscaled_fp32(self.mf.torch_model(), self.w0, self.h0, scale)
            out.update(image=self.sim.image or self.mf.meta.get("image"),
                       psnr=score(target, got)["psnr"],
                       psnr_bicubic=score(target, bicubic)["psnr"],
                       psnr_torch=score(target, np.rint(torch_up * 255)
                                        .astype(np.uint8))["psnr"])
        return out


def job_for(sim, mf, config, source):
    """The job ``sim`` asks of model file ``mf``: an upscale, a clip (video models) or a
    frame."""
    if sim.upscale:
        return UpscaleJob(sim, mf, config, source)
    return (ClipJob if mf.config.is_video else FrameJob)(sim, mf, config, source)


def target_source(mf, image):
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
