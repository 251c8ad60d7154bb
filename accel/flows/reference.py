"""What the RTL must produce, bit for bit, and what the torch models render beside it.

INT8: the integer reference (:func:`model.quant.int_forward`), equal to the fake-quantized
torch model; FP32: the float32 reference of the hardware's operation order
(:func:`model.fp32ref.fp32_forward`). :mod:`accel.flows.frame` compares every simulated
pixel with these.
"""

import numpy as np

__all__ = ["reference_frame", "reference_queries", "torch_frames"]


def reference_frame(model_file, config, width, height, precision):
    """The frame the RTL must produce, bit for bit, as uint8 ``[H, W, C]``."""
    from model.data import patch_centres_q, patch_grid, unpatchify
    cfg = model_file.config
    pw, ph = patch_grid(width, height, cfg.patch)
    coords = patch_centres_q(pw, ph)
    if precision == "int8":
        from model.quant import int_forward
        pix = int_forward(model_file.quant, coords)
    else:
        from model.fp32ref import fold_weights, fp32_forward
        pix = fp32_forward(fold_weights(model_file.fp32, cfg.omega0), coords, k_pad=config.rows)
    return unpatchify(pix, width, height, cfg.patch, cfg.channels)


def torch_frames(model_file, width, height):
    """``(fake_quant_uint8, fp32_float)`` frames of the torch models."""
    import torch

    from model.data import patch_centres_q, patch_grid, unpatchify
    from model.evaluate import render_fp32
    from model.quant import FakeQuantPatchINR
    cfg = model_file.config
    net = model_file.torch_model()
    pw, ph = patch_grid(width, height, cfg.patch)
    with torch.no_grad():
        fq = FakeQuantPatchINR(net)(torch.as_tensor(patch_centres_q(pw, ph).astype(np.int64)))
    fq = unpatchify(fq.numpy().astype(np.uint8), width, height, cfg.patch, cfg.channels)
    return fq, render_fp32(net, width, height)


def reference_queries(model_file, config, queries, precision):
    """The patches the RTL must answer for int16 ``queries`` ``[Q, coords]``:
    uint8 ``[Q, n*n*C]``."""
    if precision == "int8":
        from model.quant import int_forward
        return int_forward(model_file.quant, queries)
    from model.fp32ref import fold_weights, fp32_forward
    return fp32_forward(fold_weights(model_file.fp32, model_file.config.omega0), queries,
                        k_pad=config.rows)
