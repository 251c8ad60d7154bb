"""Where the tests find the repository and its fixtures, wherever a test file sits."""

from pathlib import Path

#: The repository's root folder.
ROOT = Path(__file__).resolve().parents[1]

#: Small, deliberate test fixtures: trained regression models.
FIXTURES = ROOT / "tests" / "fixtures"
