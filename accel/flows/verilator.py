"""Render frames through the exported Verilog in Verilator: the fast RTL backend.

:func:`render_verilator` does the job of :func:`accel.flows.simulation.render` (frame mode) on
the Verilog that :func:`accel.flows.export.export_core` writes, compiled by Verilator together
with a C++ host model (``verilator_harness.cpp``): AXI4-Lite register writes exactly as
:data:`accel.host.csr.REGISTERS` defines them, the weights streamed in over ``s_axis_wgt`` (so
every run also exercises the weight loader), pixels collected from ``m_axis_pix`` with
optional random back-pressure, STATUS polled until BUSY falls and CYCLES read back.

Because the weights arrive over the stream, the Verilog depends on the build
configuration only: one compiled model serves every model file and every frame up to the
build's maximum. Compiled models are cached under ``build/verilator/<key>/`` (or the
``build_dir`` argument, or ``$PATCHINR_VERILATOR_DIR``), ``key`` hashing the Verilog, the
harness, the lint waivers, the Verilator version and the compiler options.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from model.errors import UserError
from model.validate import positive_int

from ..config import AccelConfig
from ..gateware.weight_loader import weight_stream
from ..host.registers import REGISTERS
from .export import PE_NAME, TOP_NAME, export_core
from .lint import find_verilator, waiver_config

__all__ = ["VerilatorModel", "build_model", "render_verilator", "default_build_dir",
           "HARNESS_PATH"]

#: The C++ host model compiled with the Verilog.
HARNESS_PATH = os.path.join(os.path.dirname(__file__), "verilator_harness.cpp")

#: Fields of the harness's result header, in file order (uint64 each).
_HEADER = ("status", "cycles", "sim_cycles", "beats", "framing_errors", "timed_out")


def default_build_dir():
    """Where compiled models are cached: ``$PATCHINR_VERILATOR_DIR`` or ``build/verilator``
    (relative to the working directory); :class:`UserError` if the variable names
    something that is not a folder."""
    path = os.environ.get("PATCHINR_VERILATOR_DIR")
    if path is None:
        return os.path.join("build", "verilator")
    if not path or (os.path.exists(path) and not os.path.isdir(path)):
        raise UserError(f"PATCHINR_VERILATOR_DIR={path!r} is not a folder (unset it, or name "
                        f"a folder for the compiled Verilator models)")
    return path


def _find_compiler():
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if cxx is None or shutil.which(cxx) is None:
        raise UserError("no C++ compiler found for Verilator (set CXX, or install one with "
                        "`apt-get install g++ make`)")
    if shutil.which("make") is None:
        raise UserError("`make` not found; Verilator builds with it: `apt-get install make`")
    return cxx


def _verilator_version(verilator):
    proc = subprocess.run([verilator, "--version"], capture_output=True, text=True)
    return proc.stdout.strip()


class _Progress:
    """Reports phases and counts to a callback, or to stderr (messages and a tqdm bar)."""

    def __init__(self, progress):
        self._callback = progress if callable(progress) else None
        self._print = progress is True
        self._bar = None

    def message(self, text):
        if self._print:
            print(f"verilator: {text}", file=sys.stderr, flush=True)

    def update(self, phase, done, total=None):
        if self._callback is not None:
            self._callback(phase, done, total)
        elif self._print:
            if self._bar is None:
                from tqdm.auto import tqdm
                self._bar = tqdm(total=total, desc=phase, unit="px" if phase == "render" else "",
                                 file=sys.stderr, leave=False, dynamic_ncols=True)
            self._bar.update(done - self._bar.n)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class VerilatorModel:
    """A compiled Verilator model of one build configuration.

    Attributes
    ----------
    config : AccelConfig
    executable : str
        The simulator (``Vpatchinr_core``): the core plus the C++ host model.
    directory : str
        Its cache directory (Verilog, waivers, build log, objects).
    compile_seconds : float
        Time spent exporting and compiling in this call (export only on a cache hit).
    cached : bool
        Whether the executable came from the cache.
    """

    def __init__(self, *, config, executable, directory, compile_seconds, cached):
        self.config, self.executable, self.directory = config, executable, directory
        self.compile_seconds, self.cached = compile_seconds, cached

    def run(self, model_file, *, width, height, precision, stall=0.0, seed=0,
            max_cycles=None, progress=None):
        """Render one frame; returns ``(frame uint8 [H, W, C], cycles)``.

        Parameters
        ----------
        model_file : ModelFile
            Weights, streamed into the core before the job.
        width, height : int
            Frame size written to WIDTH / HEIGHT: a multiple of the patch size up to the
            build's maximum.
        precision : {"int8", "fp32"}
            CTRL.PRECISION of the job.
        stall : float
            Probability that ``m_axis_pix_tready`` drops (for 1..3 cycles) before a beat.
        seed : int
            Seed of the back-pressure pattern.
        max_cycles : int, optional
            Give up after this many clock cycles (default: ten times the cycle model's
            frame length plus the weight stream, at least one million).
        progress : bool or callable, optional
            As for :func:`render_verilator`.

        Raises
        ------
        UserError
            A frame size or precision the build rejects.
        RuntimeError
            The job failed in the RTL: an error status, a wrong pixel count, a framing
            (``tuser``/``tlast``/hold-rule) violation or no end within ``max_cycles``.
        """
        from ..cycles import frame_cycles
        cfg = self.config
        if precision not in ("int8", "fp32"):
            raise UserError(f"unknown precision {precision!r} (choose int8 or fp32)")
        if not (cfg.has_fp32 if precision == "fp32" else cfg.has_int8):
            raise UserError(f"this build ({cfg.precision}) has no {precision} datapath")
        cfg.check_frame(width, height)
        if model_file.config != cfg.model:
            raise UserError("the model file's network differs from the one the build was "
                            "made for")
        report = _Progress(progress)
        beats = weight_stream(cfg, model_file)
        words = np.array([d | (int(last) << 32) for d, last in beats], dtype="<u8")
        if max_cycles is None:
            max_cycles = max(10 * (frame_cycles(cfg, width, height)["total"] + len(beats)),
                             1_000_000)
        ctrl = REGISTERS["CTRL"]
        ctrl_word = 1 << ctrl.field("START").lsb
        if precision == "fp32":
            ctrl_word |= 1 << ctrl.field("PRECISION").lsb
        pixels = width * height
        with tempfile.TemporaryDirectory(prefix="patchinr-vl-") as tmp:
            wfile, ofile = os.path.join(tmp, "weights.bin"), os.path.join(tmp, "result.bin")
            words.tofile(wfile)
            args = {
                "weights": wfile, "out": ofile, "width": width, "height": height,
                "ctrl": ctrl_word,
                "reg_width": REGISTERS["WIDTH"].offset, "reg_height": REGISTERS["HEIGHT"].offset,
                "reg_ctrl": ctrl.offset, "reg_status": REGISTERS["STATUS"].offset,
                "reg_cycles": REGISTERS["CYCLES"].offset,
                "busy_mask": 1 << REGISTERS["STATUS"].field("BUSY").lsb,
                "stall": repr(float(stall)), "seed": int(seed), "max_cycles": int(max_cycles),
                "progress": max(pixels // 200, 1),
            }
            cmd = [self.executable] + [f"{k}={v}" for k, v in args.items()]
            report.message(f"rendering {width}x{height} {precision}")
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
            for line in proc.stdout:
                if line.startswith("progress "):
                    report.update("render", int(line.split()[1]), pixels)
            stderr = proc.stderr.read()
            rc = proc.wait()
            report.close()
            if rc not in (0, 1):
                raise RuntimeError(f"the Verilator model failed (exit {rc}): {stderr.strip()}")
            raw = np.fromfile(ofile, dtype="<u8", count=len(_HEADER))
            head = dict(zip(_HEADER, (int(v) for v in raw)))
            data = np.fromfile(ofile, dtype="<u4", offset=8 * len(_HEADER))
        report.message(f"{head['sim_cycles']} clock cycles in {time.perf_counter() - t0:.1f} s")
        if head["timed_out"]:
            raise RuntimeError(f"the job did not finish within {max_cycles} cycles")
        status = REGISTERS["STATUS"]
        if head["status"] & (1 << status.field("ERROR").lsb):
            code = (head["status"] >> status.field("ERROR_CODE").lsb) & 0xFF
            raise RuntimeError(f"the job ended in error {code} (STATUS 0x{head['status']:08x})")
        if head["framing_errors"]:
            raise RuntimeError(f"{head['framing_errors']} AXI4-Stream framing violations on "
                               f"m_axis_pix: {stderr.strip()}")
        if len(data) != pixels:
            raise RuntimeError(f"the job sent {len(data)} pixels, not {pixels}")
        ch = cfg.model.channels
        frame = np.stack([(data >> (8 * c)) & 0xFF for c in range(ch)], axis=-1).astype(np.uint8)
        return frame.reshape(height, width, ch), head["cycles"]


def build_model(config, *, build_dir=None, opt="-O2", jobs=2, progress=True):
    """Export ``config``'s core and compile it with Verilator, or take it from the cache.

    Parameters
    ----------
    config : AccelConfig
    build_dir : str, optional
        Cache root (default :func:`default_build_dir`).
    opt : str
        C++ optimisation level of the generated model (``-O0`` .. ``-O3``): ``-O2`` runs a
        large array several times faster than ``-O0`` at a longer compile.
    jobs : int
        Parallel compiler processes.
    progress : bool or callable
        As for :func:`render_verilator`.

    Returns
    -------
    VerilatorModel

    Raises
    ------
    UserError
        Verilator, a C++ compiler or ``make`` is missing (the message names the install
        step).
    RuntimeError
        Verilator or the compiler failed (the message quotes the log from its first error;
        the whole log is kept as ``<cache key>.failed.log`` in the build directory).
    """
    if not isinstance(config, AccelConfig):
        raise TypeError(f"config must be an AccelConfig, not {config!r}")
    if opt not in ("-O0", "-O1", "-O2", "-O3"):
        raise ValueError(f"opt must be one of -O0 .. -O3, not {opt!r}")
    positive_int("jobs", jobs)
    verilator = find_verilator()
    cxx = _find_compiler()
    report = _Progress(progress)
    t0 = time.perf_counter()
    report.message("exporting Verilog")
    # Without the all-zero initialisers: Verilator starts memories at zero anyway, and as
    # C++ they are megabytes of one-time code that the compiler spends minutes on.
    verilog = export_core(config, zero_init=False)
    with open(HARNESS_PATH) as f:
        harness = f.read()
    # The lint waivers, and the shared PE module inlined into every instance: kept as one
    # module, a model compiles faster but renders markedly slower (Verilator does not
    # optimise across the module boundary).
    waivers = waiver_config(verilator) + f'inline -module "{PE_NAME}"\n'
    digest = hashlib.sha256()
    for part in (verilog, harness, waivers, _verilator_version(verilator), opt, cxx):
        digest.update(part.encode())
        digest.update(b"\0")
    root = os.path.abspath(build_dir or default_build_dir())
    directory = os.path.join(root, digest.hexdigest()[:20])
    executable = os.path.join(directory, f"V{TOP_NAME}")
    if os.path.exists(executable):
        report.message(f"cached model {directory}")
        return VerilatorModel(config=config, executable=executable, directory=directory,
                              compile_seconds=time.perf_counter() - t0, cached=True)

    # Build beside the final directory and rename it into place, so an interrupted or
    # concurrent build never leaves a half-built model where the cache looks.
    os.makedirs(root, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".build-", dir=root)
    try:
        files = {f"{TOP_NAME}.v": verilog, "waivers.vlt": waivers,
                 "verilator_harness.cpp": harness}
        for name, text in files.items():
            with open(os.path.join(staging, name), "w") as f:
                f.write(text)
        cmd = [verilator, "--cc", "--exe", "--build", "-j", str(jobs),
               "--top-module", TOP_NAME, "-Mdir", "obj_dir", "-o", f"../V{TOP_NAME}",
               "-MAKEFLAGS", f"CXX={cxx} OPT_FAST={opt} OPT_SLOW={opt} OPT_GLOBAL={opt}",
               "waivers.vlt", f"{TOP_NAME}.v", "verilator_harness.cpp"]
        report.message(f"compiling {config!r} with {opt} (-j{jobs})")
        log_path = os.path.join(staging, "build.log")
        objects = 0
        with open(log_path, "w") as log:
            proc = subprocess.Popen(cmd, cwd=staging, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            for line in proc.stdout:
                log.write(line)
                if " -c -o " in line:
                    objects += 1
                    report.update("compile", objects)
            rc = proc.wait()
        report.close()
        if rc != 0:
            with open(log_path) as f:
                lines = f.readlines()
            first = next((i for i, line in enumerate(lines) if "rror" in line), 0)
            excerpt = "".join(lines[first:first + 20])
            kept = f"{directory}.failed.log"
            shutil.copyfile(log_path, kept)
            raise RuntimeError(f"Verilator build failed (exit {rc}); log in {kept}:\n"
                               f"{excerpt}")
        try:
            os.rename(staging, directory)
        except OSError:
            if not os.path.exists(executable):       # not a concurrent build that won
                raise
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging)
    seconds = time.perf_counter() - t0
    report.message(f"compiled in {seconds:.0f} s: {directory}")
    return VerilatorModel(config=config, executable=executable, directory=directory,
                          compile_seconds=seconds, cached=False)


def render_verilator(config, model_file, *, width, height, precision, progress=True,
                     stall=0.0, seed=0, build_dir=None, opt="-O2", jobs=2, max_cycles=None):
    """Render one frame through a Verilator build of ``config``, streaming the weights in.

    Parameters
    ----------
    config : AccelConfig
        The build; compiled on first use, then taken from the cache.
    model_file : ModelFile
        Weights (its configuration must be ``config.model``).
    width, height : int
        Frame size (WIDTH / HEIGHT).
    precision : {"int8", "fp32"}
        Datapath of the job (CTRL.PRECISION).
    progress : bool or callable
        True: messages and progress bars on stderr. A callable is called with
        ``(phase, done, total)``: ``("compile", objects_compiled, None)`` and
        ``("render", pixels_received, width * height)``. False: silent.
    stall, seed : float, int
        Random back-pressure on ``m_axis_pix`` (probability per beat) and its seed; the
        cycle count then includes the stalls.
    build_dir, opt, jobs
        See :func:`build_model`.
    max_cycles : int, optional
        See :meth:`VerilatorModel.run`.

    Returns
    -------
    frame : numpy.ndarray
        uint8 ``[height, width, channels]``.
    cycles : int
        CYCLES after the job: START to the last pixel, as the Amaranth backend reports.
    """
    model = build_model(config, build_dir=build_dir, opt=opt, jobs=jobs, progress=progress)
    return model.run(model_file, width=width, height=height, precision=precision, stall=stall,
                     seed=seed, max_cycles=max_cycles, progress=progress)
