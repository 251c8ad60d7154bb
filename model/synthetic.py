"""Small model files with random weights, quantized like trained ones: what the RTL tests
and the soak (:mod:`accel.flows.soak`) drive the core with when the weights do not matter,
only that every pixel matches its reference."""

import numpy as np
import torch

from .config import COORD_SCALE, PatchINRConfig
from .export import ModelFile
from .network import PatchINR
from .quant import quantize, weight_max

__all__ = ["random_model"]

INT32_MAX = 2 ** 31 - 1


def _input_max(cfg, index):
    """Largest |input| of layer ``index``: an int16 coordinate, or a sine activation."""
    return COORD_SCALE if index == 0 else cfg.quant.act_max


def _overflowing_rows(net, cfg):
    """``{layer: rows}`` whose int32 accumulator could overflow for some input.

    The datapath keeps 32-bit partial sums (the INT8 multiply-accumulate); a trained model
    is checked by :func:`model.quant.calibrate`. The bound here covers every input, so it
    also holds for arbitrary query coordinates: ``|b_q| + K * w_max * max|input|``, with
    the bias quantized as :mod:`model.quant` does (``b / (s_w * s_in)``, ``s_w`` the row's
    largest weight over ``w_max``), and a margin for rounding.
    """
    bad = {}
    for i, lin in enumerate(net.linears()):
        w = lin.weight.detach().double()
        b = lin.bias.detach().double()
        wmax, amax = weight_max(cfg, i), _input_max(cfg, i)
        absmax = w.abs().amax(dim=1)
        s_w = torch.where(absmax > 0, absmax / wmax, torch.ones_like(absmax))
        bq = b.abs() / (s_w / amax)
        bound = bq + w.shape[1] * wmax * amax
        rows = torch.nonzero(bound > INT32_MAX - 2 ** 20).flatten()
        if len(rows):
            bad[i] = rows
    return bad


def _check_fits(qm):
    for i, layer in enumerate(qm.layers):
        amax = _input_max(qm.config, i)
        bound = np.abs(layer.b.astype(np.int64)) + np.abs(layer.w.astype(np.int64)).sum(1) * amax
        if not (bound <= INT32_MAX).all():
            raise ValueError(f"layer {i} can overflow int32")


def random_model(*, patch=2, channels=1, hidden=8, layers=2, seed=0, phase_bits=10, coords=2):
    """A :class:`ModelFile` with SIREN-initialised random weights (no training) that fits
    the INT8 datapath's int32 accumulators for every input (``coords=3``: a video model).

    A random first-layer neuron whose weights are both near zero gets a tiny weight scale,
    and its bias, quantized at that scale, can exceed int32 (seed 463 at hidden 4 does; so
    far that :func:`model.quant.quantize` refuses it at seed 564): the integer reference,
    in int64, then disagrees with the 32-bit hardware. Such a model would fail
    :func:`model.quant.calibrate`, which training runs; here the offending biases are
    halved until the model fits (models that fit are left as drawn).
    """
    torch.manual_seed(seed)
    cfg = PatchINRConfig(patch=patch, channels=channels, hidden=hidden, layers=layers,
                         coords=coords, quant={"phase_bits": phase_bits})
    net = PatchINR(cfg)
    with torch.no_grad():
        # Spread the head's outputs over the pixel range so clamps and all codes occur.
        net.head.weight.mul_(40.0)
    for _ in range(64):
        bad = _overflowing_rows(net, cfg)
        if not bad:
            break
        with torch.no_grad():
            for i, rows in bad.items():
                net.linears()[i].bias[rows] *= 0.5
    quant = quantize(net)
    _check_fits(quant)
    return ModelFile(config=cfg, fp32=net.state_arrays(), quant=quant)
