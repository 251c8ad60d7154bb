"""Small model files for accelerator tests: random weights, quantized like trained ones."""

import numpy as np
import torch

from model.config import PatchINRConfig
from model.export import ModelFile
from model.network import PatchINR
from model.quant import quantize


def random_model(*, patch=2, channels=1, hidden=8, layers=2, seed=0, phase_bits=10):
    """A :class:`ModelFile` with SIREN-initialised random weights (no training)."""
    torch.manual_seed(seed)
    cfg = PatchINRConfig(patch=patch, channels=channels, hidden=hidden, layers=layers,
                         quant={"phase_bits": phase_bits})
    net = PatchINR(cfg)
    with torch.no_grad():
        # Spread the head's outputs over the pixel range so clamps and all codes occur.
        net.head.weight.mul_(40.0)
    return ModelFile(config=cfg, fp32=net.state_arrays(), quant=quantize(net))
