"""The PatchINR configuration: the single source of truth for network geometry.

Everything else (the torch module, the quantizer, the model file, the accelerator's
elaboration) reads its layer widths, patch size and number formats from a
:class:`PatchINRConfig`.
"""

import math
from dataclasses import asdict, dataclass, field

from .support.errors import UserError
from .support.limits import OMEGA0_MAX
from .support.validate import positive_int

__all__ = ["PatchINRConfig", "QuantSpec", "COORD_SCALE", "DEFAULT_LR", "DEFAULT_QAT_CONSISTENCY",
           "INT8_QAT_CONSISTENCY", "VIDEO_BATCH", "default_qat_consistency"]


#: Patch-centre coordinates in [-1, 1] become signed 16-bit integers ``round(x * 32767)``.
#: 16 bits keep every patch centre of a 1920x1080 frame at n = 1 distinct (the grid step is
#: 2 * 32767 / 1920 = 34 codes); int8 coordinates could address only 255 positions per axis.
COORD_SCALE = 32767

#: Peak learning rate of the cosine schedule (:mod:`model.training` says why not 5e-4).
DEFAULT_LR = 3e-4
#: Weight of the FP32/INT8 disagreement in the quantization-aware loss, for a model whose
#: two datapaths must agree (``--keep dual``, the default, and ``fp32``).
DEFAULT_QAT_CONSISTENCY = 100.0
#: The same for a model kept for its INT8 datapath alone (``--keep int8``): a weak pull
#: towards the float model lets the INT8 frame pass its post-training quantization, where
#: 100 holds it to the float model's side (docs/results.md has the measurements).
INT8_QAT_CONSISTENCY = 1.0
#: Queries per step when fitting a clip: all of a 128x128, 16-frame clip's at n = 2.
VIDEO_BATCH = 65536


def default_qat_consistency(keep):
    """The disagreement weight a model kept for ``keep`` (``"dual"``, ``"int8"`` or
    ``"fp32"``) trains with unless it is given."""
    return INT8_QAT_CONSISTENCY if keep == "int8" else DEFAULT_QAT_CONSISTENCY


def _is_int(value):
    # bool is an int subclass, but True is no bit width or channel count
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, kw_only=True)
class QuantSpec:
    """Number formats of the INT8 datapath.

    Parameters
    ----------
    phase_bits : int
        The sine unit keeps the low ``phase_bits`` bits of the requantized phase and looks
        them up in a table of ``2**phase_bits`` int8 entries (2*pi maps to ``2**phase_bits``).
    mult_bits : int
        Requantization multipliers are unsigned integers in
        ``[2**(mult_bits-2), 2**(mult_bits-1))``; 16 keeps them inside one signed 16-bit
        (and DSP48E2 18-bit) operand.
    act_max : int
        Sine outputs are ``round(act_max * sin(.))``: int8 with scale ``1/act_max``.
    first_weight_bits : int
        Signed bits of the first layer's weights. The first layer turns coordinates into
        phases ``omega0 * (w . x + b)``, so an int8 weight's rounding error (up to
        ``max|w| / 254``) becomes a phase error of up to 0.06 rad at ``omega0 = 30``: by far the
        largest INT8 error when this layer is int8. 12 bits remove it (the whole datapath
        quantized then does as well as with 16) and keep the int16 x int12 products and the
        bias inside int32; the multiplier is one DSP48E2 (27 x 18) either way.
    """

    phase_bits: int = 12
    mult_bits: int = 16
    act_max: int = 127
    first_weight_bits: int = 12

    def __post_init__(self):
        if not _is_int(self.phase_bits) or not 4 <= self.phase_bits <= 16:
            raise UserError(f"phase bits must be an integer in 4..16, not {self.phase_bits!r}")
        if not _is_int(self.mult_bits) or not 8 <= self.mult_bits <= 24:
            raise UserError(f"multiplier bits must be an integer in 8..24, not {self.mult_bits!r}")
        if not _is_int(self.act_max) or not 1 <= self.act_max <= 127:
            raise UserError(f"activation maximum must be an integer in 1..127, not {self.act_max!r}")
        if not _is_int(self.first_weight_bits) or not 8 <= self.first_weight_bits <= 16:
            raise UserError(f"first-layer weight bits must be an integer in 8..16, "
                             f"not {self.first_weight_bits!r}")


@dataclass(frozen=True, kw_only=True)
class PatchINRConfig:
    """Geometry of a PatchINR network.

    The network is ``layers`` sine layers of width ``hidden`` followed by a linear layer with
    ``channels * patch**2`` outputs: one query at a patch centre predicts the whole
    ``patch x patch x channels`` patch. ``patch = 1`` is the pixel-wise INR.

    Parameters
    ----------
    patch : int
        Patch size n (the patch is n x n pixels).
    channels : int
        1 (grayscale) or 3 (RGB).
    hidden : int
        Width of every sine layer.
    layers : int
        Number of sine layers, the first (2 -> hidden) included.
    omega0 : float
        Frequency of the sine activations, ``sin(omega0 * (W x + b))``.
    coords : {2, 3}
        Input coordinates per query: 2 for an image ``(x, y)``, 3 for a video ``(x, y, t)``
        with ``t`` the frame's position in [-1, 1] over the clip (frame ``f`` of ``F`` at
        ``(2f + 1) / F - 1``, the same centre rule as a patch's ``x`` and ``y``).

    Notes
    -----
    The defaults are seven width-256 sine layers: with RGB output the n = 2 model has
    2,313 more parameters (0.59 %) than the n = 1 model, the paper's +0.6 %.
    """

    patch: int = 2
    channels: int = 3
    hidden: int = 256
    layers: int = 7
    omega0: float = 30.0
    coords: int = 2
    quant: QuantSpec = field(default_factory=QuantSpec)

    def __post_init__(self):
        positive_int("patch size", self.patch)
        if not _is_int(self.channels) or self.channels not in (1, 3):
            raise UserError(f"channels must be 1 or 3, not {self.channels!r}")
        positive_int("hidden width", self.hidden)
        positive_int("number of sine layers", self.layers)
        if not _is_int(self.coords) or self.coords not in (2, 3):
            raise UserError(f"coordinates per query must be 2 (image) or 3 (video), not "
                            f"{self.coords!r}")
        if (not isinstance(self.omega0, (int, float)) or isinstance(self.omega0, bool)
                or not (self.omega0 > 0 and math.isfinite(self.omega0))):
            raise UserError(f"omega0 must be a positive finite number, not {self.omega0!r}")
        if self.omega0 > OMEGA0_MAX:
            raise UserError(f"omega0 {self.omega0:g} exceeds the limit of {OMEGA0_MAX:g}")
        if isinstance(self.quant, dict):
            object.__setattr__(self, "quant", QuantSpec(**self.quant))
        if not isinstance(self.quant, QuantSpec):
            raise UserError(f"quant must be a QuantSpec or a mapping, not {self.quant!r}")

    # Derived geometry ----------------------------------------------------------------------

    @property
    def in_features(self):
        """Inputs of the first layer: the coordinates of one query."""
        return self.coords

    @property
    def is_video(self):
        """Whether queries carry a time coordinate ``(x, y, t)``."""
        return self.coords == 3

    @property
    def out_features(self):
        """Values per query: ``channels * patch**2``, ordered (dy, dx, channel)."""
        return self.channels * self.patch ** 2

    @property
    def widths(self):
        """Feature widths from input to output, ``[coords, hidden, ..., hidden, out_features]``."""
        return [self.in_features] + [self.hidden] * self.layers + [self.out_features]

    @property
    def layer_shapes(self):
        """``(out, in)`` of every linear map, first to last."""
        w = self.widths
        return [(w[i + 1], w[i]) for i in range(len(w) - 1)]

    @property
    def params(self):
        """Trainable parameters: weights and biases of every layer."""
        return sum(o * i + o for o, i in self.layer_shapes)

    def with_patch(self, patch):
        """The same network with another patch size (``patch=1`` is the pixel-wise baseline)."""
        return PatchINRConfig(**{**self.to_dict(), "patch": patch})

    @property
    def param_overhead(self):
        """Fractional parameter growth against the n = 1 model of the same width and depth."""
        base = self.with_patch(1).params
        return (self.params - base) / base

    def to_dict(self):
        d = asdict(self)
        d["quant"] = asdict(self.quant)
        return d

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict):
            raise UserError(f"configuration must be a mapping, not {type(d).__name__}")
        known = {"patch", "channels", "hidden", "layers", "omega0", "coords", "quant"}
        unknown = set(d) - known
        if unknown:
            raise UserError(f"unknown configuration keys: {', '.join(sorted(unknown))}")
        d = dict(d)
        if "quant" in d:
            d["quant"] = QuantSpec(**d["quant"])
        return cls(**d)
