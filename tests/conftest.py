"""Suite-wide: the report header says which external tools the tests ran with."""

from tests.tools import describe


def pytest_report_header(config):
    return f"tools: {describe()}"
