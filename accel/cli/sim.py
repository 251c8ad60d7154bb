"""Render a frame through the accelerator's RTL and check every pixel.

Command line::

    python -m accel.sim --weights runs/camera24_p2.npz --precision int8 --array 4x4 \\
        --size 24x24 --out frame.png --json result.json
    python -m accel.sim --backend verilator --weights model.npz --size 256x256 --json out.json
    python -m accel.sim --backend verilator --weights camera128.npz --upscale 2 --out up.png
    python -m accel.sim --backend verilator --weights clip.npz --out clip.mp4 --strip strip.png

The frame is compared pixel for pixel with the reference of the datapath (INT8: the
integer reference and the fake-quantized torch model, which are equal; FP32: the float32
reference of the hardware's operation order). ``--upscale S`` renders the frame at S times
its resolution through query mode (S x S sub-patch phases, interleaved on the host) and
compares it with the reference of the same queries. A video model's clip (``model.train
--video``) renders from one START, every frame compared. Exit status 0 when every pixel matches, 1 on
any mismatch, 2 on bad input.
"""


from model.support.errors import ArgumentParser, UserError, cli_entry
from model.support.files import OutputSet, check_output, json_bytes
from model.support.validate import cli_type, nonnegative_int, parse_array, parse_size, positive_int
from model.upscale import MAX_UPSCALE

from ..config import SIMULATION
from ..device import DEVICES
from ..flows.frame import SimConfig, simulate

__all__ = ["build_parser", "main"]


def _array_help():
    return ", ".join(f"{p.rows}x{p.cols} in {name.capitalize()}" for name, p in SIMULATION.items())


def build_parser():
    p = ArgumentParser(prog="python -m accel.sim", description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", required=True, help="model file (from python -m model.train)")
    p.add_argument("--precision", default="int8", help="int8 or fp32")
    p.add_argument("--array", default=None,
                   help=f"systolic array ROWSxCOLS (default {_array_help()})")
    p.add_argument("--batch", type=int, default=None, help="queries in flight (default max(2*rows, 8))")
    p.add_argument("--size", default=None, help="frame WIDTHxHEIGHT (default: the model file's)")
    p.add_argument("--image", default=None, help="image the model was fitted to, for PSNR "
                   "(default: the one recorded in the model file)")
    p.add_argument("--first-frame", type=cli_type(int, nonnegative_int), default=0,
                   help="video: first frame of the fitted clip to render")
    p.add_argument("--frames", type=cli_type(int, positive_int), default=None,
                   help="video: frames to render (default: to the clip's end)")
    p.add_argument("--clip-frames", type=cli_type(int, positive_int), default=None,
                   help="video: frames of the fitted clip (default: the model file's)")
    p.add_argument("--strip", default=None, help="video: write a PNG strip of frames")
    p.add_argument("--upscale", type=cli_type(int, positive_int, maximum=MAX_UPSCALE),
                   default=None, help="render at this integer multiple of the frame size "
                   "through query mode")
    p.add_argument("--stream-weights", action="store_true",
                   help="load the weights over s_axis_wgt instead of at elaboration")
    p.add_argument("--stall", type=float, default=0.0, help="probability of tready low per output beat")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="xcvu9p", choices=list(DEVICES),
                   help="the device whose array layout to simulate (default %(default)s: "
                        "packed DSP48E2 pairs; lfe5u-85f: one product per multiplier, as an "
                        "ECP5 build has)")
    p.add_argument("--pixels-per-beat", type=int, default=1, metavar="1|2|4|8",
                   help="pixels per m_axis_pix beat of the simulated build (default 1; a "
                        "divisor of the patch size)")
    p.add_argument("--dsp-clock", type=int, default=1, metavar="1|2",
                   help="the INT8 array's DSP48E2 clock as a multiple of the fabric clock "
                        "(default 1; 2: two rows' packed pairs per slice, two clocks)")
    p.add_argument("--backend", default="amaranth", choices=list(SIMULATION),
                   help="Amaranth's simulator, or the exported Verilog compiled by Verilator "
                        "(needs `apt-get install verilator`; compiled models are cached in "
                        "build/verilator or $PATCHINR_VERILATOR_DIR)")
    p.add_argument("--verilator-opt", default="-O2", choices=["-O0", "-O1", "-O2", "-O3"],
                   help="C++ optimisation of the Verilator model (default %(default)s; -O0 "
                        "compiles faster, runs slower)")
    p.add_argument("--verilator-threads", type=cli_type(int, positive_int, maximum=64), default=1,
                   help="simulation threads of the Verilator model (default %(default)s)")
    p.add_argument("--out", default=None, help="write the rendered frame as PNG (a clip: "
                   "as .mp4 or .gif)")
    p.add_argument("--json", default=None, help="write the results as JSON")
    p.add_argument("--quiet", action="store_true")
    return p


@cli_entry("accel.sim")
def main(argv=None):
    args = build_parser().parse_args(argv)
    array = parse_array(args.array) if args.array else None
    size = parse_size(args.size) if args.size else None
    if not 0.0 <= args.stall < 1.0:
        raise UserError(f"--stall must be in [0, 1), not {args.stall}")
    from model import export
    video = export.load(args.weights).config.is_video
    outputs = [p for p in (args.out, args.json, args.strip) if p]
    if len(set(outputs)) != len(outputs):
        raise UserError(f"two outputs name the same file: {sorted(outputs)}")
    if not video:
        for flag, value in (("--strip", args.strip), ("--frames", args.frames),
                            ("--clip-frames", args.clip_frames),
                            ("--first-frame", args.first_frame or None)):
            if value is not None:
                raise UserError(f"{flag} is for a video model; {args.weights!r} is an image "
                                f"model")
    if args.out:
        from model.video import CLIP_SUFFIXES
        check_output(args.out, inputs=(args.weights, args.image),
                     suffixes=CLIP_SUFFIXES if video and not args.upscale else (".png",))
    if args.strip:
        check_output(args.strip, inputs=(args.weights,), suffixes=(".png",))
    if args.json:
        check_output(args.json, inputs=(args.weights, args.image))
    if video and args.image:
        raise UserError("--image is for an image model; a clip is scored against the video "
                        "its model file names")
    sim = SimConfig(weights=args.weights, precision=args.precision, array=array,
                    batch=args.batch, size=size, image=args.image,
                    stream_weights=args.stream_weights, stall=args.stall, seed=args.seed,
                    backend=args.backend, upscale=args.upscale, first_frame=args.first_frame,
                    frames=args.frames, clip_frames=args.clip_frames,
                    verilator_opt=args.verilator_opt,
                    verilator_threads=args.verilator_threads, device=args.device,
                    pixels_per_beat=args.pixels_per_beat, dsp_clock=args.dsp_clock)
    res = simulate(sim, progress=not args.quiet)
    if res.kind == "clip":
        return _clip(args, res)
    result = res.to_dict()
    out = OutputSet()
    if args.out:
        from model.evaluate import png_bytes
        out.add(args.out, png_bytes(res.frame))
    if args.json:
        out.add(args.json, json_bytes(result))
    out.commit()
    if args.upscale:
        print(f"{result['base_width']}x{result['base_height']} x{result['upscale']} = "
              f"{result['width']}x{result['height']} n={result['patch']} {result['precision']} "
              f"array {result['array']}: {result['mismatches']} mismatching pixels of "
              f"{result['pixels']}, {result['queries']} queries in {result['cycles']} cycles"
              + (f", PSNR {result['psnr']:.2f} dB (bicubic {result['psnr_bicubic']:.2f} dB)"
                 if "psnr" in result else ""))
        return 1 if result["mismatches"] else 0
    print(f"{result['width']}x{result['height']} n={result['patch']} {result['precision']} "
          f"array {result['array']}: {result['mismatches']} mismatching pixels of {result['pixels']}, "
          f"{result['cycles']} cycles (model {result['cycles_model']}), "
          f"PE utilization {100 * result['pe_utilization']:.1f} %"
          + (f", PSNR {result['psnr']:.2f} dB" if "psnr" in result else "")
          + (f"; Verilator model {'cached' if result['verilator_cached'] else 'compiled'} in "
             f"{result['compile_seconds']:.0f} s, frame in {result['wall_seconds']:.0f} s"
             if "compile_seconds" in result else ""))
    return 1 if result["mismatches"] else 0


def _clip(args, res):
    clip, result = res.frame, res.to_dict()
    out = OutputSet()
    if args.out:
        import os

        from model.video import clip_bytes
        out.add(args.out, clip_bytes(clip, os.path.splitext(args.out)[1].lower()))
    if args.strip:
        from model.evaluate import png_bytes
        from model.video import frame_strip
        out.add(args.strip, png_bytes(frame_strip(clip)))
    if args.json:
        out.add(args.json, json_bytes(result))
    out.commit()
    print(f"{result['frames']} frames of {result['width']}x{result['height']} (from frame "
          f"{result['first_frame']} of {result['clip_frames']}) n={result['patch']} "
          f"{result['precision']} array {result['array']}: {result['mismatches']} mismatching "
          f"pixels of {result['pixels']}, {result['cycles']} cycles (model "
          f"{result['cycles_model']}), {result['fps']:.1f} frames/s at {result['clock_hz'] / 1e6:g} MHz"
          + (f", PSNR {result['psnr']:.2f} dB (mean over the frames)" if "psnr" in result
             else ""))
    return 1 if result["mismatches"] else 0
