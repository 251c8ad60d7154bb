"""The exported Verilog in Verilator: the fast RTL backend, and a transport for the driver.

:func:`build_model` exports a build's Verilog (:func:`accel.flows.export.export_core`) and
compiles it with Verilator together with a small C++ host port (``verilator_harness.cpp``)
that owns the clock and takes register and stream commands over pipes.
:class:`VerilatorTransport` is that process as an :class:`accel.host.transport.Transport`,
so :class:`accel.host.driver.PatchINRDriver`, the same driver a board's host program uses,
renders through it: AXI4-Lite register accesses as :data:`accel.host.registers.REGISTERS`
defines them, weights streamed in over ``s_axis_wgt`` (so every run also exercises the
weight loader), coordinates over ``s_axis_coord``, pixels from ``m_axis_pix`` with optional
random back-pressure and the AXI4-Stream hold rule checked on every cycle.
:func:`accel.flows.frame.simulate` runs its jobs through it, as through the Amaranth
simulator's :class:`~accel.flows.simulation.AmaranthTransport`.

Because the weights arrive over the stream, the Verilog depends on the build
configuration only: one compiled model serves every model file and every frame up to the
build's maximum. Compiled models are cached under ``build/verilator/<key>/`` (or the
``build_dir`` argument, or ``$PATCHINR_VERILATOR_DIR``), ``key`` hashing the Verilog, the
harness, the lint waivers, the Verilator version and the compiler options.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from model.support.errors import UserError
from model.support.validate import positive_int

from ..config import TOP_NAME, AccelConfig
from ..gateware.cells import sim_models
from ..host.transport import STREAMS, Transport, TransportTimeout
from .export import PE_NAME, export_core
from .lint import find_verilator, make_overrides, waiver_config

__all__ = ["VerilatorModel", "VerilatorTransport", "build_model", "default_build_dir",
           "HARNESS_PATH"]

#: The C++ host model compiled with the Verilog.
HARNESS_PATH = os.path.join(os.path.dirname(__file__), "verilator_harness.cpp")

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


class VerilatorTransport(Transport):
    """The exported Verilog in Verilator as a :class:`~accel.host.transport.Transport`.

    Runs the compiled model (``verilator_harness.cpp``) as a child process that owns the
    clock and answers register and stream commands over pipes; the clock stands still
    between commands, so CYCLES counts the core's cycles alone. Pixels that leave
    ``m_axis_pix`` while a command runs are queued for :meth:`receive`.

    Parameters
    ----------
    executable : str
        A compiled model (``VerilatorModel.executable``).
    stall : float
        Probability that ``m_axis_pix_tready`` drops (for 1..3 cycles) before a beat.
    seed : int
        Seed of that back-pressure pattern.
    max_cycles : int, optional
        Cycle budget of the whole session (:class:`TransportTimeout` past it).
    reset : bool
        Pulse ``aresetn`` first (16 cycles), as a board's reset does.
    """

    def __init__(self, executable, *, stall=0.0, seed=0, max_cycles=None, reset=True):
        if not 0.0 <= stall < 1.0:
            raise UserError(f"stall must be in [0, 1), not {stall}")
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._proc = subprocess.Popen([executable], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._stderr)
        try:
            if stall:
                self._command(f"stall {float(stall)!r} {int(seed)}")
            if max_cycles:
                self._command(f"limit {int(max_cycles)}")
            if reset:
                self.reset()
        except BaseException:
            self.close()
            raise

    def _command(self, line, payload=None):
        proc = self._proc
        if proc.poll() is not None:
            raise RuntimeError(f"the Verilator model has exited ({proc.returncode}): "
                               f"{self._errors()}")
        try:
            proc.stdin.write(line.encode() + b"\n")
            if payload is not None:
                proc.stdin.write(payload)
            proc.stdin.flush()
            answer = proc.stdout.readline().decode().split()
        except BrokenPipeError:
            answer = []
        if not answer:
            proc.wait()
            raise RuntimeError(f"the Verilator model stopped (exit {proc.returncode}) on "
                               f"{line.split()[0]!r}: {self._errors()}")
        if answer[0] == "timeout":
            raise TransportTimeout(f"{line.split()[0]!r}: the cycle budget ran out")
        if answer[0] != "ok":
            raise RuntimeError(f"the Verilator model refused {line!r}: {' '.join(answer[1:])}")
        return [int(v) for v in answer[1:]]

    def _errors(self):
        self._stderr.seek(0)
        return self._stderr.read().strip() or "no message"

    def read(self, offset):
        data, resp = self._command(f"read {int(offset)}")
        if resp:
            raise RuntimeError(f"AXI4-Lite read of 0x{offset:02x} answered response {resp}")
        return data

    def write(self, offset, value):
        (resp,) = self._command(f"write {int(offset)} {int(value) & 0xFFFF_FFFF}")
        if resp:
            raise RuntimeError(f"AXI4-Lite write of 0x{offset:02x} answered response {resp}")

    def send(self, stream, beats):
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r} (one of {', '.join(STREAMS)})")
        beats = np.ascontiguousarray(beats, dtype="<u8")
        self._command(f"send {stream} {len(beats)}", beats.tobytes())

    def receive(self, count, *, timeout):
        (n,) = self._command(f"recv {int(count)} {max(int(timeout), 0)}")
        raw = self._proc.stdout.read(8 * n)
        if len(raw) != 8 * n:
            raise RuntimeError(f"the Verilator model sent {len(raw) // 8} of {n} beats: "
                               f"{self._errors()}")
        return np.frombuffer(raw, dtype="<u8").astype(np.uint64)

    def reset(self):
        self._command("reset")

    def set_pattern(self, *, stall=0.0, gaps=0.0, seed=0):
        """Back-pressure on ``m_axis_pix`` and gaps on the input streams from now on:
        probabilities per beat (of 1..3 idle cycles), from seeded generators."""
        for name, value in (("stall", stall), ("gaps", gaps)):
            if not 0.0 <= value < 1.0:
                raise UserError(f"{name} must be in [0, 1), not {value}")
        self._command(f"stall {float(stall)!r} {int(seed)}")
        self._command(f"gaps {float(gaps)!r} {int(seed) + 1}")

    def run(self, cycles):
        """Let the clock run ``cycles`` cycles (pixels keep queueing)."""
        self._command(f"run {int(cycles)}")

    def stats(self):
        """``{"cycles", "hold_violations", "queued"}``: clock cycles since the model
        started, AXI4-Stream hold-rule violations seen on ``m_axis_pix``, pixels queued."""
        cycles, hold, queued = self._command("stats")
        return {"cycles": cycles, "hold_violations": hold, "queued": queued}

    def close(self):
        proc = self._proc
        if proc.poll() is None:
            try:
                proc.stdin.write(b"quit\n")
                proc.stdin.close()
                proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        for f in (proc.stdin, proc.stdout):
            if f and not f.closed:
                try:
                    f.close()
                except OSError:
                    pass
        self._stderr.close()


class VerilatorModel:
    """A compiled Verilator model of one build configuration.

    Attributes
    ----------
    config : AccelConfig
    executable : str
        The simulator (``Vpatchinr_core``): the core plus its host port.
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

    def open(self, **options):
        """A :class:`VerilatorTransport` to a fresh instance of the model (``options``:
        ``stall``, ``seed``, ``max_cycles``, ``reset``)."""
        return VerilatorTransport(self.executable, **options)


def build_model(config, *, build_dir=None, opt="-O2", jobs=2, threads=1, progress=True):
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
    threads : int
        Simulation threads of the model (Verilator ``--threads``; 1: single-threaded).
    progress : bool or callable
        True: messages and a progress bar of the compile on stderr. A callable is called
        with ``("compile", objects_compiled, None)``. False: silent.

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
    positive_int("threads", threads, maximum=64)
    verilator = find_verilator()
    cxx = _find_compiler()
    report = _Progress(progress)
    t0 = time.perf_counter()
    report.message("exporting Verilog")
    # Without the all-zero initialisers: Verilator starts memories at zero anyway, and as
    # C++ they are megabytes of one-time code that the compiler spends minutes on.
    verilog = export_core(config, zero_init=False)
    models = sim_models(verilog)        # the device's primitives (an ECP5's multipliers)
    with open(HARNESS_PATH) as f:
        harness = f.read()
    # The lint waivers, and each shared PE module inlined into every instance: kept as one
    # module, a model compiles faster but renders markedly slower (Verilator does not
    # optimise across the module boundary).
    pe_modules = sorted(set(re.findall(rf"^module ({re.escape(PE_NAME)}\w*|{TOP_NAME}_column\w*)\(",
                                       verilog, re.M)))
    waivers = waiver_config(verilator) + "".join(f'inline -module "{name}"\n'
                                                 for name in pe_modules)
    digest = hashlib.sha256()
    # The harness splits a beat into its pixels, and drives aclk2x where the core has one.
    beat = [f"-DPIXELS_PER_BEAT={config.pixels_per_beat}",
            f"-DPIXEL_BITS={config.pix_bits // config.pixels_per_beat}",
            f"-DDSP_CLOCK={config.dsp_clock}"]
    for part in (verilog, *models.values(), harness, waivers, _verilator_version(verilator),
                 opt, cxx, str(threads), *beat):
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
                 "verilator_harness.cpp": harness, **models}
        for name, text in files.items():
            with open(os.path.join(staging, name), "w") as f:
                f.write(text)
        cmd = [verilator, "--cc", "--exe", "--build", "-j", str(jobs),
               *(["--threads", str(threads)] if threads > 1 else []),
               "--top-module", TOP_NAME, "-Mdir", "obj_dir", "-o", f"../V{TOP_NAME}",
               "-MAKEFLAGS", " ".join([f"CXX={cxx}", f"OPT_FAST={opt}", f"OPT_SLOW={opt}",
                                       f"OPT_GLOBAL={opt}", *make_overrides(verilator)]),
               *(arg for flag in beat for arg in ("-CFLAGS", flag)),
               "waivers.vlt", f"{TOP_NAME}.v", *models, "verilator_harness.cpp"]
        report.message(f"compiling {config!r} with {opt} (-j{jobs}"
                       + (f", {threads} simulation threads)" if threads > 1 else ")"))
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
