"""Plot the training curves of one or more ``model.train --json`` results.

Command line::

    python -m model.plot runs/camera_p2.json runs/camera_p2_siren.json \\
        --labels "ours" "SIREN (Adam 1e-4)" --out convergence.png

Each curve is the ``history`` of a results JSON: training PSNR every 10 steps (the float
network's during float steps, the INT8 datapath's during quantization-aware steps, drawn
dashed).
"""

import io
import json
import os
import sys

from .support.errors import ArgumentParser, UserError, cli_entry
from .support.files import check_output, write_bytes

__all__ = ["plot_histories", "build_parser", "main"]


def _load(path):
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as exc:
        raise UserError(f"cannot read {path!r}: {exc.strerror}") from None
    except ValueError:
        raise UserError(f"{path!r} is not JSON") from None
    hist = data.get("history") if isinstance(data, dict) else None
    if not hist or not all(isinstance(h, list) and len(h) == 2
                           and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                   for v in h) for h in hist):
        raise UserError(f"{path!r} has no training history of [step, psnr] pairs "
                        f"(write it with model.train --json)")
    for key in ("steps", "qat_steps"):
        value = data.get(key, 0 if key == "qat_steps" else None)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise UserError(f"{path!r} has no valid {key!r} (write it with model.train --json)")
    return data


def plot_histories(results, labels, out, *, title=None):
    """Draw each result's ``history`` (PSNR against step) into the PNG ``out``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (res, label) in enumerate(zip(results, labels)):
        float_end = res["steps"] - res.get("qat_steps", 0)
        hist = res["history"]
        fl = [(s, p) for s, p in hist if s < float_end]
        qa = [(s, p) for s, p in hist if s >= float_end]
        ax.plot(*zip(*fl), color=f"C{i}", label=f"{label}: float")
        if qa:
            ax.plot(*zip(*qa), "--", color=f"C{i}", label=f"{label}: INT8 (quantization-aware)")
    ax.set_xlabel("step")
    ax.set_ylabel("training PSNR (dB)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    write_bytes(out, buf.getvalue())


def build_parser():
    p = ArgumentParser(prog="python -m model.plot", description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="+", help="results JSON files from model.train --json")
    p.add_argument("--labels", nargs="+", default=None, help="one label per file (default: file names)")
    p.add_argument("--title", default=None)
    p.add_argument("--out", required=True, help="PNG to write")
    return p


@cli_entry("model.plot")
def main(argv=None):
    args = build_parser().parse_args(argv)
    labels = args.labels or [os.path.splitext(os.path.basename(r))[0] for r in args.results]
    if len(labels) != len(args.results):
        raise UserError(f"{len(labels)} labels for {len(args.results)} results")
    check_output(args.out, inputs=args.results, suffixes=(".png",))
    plot_histories([_load(r) for r in args.results], labels, args.out, title=args.title)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
