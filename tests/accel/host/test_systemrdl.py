"""The SystemRDL description compiles with systemrdl-compiler and is the register map."""

import pytest

from accel.host.registers import REGISTERS
from accel.host.systemrdl import systemrdl

systemrdl_compiler = pytest.importorskip(
    "systemrdl", reason="needs systemrdl-compiler: pip install -e '.[test]'")


def test_systemrdl_compiles_to_the_register_map(tmp_path):
    path = tmp_path / "patchinr_core.rdl"
    path.write_text(systemrdl(width_init=24, height_init=16))
    rdlc = systemrdl_compiler.RDLCompiler()
    rdlc.compile_file(str(path))
    top = rdlc.elaborate().top
    regs = {r.inst_name: r for r in top.registers()}
    assert list(regs) == list(REGISTERS)
    for name, reg in REGISTERS.items():
        node = regs[name]
        assert node.absolute_address == reg.offset
        fields = {f.inst_name: f for f in node.fields()}
        if not reg.fields:
            assert set(fields) == {"value"} and (fields["value"].lsb, fields["value"].msb) == (0, 31)
        for f in reg.fields:
            got = fields[f.name]
            assert (got.lsb, got.width) == (f.lsb, f.width)
            assert got.is_sw_writable == (reg.access == "RW")
            assert bool(got.get_property("singlepulse")) == f.pulse
    assert regs["WIDTH"].get_child_by_name("WIDTH").get_property("reset") == 24
    assert regs["ID"].get_child_by_name("value").get_property("reset") == 0x50494E52
