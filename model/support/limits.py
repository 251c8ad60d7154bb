"""What the machine and the formats can hold, checked before any work starts.

Every limit a command checks up front is here, with the reason it exists, so the message
a user gets can state it.
"""

import os

from .errors import UserError

__all__ = ["SEED_MAX", "MAX_SIDE", "MAX_IMAGE_PIXELS", "LR_MAX", "OMEGA0_MAX",
           "QAT_CONSISTENCY_MAX", "memory_bytes", "check_memory", "training_bytes"]

#: Seeds are 32-bit (numpy's and torch's generators both take them).
SEED_MAX = 2 ** 32 - 1

#: Largest image or frame side: coordinates are int16 (``round(x * 32767)``), so no grid
#: finer than 32767 patch centres per axis can be told apart.
MAX_SIDE = 32767

#: Largest image file decoded (pixels): beyond it decoding and resizing alone take minutes
#: on a small machine, and Pillow treats far larger ones as decompression bombs.
MAX_IMAGE_PIXELS = 40_000_000

#: Largest peak learning rate: Adam steps of more than 1 in weights that start at 1e-2
#: are no training.
LR_MAX = 1.0

#: Largest sine frequency: the FP32 datapath folds ``omega0`` into the weights, and phases
#: beyond ~1e4 rad per unit lose every fraction bit of float32.
OMEGA0_MAX = 1e4

#: Largest weight of the FP32/INT8 disagreement in the quantization-aware loss: beyond it
#: the loss overflows float32.
QAT_CONSISTENCY_MAX = 1e6


def memory_bytes():
    """Physical memory of this machine, in bytes (``None`` where it cannot be read)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def training_bytes(config, queries):
    """A generous estimate of the memory a full-batch training step of ``config`` on
    ``queries`` patch centres takes: the activations autograd keeps (pre-activation and
    sine of every layer, and their gradients) and the parameters with their gradients and
    Adam's two moments, plus the best state kept aside."""
    activations = 16 * queries * config.hidden * (config.layers + 1)
    return activations + 24 * config.params


def check_memory(what, need, *, available=None, fraction=0.8):
    """Raise :class:`UserError` when ``need`` bytes exceed ``fraction`` of ``available``
    (default: this machine's memory)."""
    available = memory_bytes() if available is None else available
    if available is not None and need > fraction * available:
        raise UserError(f"{what} needs about {need / 2**30:,.1f} GiB, more than "
                        f"{fraction:.0%} of this machine's {available / 2**30:,.1f} GiB "
                        f"(use a smaller size, width or depth)")
