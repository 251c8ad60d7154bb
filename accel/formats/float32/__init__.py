"""IEEE-754 binary32 units, each bit-exact against :mod:`model.fp32ref`.

:mod:`~.bits` (field layout, classification, normalisation and rounding shared by the
units), :mod:`~.add`, :mod:`~.mul`, :mod:`~.sine`, :mod:`~.to_pixel`, :mod:`~.from_int` and
:mod:`~.post` (the FP32 post-processing of one lane: sine or pixel).
"""
