"""Render a frame through the accelerator's RTL and check every pixel.

Command line::

    python -m accel.sim --weights runs/camera24_p2.npz --precision int8 --array 4x4 \\
        --size 24x24 --out frame.png --json result.json
    python -m accel.sim --backend verilator --weights model.npz --size 256x256 --json out.json

The frame is compared pixel for pixel with the reference of the datapath (INT8: the
integer reference and the fake-quantized torch model, which are equal; FP32: the float32
reference of the hardware's operation order). Exit status 0 when every pixel matches, 1 on
any mismatch, 2 on bad input.
"""

import json
import os
import sys
import time

import numpy as np

from model.errors import ArgumentParser, UserError, cli_entry

__all__ = ["main", "run", "parse_array", "parse_size", "DEFAULT_ARRAY"]

#: ``--array`` per backend. Amaranth simulates a 4x4 array at thousands of cycles a second,
#: enough for small frames only. Verilator's time per frame hardly depends on the array (a
#: larger one runs fewer, costlier cycles) but its compile time grows with it: 16x16
#: renders a 256x256 frame of a 7-layer, 256-wide model in about four minutes after a
#: compile of under three, where 4x4 would need 400 million cycles.
DEFAULT_ARRAY = {"amaranth": "4x4", "verilator": "16x16"}


def parse_array(text):
    """``RxC`` -> ``(rows, cols)``; raises :class:`UserError` when malformed or not positive."""
    parts = str(text).lower().split("x")
    try:
        rows, cols = (int(p) for p in parts)
    except ValueError:
        raise UserError(f"array shape must be ROWSxCOLS (for example 4x4), not {text!r}") from None
    if rows <= 0 or cols <= 0:
        raise UserError(f"array shape must be positive, not {text!r}")
    return rows, cols


def parse_size(text):
    """``WxH`` or ``N`` -> ``(width, height)``."""
    parts = str(text).lower().split("x")
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        raise UserError(f"frame size must be WIDTHxHEIGHT (for example 24x24), not {text!r}") from None
    if len(dims) == 1:
        dims *= 2
    if len(dims) != 2 or min(dims) <= 0:
        raise UserError(f"frame size must be two positive integers, not {text!r}")
    return tuple(dims)


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


def run(*, weights, precision="int8", array=(4, 4), batch=None, size=None, image=None,
        stream_weights=False, stall=0.0, seed=0, backend="amaranth", progress=True,
        verilator_opt="-O2"):
    """Simulate one frame and compare it; returns the result dictionary (see the module
    docstring and the README for the keys).

    The Verilator backend always streams the weights in over ``s_axis_wgt`` (one compiled
    model serves every model file) and honours ``stall``; ``verilator_opt`` is the C++
    optimisation level of its model. Its result adds ``compile_seconds`` (export and
    compile, or the cache lookup) and ``verilator_cached``; ``wall_seconds`` is the
    frame alone.
    """
    from model import export
    from model.evaluate import score
    from .config import AccelConfig
    from .cycles import frame_cycles, pe_utilization
    from .weight_buffer import memory_images

    mf = export.load(weights)
    cfg_m = mf.config
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
        batch = max(2 * rows, 8)
    config = AccelConfig(model=cfg_m, rows=rows, cols=cols, batch=batch, precision=precision,
                         max_width=width, max_height=height)
    images = None if stream_weights else memory_images(config, mf)

    expected = reference_frame(mf, config, width, height, precision)
    model = frame_cycles(config, width, height)
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
        res = render(config, width=width, height=height, precision=precision, images=images,
                     model_file=mf, stream_weights=stream_weights, stall=stall, seed=seed,
                     progress=tick)
        if bar is not None:
            bar.close()
        frame, cycles = res.frame, res.cycles
    else:
        from .verilator import build_model
        built = build_model(config, opt=verilator_opt, progress=progress)
        extra = {"compile_seconds": built.compile_seconds, "verilator_cached": built.cached,
                 "verilator_opt": verilator_opt}
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
    target = _target_image(mf, image, width, height)
    if target is not None:
        _, fp = torch_frames(mf, width, height)
        result["image"] = image or mf.meta.get("image")
        result["psnr"] = score(target, frame)["psnr"]
        # Like with like: the core emits 8-bit pixels, so the torch frame it is compared
        # with is rounded the same way (half to even); the unrounded frame's PSNR is kept
        # beside it, since that rounding alone moves a good model's PSNR by 0.01-0.2 dB.
        result["psnr_torch"] = score(target, np.rint(fp * 255).astype(np.uint8))["psnr"]
        result["psnr_torch_float"] = score(target, fp)["psnr"]
    result["_frame"] = frame
    return result


def _target_image(mf, image, width, height):
    from model.data import load_image
    source = image or mf.meta.get("image")
    if not source:
        return None
    return load_image(source, size=(width, height), channels=mf.config.channels)


def build_parser():
    p = ArgumentParser(prog="python -m accel.sim", description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", required=True, help="model file (from python -m model.train)")
    p.add_argument("--precision", default="int8", help="int8 or fp32")
    p.add_argument("--array", default=None,
                   help="systolic array ROWSxCOLS (default 4x4 in Amaranth, 16x16 in "
                        "Verilator, where a full-size frame takes minutes)")
    p.add_argument("--batch", type=int, default=None, help="queries in flight (default max(2*rows, 8))")
    p.add_argument("--size", default=None, help="frame WIDTHxHEIGHT (default: the model file's)")
    p.add_argument("--image", default=None, help="image the model was fitted to, for PSNR "
                   "(default: the one recorded in the model file)")
    p.add_argument("--stream-weights", action="store_true",
                   help="load the weights over s_axis_wgt instead of at elaboration")
    p.add_argument("--stall", type=float, default=0.0, help="probability of tready low per output beat")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", default="amaranth", choices=["amaranth", "verilator"],
                   help="Amaranth's simulator, or the exported Verilog compiled by Verilator "
                        "(needs `apt-get install verilator`; compiled models are cached in "
                        "build/verilator or $PATCHINR_VERILATOR_DIR)")
    p.add_argument("--verilator-opt", default="-O2", choices=["-O0", "-O1", "-O2", "-O3"],
                   help="C++ optimisation of the Verilator model (default %(default)s; -O0 "
                        "compiles faster, runs slower)")
    p.add_argument("--out", default=None, help="write the rendered frame as PNG")
    p.add_argument("--json", default=None, help="write the results as JSON")
    p.add_argument("--quiet", action="store_true")
    return p


@cli_entry("accel.sim")
def main(argv=None):
    args = build_parser().parse_args(argv)
    array = parse_array(args.array or DEFAULT_ARRAY[args.backend])
    size = parse_size(args.size) if args.size else None
    if not 0.0 <= args.stall < 1.0:
        raise UserError(f"--stall must be in [0, 1), not {args.stall}")
    for path in (args.out, args.json):
        if path and os.path.isdir(path):
            raise UserError(f"output {path!r} is a directory")
    result = run(weights=args.weights, precision=args.precision, array=array, batch=args.batch,
                 size=size, image=args.image, stream_weights=args.stream_weights,
                 stall=args.stall, seed=args.seed, backend=args.backend, progress=not args.quiet,
                 verilator_opt=args.verilator_opt)
    frame = result.pop("_frame")
    if args.out:
        from model.evaluate import save_png
        save_png(args.out, frame)
    if args.json:
        if os.path.dirname(args.json):
            os.makedirs(os.path.dirname(args.json), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    print(f"{result['width']}x{result['height']} n={result['patch']} {result['precision']} "
          f"array {result['array']}: {result['mismatches']} mismatching pixels of {result['pixels']}, "
          f"{result['cycles']} cycles (model {result['cycles_model']}), "
          f"PE utilization {100 * result['pe_utilization']:.1f} %"
          + (f", PSNR {result['psnr']:.2f} dB" if "psnr" in result else "")
          + (f"; Verilator model {'cached' if result['verilator_cached'] else 'compiled'} in "
             f"{result['compile_seconds']:.0f} s, frame in {result['wall_seconds']:.0f} s"
             if "compile_seconds" in result else ""))
    return 1 if result["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
