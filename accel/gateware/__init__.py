"""The accelerator's blocks, one per module, each a :class:`amaranth.lib.wiring.Component`.

From the array outwards: :mod:`~.pe` and :mod:`~.mac_array` (the weight-stationary
systolic array), :mod:`~.weight_buffer` and :mod:`~.weight_loader` (on-chip weights and the
stream that loads them), :mod:`~.postproc` (bias, requantization, activation per column),
:mod:`~.datapath` (array, buffers and lanes joined along one issue record),
:mod:`~.sequencer` (the tile schedule), :mod:`~.coord_gen`, :mod:`~.divider` and
:mod:`~.batcher` (patch-centre queries), :mod:`~.scatter` (patch results to raster pixels)
and :mod:`~.core` (all of them behind the host interface).
"""
