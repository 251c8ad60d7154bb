"""Small model files for accelerator tests: :func:`model.synthetic.random_model`."""

from model.synthetic import random_model

__all__ = ["random_model"]
