"""Verilator lint of the exported Verilog, with every waiver stated and justified.

``verilator --lint-only -Wall`` on :func:`accel.flows.export.export_core` output reports only
warning classes that come from how Amaranth and Yosys' ``write_verilog`` spell a correct
netlist, not from the design. They are waived for the whole file through a Verilator
configuration file (:data:`WAIVERS`, :func:`waiver_config`), one rule per line with its
reason, so any other class of warning (latches, multiple drivers, undriven signals,
combinational loops, blocking/non-blocking mix-ups, ...) still fails the lint.

The same configuration file is passed to the Verilator build of :mod:`accel.flows.verilator`.
"""

import os
import re
import shutil
import subprocess
import tempfile

from model.errors import UserError

from .export import TOP_NAME

__all__ = ["WAIVERS", "waiver_config", "find_verilator", "lint", "INSTALL_HINT"]

#: How to get the tool (Debian/Ubuntu).
INSTALL_HINT = "install it with `apt-get install verilator` (Debian/Ubuntu)"

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


def waiver_config():
    """Text of the Verilator configuration file (``.vlt``) holding :data:`WAIVERS`."""
    lines = ["`verilator_config",
             "// Lint waivers for Amaranth-generated Verilog (accel/lint.py): one rule a line."]
    for rule, reason in WAIVERS:
        lines.append(f"// {rule}: {reason}")
        lines.append(f'lint_off -rule {rule} -file "*"')
    return "\n".join(lines) + "\n"


def find_verilator():
    """Path of the ``verilator`` executable; :class:`UserError` naming the install step
    if it is missing."""
    path = shutil.which("verilator")
    if path is None:
        raise UserError(f"verilator not found on PATH: {INSTALL_HINT}")
    return path


def lint(verilog_text, *, timeout=600):
    """Run ``verilator --lint-only -Wall`` with :data:`WAIVERS` on ``verilog_text``.

    The text is linted as ``patchinr_core.v`` (top module :data:`accel.flows.export.TOP_NAME`),
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
        with open(vlt, "w") as f:
            f.write(waiver_config())
        proc = subprocess.run(
            [verilator, "--lint-only", "-Wall", "--top-module", TOP_NAME, vlt, src],
            capture_output=True, text=True, timeout=timeout)
    report = (proc.stdout + proc.stderr).strip()
    ok = proc.returncode == 0 and not re.search(r"%(Warning|Error)", report)
    return ok, report
