"""Where the INT8 datapath's PSNR goes: each of its roundings alone, on the float model.

The integer datapath (:mod:`model.quant`) differs from the float network in five
roundings:

* ``coordinates``: inputs to int16, ``round(x * 32767) / 32767``;
* ``weights``: every layer's weights to its per-output-channel grid, ``max|W_j| / 127``
  (the first layer's ``max|W_j| / 2047``, :class:`~model.config.QuantSpec`);
* ``phase``: each sine layer's phase ``omega0 * z`` to ``2*pi / 2**phase_bits``;
* ``activations``: sine outputs to ``1 / act_max``;
* ``output``: the head's ``(z + 1) / 2`` to ``1 / 255``.

:func:`rounding_costs` renders the model in float64 with one rounding at a time, with
each layer's weights rounded alone, and with all five together (which lands within a few
hundredths of a dB of the integer reference: what is left are the requantization
multipliers' own rounding and the biases' grid). A cost is the float PSNR minus the PSNR
with that rounding alone: it says which rounding a better quantization should attack
(``python -m accel.bench --videos ... --stage gap`` reports it per point).

The costs do not add up exactly to the INT8 loss (errors of different roundings partly
cancel or compound), but their ranking is what matters.
"""

import numpy as np

from .config import COORD_SCALE
from .quant import weight_max

__all__ = ["ROUNDINGS", "rounding_costs", "simulate"]

#: The datapath's roundings, in the order they happen.
ROUNDINGS = ("coordinates", "weights", "phase", "activations", "output")


def simulate(config, arrays, coords, *, rounded=(), weight_layers=None, batch=32768):
    """The float model's outputs in [0, 1] (``[Q, n*n*C]``, float64) with the roundings
    named in ``rounded`` applied (a subset of :data:`ROUNDINGS`).

    ``arrays`` are the float layers ``[(W, b), ...]`` (a model file's ``fp32``), ``coords``
    the float queries ``[Q, coords]``; ``weight_layers``, with ``"weights"`` rounded, limits
    the weight rounding to those layer indices (default every layer)."""
    unknown = set(rounded) - set(ROUNDINGS)
    if unknown:
        raise ValueError(f"unknown roundings {sorted(unknown)}: choose from {ROUNDINGS}")
    q = config.quant
    layers = []
    for i, (w, b) in enumerate(arrays):
        w = np.asarray(w, dtype=np.float64)
        if "weights" in rounded and (weight_layers is None or i in weight_layers):
            w = _round_rows(w, weight_max(config, i))
        layers.append((w, np.asarray(b, dtype=np.float64)))
    step = 2 * np.pi / (1 << q.phase_bits)
    coords = np.asarray(coords, dtype=np.float64)
    out = []
    for start in range(0, len(coords), batch):
        a = coords[start:start + batch]
        if "coordinates" in rounded:
            a = np.floor(a * COORD_SCALE + 0.5) / COORD_SCALE
        for w, b in layers[:-1]:
            phase = config.omega0 * (a @ w.T + b)
            if "phase" in rounded:
                phase = np.round(phase / step) * step
            a = np.sin(phase)
            if "activations" in rounded:
                a = np.round(a * q.act_max) / q.act_max
        w, b = layers[-1]
        y = (a @ w.T + b + 1.0) / 2.0
        if "output" in rounded:
            y = np.round(y * 255.0) / 255.0
        out.append(np.clip(y, 0.0, 1.0))
    return np.concatenate(out) if out else np.zeros((0, config.out_features))


def _round_rows(w, wmax):
    """``w`` on its per-row grid ``max|w_j| / wmax`` (rows of zeros stay zero)."""
    top = np.abs(w).max(axis=1, keepdims=True)
    scale = np.where(top > 0, top / wmax, 1.0)
    return np.clip(np.round(w / scale), -wmax, wmax) * scale


def _psnr(out, target):
    mse = float(np.mean((out - target) ** 2))
    return float(10 * np.log10(1.0 / max(mse, 1e-20)))


def rounding_costs(config, arrays, coords, target, *, batch=32768):
    """PSNR of the float model against ``target`` (``[Q, n*n*C]`` in [0, 1], the patches
    the queries ``coords`` should give) with no rounding, each rounding alone, each layer's
    weights alone and all roundings together.

    Returns ``{"fp32", "all"}`` (dB), ``"alone"`` (``{rounding: dB}``), ``"weights_by_layer"``
    (a dB figure per layer) and ``"cost"`` (``{rounding: float dB minus that one's}``). The
    PSNR is over every value of ``target`` (one mean squared error, not a mean over frames).
    """
    target = np.asarray(target, dtype=np.float64)

    def psnr(**kw):
        return _psnr(simulate(config, arrays, coords, batch=batch, **kw), target)
    fp32 = psnr()
    alone = {r: psnr(rounded=(r,)) for r in ROUNDINGS}
    by_layer = [psnr(rounded=("weights",), weight_layers=(i,)) for i in range(len(arrays))]
    return {"fp32": fp32, "all": psnr(rounded=ROUNDINGS), "alone": alone,
            "weights_by_layer": by_layer, "cost": {r: fp32 - v for r, v in alone.items()}}
