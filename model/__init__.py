"""PatchINR: patch-based implicit neural representations, their INT8 quantization and export.

:mod:`~model.config` (:class:`~model.config.PatchINRConfig`), :mod:`~model.network` (the
torch network), :mod:`~model.data` and :mod:`~model.video` (images, clips, coordinates),
:mod:`~model.training` (fitting), :mod:`~model.quant` (INT8 quantization and the integer
reference), :mod:`~model.fp32ref` (the float32 reference of the hardware's operation
order), :mod:`~model.evaluate` and :mod:`~model.metrics` (rendering and scores),
:mod:`~model.upscale` (sub-patch phases), :mod:`~model.export` (model files),
:mod:`~model.synthetic` (random models for tests and soaks) and :mod:`~model.support`
(errors, validation, atomic files, limits); :mod:`~model.train` and :mod:`~model.plot` are
commands.
"""

from .config import COORD_SCALE, PatchINRConfig, QuantSpec
from .support.errors import UserError

__all__ = ["PatchINRConfig", "QuantSpec", "COORD_SCALE", "UserError"]
