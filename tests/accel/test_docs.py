"""The manual's generated parts: the interface page includes the register map and error
codes generated from their one source, and the generator covers what it must."""

import sys

from accel.cli.registry import COMMANDS
from tests.paths import ROOT

DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import generated  # noqa: E402


def test_interface_page_includes_the_generated_register_map_and_error_codes():
    text = (DOCS / "interface.md").read_text()
    assert "{include} _generated/registers.md" in text
    assert "{include} _generated/error_codes.md" in text
    assert "| 0x00 | ID |" not in text          # never copied by hand


def test_the_register_table_is_the_register_map():
    from accel.host.errors import ErrorCode
    from accel.host.registers import REGISTERS
    table = generated.registers_table()
    assert REGISTERS
    for name in REGISTERS:
        assert f"| {name} |" in table
    codes = generated.errors_table()
    for code in ErrorCode:
        assert f"| {code.value} | {code.name} |" in codes


def test_the_command_reference_covers_every_command_of_the_registry():
    page = generated.cli_page()
    for command in COMMANDS:
        assert f"## patchinr {command.name}" in page
        assert f":prog: patchinr {command.name}" in page
        parser = getattr(generated, f"parser_{command.name.replace('-', '_')}")()
        assert parser.prog == f"patchinr {command.name}"


def test_the_api_reference_covers_every_module():
    page = generated.api_page()
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
               for pkg in generated.PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    for module in modules:
        assert f".. automodule:: {module}\n" in page, module


def test_every_page_is_in_the_table_of_contents():
    index = (DOCS / "index.md").read_text()
    pages = {p.stem for p in DOCS.glob("*.md")} - {"index"}
    assert pages and all(f"\n{page}\n" in index for page in pages), \
        sorted(p for p in pages if f"\n{p}\n" not in index)
