"""The C header agrees with the register map: a C program compiled against it prints every
macro, and each equals what REGISTERS, ErrorCode and MEMORIES say."""

import shutil
import subprocess

import pytest

from accel.config import MEMORIES, AccelConfig
from accel.host.cheader import c_header
from accel.host.errors import ErrorCode
from accel.host.registers import ID_VALUE, MAP_VERSION, REGISTERS
from model.config import PatchINRConfig

CC = shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(CC is None, reason="needs a C compiler: apt-get install gcc")


def _expected(config):
    want = {"PATCHINR_ID_VALUE": ID_VALUE, "PATCHINR_MAP_VERSION": MAP_VERSION}
    for reg in REGISTERS.values():
        want[f"PATCHINR_{reg.name}_OFFSET"] = reg.offset
        for f in reg.fields:
            want[f"PATCHINR_{reg.name}_{f.name}_SHIFT"] = f.lsb
            want[f"PATCHINR_{reg.name}_{f.name}_WIDTH"] = f.width
            want[f"PATCHINR_{reg.name}_{f.name}_MASK"] = ((1 << f.width) - 1) << f.lsb
    want.update({f"PATCHINR_ERR_{c.name}": c.value for c in ErrorCode})
    want.update({f"PATCHINR_MEM_{n.upper()}": i for n, i in MEMORIES.items()})
    for name, (depth, bits) in config.memory_geometry.items():
        want[f"PATCHINR_BUILD_{name.upper()}_DEPTH"] = depth
        want[f"PATCHINR_BUILD_{name.upper()}_WORD_BITS"] = bits
    want.update(PATCHINR_BUILD_ROWS=config.rows, PATCHINR_BUILD_COLS=config.cols,
                PATCHINR_BUILD_PARAM_BITS_PER_LANE=config.param_bits)
    return want


@pytest.mark.parametrize("precision", ["int8", "dual"])
def test_header_compiles_and_agrees_with_the_register_map(tmp_path, precision):
    config = AccelConfig(model=PatchINRConfig(patch=2, channels=3, hidden=8, layers=2),
                         rows=4, cols=4, batch=8, precision=precision, max_width=16,
                         max_height=16)
    want = _expected(config)
    (tmp_path / "patchinr_core.h").write_text(c_header(config))
    body = "\n".join(f'    printf("{name} %lu\\n", (unsigned long)({name}));' for name in want)
    (tmp_path / "main.c").write_text('#include <stdio.h>\n#include "patchinr_core.h"\n'
                                     f"int main(void) {{\n{body}\n    return 0;\n}}\n")
    build = subprocess.run([CC, "-std=c99", "-Wall", "-Werror", "-o", str(tmp_path / "main"),
                            str(tmp_path / "main.c")], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    out = subprocess.run([str(tmp_path / "main")], capture_output=True, text=True, check=True)
    got = {name: int(value) for name, value in (line.split() for line in out.stdout.splitlines())}
    assert got == want


def test_header_without_a_build_has_no_build_constants():
    text = c_header()
    assert "PATCHINR_CTRL_OFFSET" in text and "PATCHINR_BUILD_" not in text
