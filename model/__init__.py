"""PatchINR: patch-based implicit neural representations, their INT8 quantization and export."""

from .config import COORD_SCALE, PatchINRConfig, QuantSpec
from .support.errors import UserError

__all__ = ["PatchINRConfig", "QuantSpec", "COORD_SCALE", "UserError"]
