"""The interface page stays the register map the core implements."""

from pathlib import Path

from accel.csr import register_map_markdown
from accel.errors import ErrorCode

DOC = Path(__file__).resolve().parents[2] / "docs" / "interface.md"


def test_interface_page_has_the_current_register_map():
    text = DOC.read_text()
    assert register_map_markdown() in text, "regenerate the register table in docs/interface.md"


def test_interface_page_lists_every_error_code():
    text = DOC.read_text()
    for code in ErrorCode:
        assert f"| {code.value} | {code.name} |" in text
