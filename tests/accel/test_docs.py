"""The interface page stays the register map the core implements."""


from accel.host.errors import ErrorCode
from accel.host.registers import register_map_markdown
from tests.paths import ROOT

DOC = ROOT / "docs" / "interface.md"


def test_interface_page_has_the_current_register_map():
    text = DOC.read_text()
    assert register_map_markdown() in text, "regenerate the register table in docs/interface.md"


def test_interface_page_lists_every_error_code():
    text = DOC.read_text()
    for code in ErrorCode:
        assert f"| {code.value} | {code.name} |" in text
