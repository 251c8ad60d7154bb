"""Fit a PatchINR to an image, quantize it to INT8 and write the model file.

Command line::

    python -m model.train --image camera --size 256 --patch 2 --steps 2000 \\
        --out runs/camera_p2.npz --json runs/camera_p2.json

The recipe (schedule, quantization-aware steps, what is kept) is described in
:mod:`model.training`.
"""

import argparse
import sys

# Only light modules at the top: torch loads inside main, where an interrupt is handled.
from .config import DEFAULT_LR, DEFAULT_QAT_CONSISTENCY, PatchINRConfig
from .errors import ArgumentParser, UserError, cli_entry
from .files import OutputSet, check_output, json_bytes
from .validate import parse_size

__all__ = ["build_parser", "main"]


def build_parser():
    p = ArgumentParser(prog="python -m model.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", required=True, help="scikit-image name (camera, astronaut, ...) or image file")
    p.add_argument("--size", default="256", help="N or WxH (default %(default)s)")
    p.add_argument("--gray", action="store_true", help="convert to grayscale (default: keep the image's)")
    p.add_argument("--patch", type=int, default=2, help="patch size n (1 = pixel-wise INR)")
    p.add_argument("--hidden", type=int, default=PatchINRConfig().hidden, help="width of the sine layers")
    p.add_argument("--layers", type=int, default=PatchINRConfig().layers, help="number of sine layers")
    p.add_argument("--omega0", type=float, default=30.0)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=DEFAULT_LR,
                   help=f"(peak) learning rate (default {DEFAULT_LR:g})")
    p.add_argument("--schedule", default="cosine", choices=["cosine", "constant"],
                   help="learning-rate schedule (SIREN's recipe: --lr 1e-4 --schedule constant)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--qat-steps", type=int, default=None,
                   help="of --steps, the last ones trained through the INT8 datapath "
                        "(default: a quarter; 0: float only, then post-training quantization)")
    p.add_argument("--qat-consistency", type=float, default=DEFAULT_QAT_CONSISTENCY,
                   help=f"weight of the FP32/INT8 disagreement in the QAT loss "
                        f"(default {DEFAULT_QAT_CONSISTENCY:g})")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--out", default=None, help="model file to write (.npz)")
    p.add_argument("--json", default=None, help="results JSON to write")
    p.add_argument("--png", default=None, help="write FP32 and INT8 reconstructions as PREFIX_fp32.png, PREFIX_int8.png")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


@cli_entry("model.train")
def main(argv=None):
    args = build_parser().parse_args(argv)
    w, h = parse_size(args.size)
    pngs = [f"{args.png}_fp32.png", f"{args.png}_int8.png"] if args.png else []
    outputs = [p for p in (args.out, args.json, *pngs) if p]
    if len(set(outputs)) != len(outputs):
        raise UserError(f"two outputs name the same file: {sorted(outputs)}")
    for path in outputs:
        check_output(path, inputs=(args.image,))

    from . import export
    from .data import load_image, patch_grid
    from .evaluate import png_bytes, render_fp32, render_int8
    from .training import TrainSettings, train_image

    settings = TrainSettings(steps=args.steps, lr=args.lr, schedule=args.schedule, seed=args.seed,
                             device=args.device, qat_steps=args.qat_steps,
                             qat_consistency=args.qat_consistency)
    probe = load_image(args.image, size=None, channels=1 if args.gray else None)
    config = PatchINRConfig(patch=args.patch, channels=probe.shape[2], hidden=args.hidden,
                            layers=args.layers, omega0=args.omega0)
    patch_grid(w, h, args.patch)           # reject sizes the patch grid cannot tile, before loading
    image = load_image(args.image, size=(w, h), channels=config.channels)
    model, quant, results = train_image(image, config, settings, progress=not args.quiet,
                                        image_name=args.image)
    meta = {k: results[k] for k in ("image", "width", "height", "psnr_fp32", "psnr_int8", "steps", "seed")}
    # Every output is written beside its target first and replaces it only once all are
    # on disk: a failure leaves every earlier file as it was.
    out = OutputSet()
    if args.out:
        out.add(args.out, export.to_bytes(config=config, fp32=model.state_arrays(), quant=quant,
                                          meta=meta))
    if pngs:
        out.add(pngs[0], png_bytes(render_fp32(model, w, h)))
        out.add(pngs[1], png_bytes(render_int8(quant, w, h)))
    if args.json:
        out.add(args.json, json_bytes(results))
    out.commit()
    print(f"{args.image} {w}x{h} n={args.patch}: FP32 {results['psnr_fp32']:.2f} dB, "
          f"INT8 {results['psnr_int8']:.2f} dB, {results['params']:,} parameters "
          f"({100 * results['param_overhead']:+.2f} % vs n=1), "
          f"{results['seconds_per_step']:.3f} s/step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
