"""INT8 quantization of a PatchINR and its integer-only golden reference.

The integer datapath (what the accelerator computes, bit for bit)
-----------------------------------------------------------------
Inputs are int16 patch-centre coordinates ``round_half_up(x * 32767)``. Each layer ``l``
computes, for every output neuron ``j``::

    acc_j = b_j + sum_k W_jk * a_k                       # int8 x int8 (l = 0: int12 x int16), int32
    p_j   = (acc_j * m_j + 2**(s_j - 1)) >> s_j          # arithmetic shift: round half up

and then

* sine layers: ``a'_j = LUT[p_j & (2**phase_bits - 1)]``: ``p`` is the phase with 2*pi
  mapped to ``2**phase_bits``, so keeping its low bits wraps it into one period, and
  ``LUT[i] = round(act_max * sin(2*pi*i / 2**phase_bits))`` (int8);
* the output layer: ``pixel_j = clamp(p_j, 0, 255)`` (uint8).

Scales (all folded into the integers above, none needed at run time):

* coordinates: ``1/32767``; sine outputs: ``1/act_max``. The sine's range is exactly
  [-1, 1] in every layer, so this symmetric scale is already the calibrated one;
  :func:`calibrate` measures each layer's accumulator range on the frame's coordinates
  and checks the int32 accumulator and 48-bit product headroom.
* weights: symmetric per output channel, ``s_w = max|W_j| / 127``, ``W_q = round(W/s_w)``;
  the first layer's with ``first_weight_bits`` (12) bits: ``s_w = max|W_j| / 2047``
  (see :class:`model.config.QuantSpec` for why).
* ``acc`` has scale ``s_acc = s_w * s_in``; biases are ``round(b / s_acc)`` (the output
  layer's ``round((b + 1) / s_acc)``, which adds the +1 of the [-1, 1] -> [0, 255] map).
* sine layers: ``m / 2**s ~ omega0 * s_acc * 2**phase_bits / (2*pi)``;
  output layer: ``m / 2**s ~ 127.5 * s_acc``.
* ``m`` is unsigned in ``[2**(mult_bits-2), 2**(mult_bits-1))`` and ``1 <= s <= 47``, so
  ``acc * m`` fits the 48-bit product of a DSP48E2 and is exact in float64.

Rounding: weights, biases and multipliers round half to even when they are made (offline);
the run-time requantization rounds half up (add half, arithmetic shift right).

Two implementations follow these rules: :func:`int_forward` (numpy, integers only: the
golden reference) and :class:`FakeQuantPatchINR` (torch, float64 values that are always
integers, with straight-through gradients for quantization-aware fine-tuning). They are
tested equal bit for bit.
"""

from dataclasses import dataclass

import numpy as np
import torch

from .config import COORD_SCALE, PatchINRConfig
from .network import PatchINR

__all__ = [
    "QuantLayer", "QuantModel", "quantize", "int_forward", "sine_lut", "requant_params",
    "FakeQuantPatchINR", "calibrate", "MAX_SHIFT", "weight_max",
]

#: Largest requantization shift: keeps ``acc * m + 2**(s-1)`` below 2**53 (exact in float64)
#: and the shifter's control to 6 bits.
MAX_SHIFT = 47


@dataclass
class QuantLayer:
    """One layer of the integer datapath. Arrays are numpy, ``N`` outputs, ``K`` inputs."""
    w: np.ndarray       # int8 [N, K] (int16 holding first_weight_bits for layer 0)
    b: np.ndarray       # int32 [N]
    m: np.ndarray       # int32 [N], unsigned multiplier
    s: np.ndarray       # int32 [N], right shift
    kind: str           # "sine" or "out"

    def __post_init__(self):
        n, k = self.w.shape
        for name in ("b", "m", "s"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected ({n},)")
        if self.kind not in ("sine", "out"):
            raise ValueError(f"layer kind must be 'sine' or 'out', not {self.kind!r}")


@dataclass
class QuantModel:
    """Everything the INT8 datapath needs: integer layers and the sine table."""
    config: PatchINRConfig
    layers: list
    lut: np.ndarray     # int8 [2**phase_bits]

    def check(self):
        """Raise ``ValueError`` if shapes or ranges disagree with the configuration."""
        cfg, q = self.config, self.config.quant
        shapes = cfg.layer_shapes
        if len(self.layers) != len(shapes):
            raise ValueError(f"{len(self.layers)} integer layers, configuration has {len(shapes)}")
        for i, (layer, shape) in enumerate(zip(self.layers, shapes)):
            if layer.w.shape != shape:
                raise ValueError(f"integer layer {i} weights have shape {layer.w.shape}, "
                                 f"configuration says {shape}")
            if layer.kind != ("out" if i == len(shapes) - 1 else "sine"):
                raise ValueError(f"integer layer {i} has kind {layer.kind!r}")
            wmax = weight_max(cfg, i)
            if np.abs(layer.w.astype(np.int64)).max(initial=0) > wmax:
                raise ValueError(f"integer layer {i} weights exceed +-{wmax}")
            if (layer.m < 0).any() or (layer.m >= 1 << (q.mult_bits - 1)).any():
                raise ValueError(f"integer layer {i} multipliers exceed {q.mult_bits - 1} bits")
            if (layer.s < 1).any() or (layer.s > MAX_SHIFT).any():
                raise ValueError(f"integer layer {i} shifts outside 1..{MAX_SHIFT}")
        if self.lut.shape != (1 << q.phase_bits,):
            raise ValueError(f"sine table has shape {self.lut.shape}, "
                             f"expected ({1 << q.phase_bits},)")
        return self


def sine_lut(phase_bits, act_max):
    """int8 ``round(act_max * sin(2*pi*i / 2**phase_bits))`` for every phase code ``i``."""
    i = np.arange(1 << phase_bits, dtype=np.float64)
    return np.rint(act_max * np.sin(2 * np.pi * i / (1 << phase_bits))).astype(np.int8)


def requant_params(scale, mult_bits):
    """Integer ``(m, s)`` with ``m / 2**s`` the nearest such fraction to ``scale`` (> 0).

    ``m`` lies in ``[2**(mult_bits-2), 2**(mult_bits-1))``. Raises ``ValueError`` if ``s``
    falls outside ``1..MAX_SHIFT``: the scale is too large or too small for the datapath.
    """
    scale = np.asarray(scale, dtype=np.float64)
    if not (np.isfinite(scale) & (scale > 0)).all():
        raise ValueError("requantization scales must be positive and finite")
    frac, exp = np.frexp(scale)                      # scale = frac * 2**exp, frac in [0.5, 1)
    m = np.rint(np.ldexp(frac, mult_bits - 1)).astype(np.int64)
    s = (mult_bits - 1 - exp).astype(np.int64)
    top = m == (1 << (mult_bits - 1))                 # rounded up into the next binade
    m = np.where(top, m >> 1, m)
    s = np.where(top, s - 1, s)
    if (s < 1).any() or (s > MAX_SHIFT).any():
        raise ValueError(f"requantization scale {scale.min():.3g}..{scale.max():.3g} needs a shift "
                         f"outside 1..{MAX_SHIFT}")
    return m.astype(np.int32), s.astype(np.int32)


def _layer_scales(config):
    """Input scale of every layer: coordinates, then sine outputs."""
    act = 1.0 / config.quant.act_max
    return [1.0 / COORD_SCALE] + [act] * config.layers


def weight_max(config, index):
    """Largest integer weight of layer ``index``: 127, or ``2**(first_weight_bits-1) - 1``."""
    return (1 << (config.quant.first_weight_bits - 1)) - 1 if index == 0 else 127


def _quantize_layer(w, b, s_in, *, kind, config, wmax=127):
    """Quantize one float64 torch layer. Returns torch float64 ``(wq, bq)``, numpy ``(m, s)``
    and the real multiplier ``M`` (for straight-through gradients).

    Shared by :func:`quantize` and :class:`FakeQuantPatchINR` so both make the same integers.
    """
    q = config.quant
    w_absmax = w.detach().abs().amax(dim=1)
    s_w = torch.where(w_absmax > 0, w_absmax / float(wmax), torch.ones_like(w_absmax))
    s_acc = s_w * s_in
    wq = _ste_round(w / s_w[:, None]).clamp(-wmax, wmax)
    if kind == "sine":
        bq = _ste_round(b / s_acc)
        M = s_acc * (config.omega0 * (1 << q.phase_bits) / (2 * np.pi))
    else:
        bq = _ste_round((b + 1.0) / s_acc)
        M = s_acc * 127.5
    m, s = requant_params(M.detach().cpu().numpy(), q.mult_bits)
    return wq, bq, m, s, M


class _STE(torch.autograd.Function):
    """Forward the exact (hard) value, backward the gradient of a smooth surrogate."""

    @staticmethod
    def forward(ctx, hard, soft):
        return hard

    @staticmethod
    def backward(ctx, grad):
        return None, grad


def _ste_round(x):
    return _STE.apply(torch.round(x.detach()), x)


def _int_matmul(a, wq, index):
    """``a @ wq.T`` of integer-valued tensors, exactly. Past the first layer every term is
    int8 x int8, so sums of up to 1040 terms stay below 2**24 and float32 (twice as fast
    as float64 here, which quantization-aware fine-tuning feels) is exact."""
    if index > 0 and wq.shape[1] * 127 * 127 < 2 ** 24:
        return (a.float() @ wq.float().T).double()
    return a @ wq.T


def _requant(acc, m, s):
    """``(acc * m + 2**(s-1)) >> s`` on float64 integer tensors, exactly."""
    m = torch.as_tensor(m, dtype=torch.float64, device=acc.device)
    p2 = torch.as_tensor(np.ldexp(1.0, s), dtype=torch.float64, device=acc.device)
    return torch.floor((acc * m + p2 / 2) / p2)


class FakeQuantPatchINR(torch.nn.Module):
    """The INT8 datapath simulated in torch, sharing the float model's parameters.

    ``forward(coords_q)`` takes int16 quantized coordinates ``[Q, coords]`` and returns the
    integer datapath's uint8 pixels ``[Q, n*n*C]`` exactly, as a float64 tensor. Its
    gradients are straight-through (each rounding, table lookup and clamp passes the
    gradient of its smooth counterpart), so the float weights can be fine-tuned through
    quantization.
    """

    def __init__(self, model: PatchINR):
        super().__init__()
        self.model = model
        self.config = model.config
        q = self.config.quant
        self.register_buffer("lut", torch.as_tensor(sine_lut(q.phase_bits, q.act_max),
                                                    dtype=torch.float64), persistent=False)

    def forward(self, coords_q):
        cfg = self.config
        q = cfg.quant
        period = float(1 << q.phase_bits)
        a = torch.as_tensor(coords_q).to(self.lut.device, torch.float64)
        layers = self.model.linears()
        for i, (lin, s_in) in enumerate(zip(layers, _layer_scales(cfg))):
            kind = "out" if i == len(layers) - 1 else "sine"
            wq, bq, m, s, M = _quantize_layer(lin.weight.double(), lin.bias.double(), s_in,
                                              kind=kind, config=cfg, wmax=weight_max(cfg, i))
            acc = _int_matmul(a, wq, i) + bq
            p_hard = _requant(acc.detach(), m, s)
            p = _STE.apply(p_hard, acc * M)
            if kind == "sine":
                idx = torch.remainder(p_hard, period).long()
                soft = q.act_max * torch.sin(p * (2 * np.pi / period))
                a = _STE.apply(self.lut[idx], soft)
            else:
                return _STE.apply(p_hard.clamp(0, 255), p.clamp(0, 255))

    def export(self):
        """The :class:`QuantModel` whose :func:`int_forward` equals this module's output."""
        cfg = self.config
        out = []
        layers = self.model.linears()
        with torch.no_grad():
            for i, (lin, s_in) in enumerate(zip(layers, _layer_scales(cfg))):
                kind = "out" if i == len(layers) - 1 else "sine"
                wq, bq, m, s, _ = _quantize_layer(lin.weight.double(), lin.bias.double(), s_in,
                                                  kind=kind, config=cfg, wmax=weight_max(cfg, i))
                if bq.abs().max() >= 2 ** 31:
                    raise ValueError(f"layer {i} bias does not fit int32 at this weight scale")
                out.append(QuantLayer(w=wq.cpu().numpy().astype(np.int16 if i == 0 else np.int8),
                                      b=bq.cpu().numpy().astype(np.int32),
                                      m=m, s=s, kind=kind))
        return QuantModel(config=cfg, layers=out,
                          lut=self.lut.cpu().numpy().astype(np.int8)).check()


def quantize(model: PatchINR) -> QuantModel:
    """Post-training quantization of a float PatchINR to the integer datapath."""
    return FakeQuantPatchINR(model).export()


def _exact_matmul(a, w):
    """``a @ w.T`` of int64 ``a`` and integer ``w``, exactly, as int64.

    numpy has no BLAS for integers (its int64 matmul is ~50x slower than float64's), so the
    product runs in float64 whenever every partial sum is provably below 2**53, where
    float64 represents integers exactly; otherwise in int64.
    """
    w = w.astype(np.int64)
    bound = (int(np.abs(a).max(initial=0)) * int(np.abs(w).max(initial=0)) * w.shape[1])
    if bound < 2 ** 53:
        return (a.astype(np.float64) @ w.T.astype(np.float64)).astype(np.int64)
    return a @ w.T


def int_forward(qm: QuantModel, coords_q, *, trace=None):
    """Golden integer reference: int16 coordinates ``[Q, coords]`` (``(x, y)`` or
    ``(x, y, t)``) to uint8 ``[Q, n*n*C]``.

    Integers only (numpy int64). ``trace``, if a list, receives every layer's ``acc``.
    """
    mask = (1 << qm.config.quant.phase_bits) - 1
    a = np.asarray(coords_q, dtype=np.int64)
    k = qm.config.in_features
    if a.ndim != 2 or a.shape[1] != k:
        raise ValueError(f"coordinates must have shape [Q, {k}], not {a.shape}")
    lut = qm.lut.astype(np.int64)
    for layer in qm.layers:
        acc = _exact_matmul(a, layer.w) + layer.b.astype(np.int64)
        if trace is not None:
            trace.append(acc)
        s = layer.s.astype(np.int64)
        p = (acc * layer.m.astype(np.int64) + (np.int64(1) << (s - 1))) >> s
        if layer.kind == "sine":
            a = lut[p & mask]
        else:
            return np.clip(p, 0, 255).astype(np.uint8)
    raise ValueError("integer model has no output layer")


def _signed_bits(x):
    """Two's-complement bits that hold every value of ``x``: -2**31 fits 32 bits, 2**31 does not."""
    lo, hi = int(np.min(x, initial=0)), int(np.max(x, initial=0))
    return max(hi.bit_length(), (-lo - 1).bit_length()) + 1


def calibrate(qm: QuantModel, coords_q):
    """Per-layer ranges of the integer datapath over a frame's coordinates.

    Returns a list of dicts with ``acc_max`` (largest ``|acc|``), ``acc_bits`` (signed bits it
    needs), ``product_bits`` (signed bits of ``acc * m``) and ``act_max`` (largest ``|output
    activation|`` for sine layers). Raises ``ValueError`` when a bound exceeds the datapath:
    int32 accumulators and 48-bit products.
    """
    trace = []
    int_forward(qm, coords_q, trace=trace)
    stats = []
    lut = qm.lut.astype(np.int64)
    mask = (1 << qm.config.quant.phase_bits) - 1
    for i, (layer, acc) in enumerate(zip(qm.layers, trace)):
        acc_max = int(np.abs(acc).max(initial=0))
        entry = {"layer": i, "acc_max": acc_max, "acc_bits": _signed_bits(acc),
                 "product_bits": _signed_bits(acc * layer.m.astype(np.int64))}
        if layer.kind == "sine":
            s = layer.s.astype(np.int64)
            p = (acc * layer.m.astype(np.int64) + (np.int64(1) << (s - 1))) >> s
            entry["act_max"] = int(np.abs(lut[p & mask]).max(initial=0))
        if entry["acc_bits"] > 32:
            raise ValueError(f"layer {i} accumulator needs {entry['acc_bits']} bits (int32)")
        if entry["product_bits"] > 48:
            raise ValueError(f"layer {i} requantization product needs "
                             f"{entry['product_bits']} bits (48)")
        stats.append(entry)
    return stats
