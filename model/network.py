"""The PatchINR network in PyTorch: SIREN sine layers and a patch-sized linear head."""

import math

import numpy as np
import torch
from torch import nn

from .config import PatchINRConfig

__all__ = ["PatchINR", "SineLayer"]


class SineLayer(nn.Module):
    """``sin(omega0 * (W x + b))`` with SIREN initialisation.

    The first layer draws weights from U(-1/in, 1/in), later ones from
    U(-sqrt(6/in)/omega0, sqrt(6/in)/omega0) (Sitzmann et al. 2020), which keeps the
    pre-activations' distribution stable through depth.
    """

    def __init__(self, in_features, out_features, *, omega0, first):
        super().__init__()
        self.omega0 = float(omega0)
        self.linear = nn.Linear(in_features, out_features)
        bound = 1.0 / in_features if first else math.sqrt(6.0 / in_features) / self.omega0
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)

    def forward(self, x):
        return torch.sin(self.omega0 * self.linear(x))


class PatchINR(nn.Module):
    """Patch-centre coordinate ``[.., coords]`` in [-1, 1] (``(x, y)``, or ``(x, y, t)`` for
    video) to the patch's ``n*n*C`` values.

    Output values are in the image's [-1, 1] range, ordered (dy, dx, channel).
    """

    def __init__(self, config: PatchINRConfig):
        super().__init__()
        if not isinstance(config, PatchINRConfig):
            raise TypeError(f"config must be a PatchINRConfig, not {config!r}")
        self.config = config
        shapes = config.layer_shapes
        self.sines = nn.ModuleList(
            SineLayer(i, o, omega0=config.omega0, first=(idx == 0))
            for idx, (o, i) in enumerate(shapes[:-1]))
        o, i = shapes[-1]
        self.head = nn.Linear(i, o)
        bound = math.sqrt(6.0 / i) / config.omega0
        with torch.no_grad():
            self.head.weight.uniform_(-bound, bound)

    def forward(self, coords):
        x = coords
        for layer in self.sines:
            x = layer(x)
        return self.head(x)

    def linears(self):
        """The linear maps, first to last (sine layers, then the head)."""
        return [s.linear for s in self.sines] + [self.head]

    def state_arrays(self):
        """float32 ``[(W, b), ...]`` of every layer as numpy arrays."""
        return [(l.weight.detach().cpu().numpy().astype(np.float32),
                 l.bias.detach().cpu().numpy().astype(np.float32)) for l in self.linears()]

    def load_arrays(self, arrays):
        """Set weights and biases from :meth:`state_arrays`-shaped arrays."""
        layers = self.linears()
        if len(arrays) != len(layers):
            raise ValueError(f"expected {len(layers)} layers, not {len(arrays)}")
        with torch.no_grad():
            for l, (w, b) in zip(layers, arrays):
                l.weight.copy_(torch.as_tensor(np.asarray(w, dtype=np.float32)))
                l.bias.copy_(torch.as_tensor(np.asarray(b, dtype=np.float32)))
        return self

    @torch.no_grad()
    def render(self, coords, *, batch=65536):
        """Evaluate float coordinates ``[Q, coords]`` to a float32 numpy array ``[Q, n*n*C]``."""
        dev = next(self.parameters()).device
        coords = torch.as_tensor(np.asarray(coords, dtype=np.float32))
        out = [self(coords[i:i + batch].to(dev)).cpu() for i in range(0, len(coords), batch)]
        return torch.cat(out).numpy()
