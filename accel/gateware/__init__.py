"""The accelerator's blocks, one per module, each a :class:`amaranth.lib.wiring.Component`.

From the array outwards: :mod:`~.int8` (the INT8 array laid out for the DSP48E2: wide
PEs, packed pairs, LUT PEs, column groups), :mod:`~.pe` and :mod:`~.mac_array` (the
generic weight-stationary array of the FP32 and dual builds), :mod:`~.weight_buffer` and :mod:`~.weight_loader` (on-chip weights and the
stream that loads them), :mod:`~.postproc` (bias, requantization, activation per column),
:mod:`~.datapath` (array, buffers and lanes joined along one issue record),
:mod:`~.sequencer` (the tile schedule), :mod:`~.coord_gen`, :mod:`~.divider` and
:mod:`~.batcher` (patch-centre queries), :mod:`~.scatter` (patch results to raster pixels)
:mod:`~.csr` (the AXI4-Lite register block of :mod:`accel.host.registers`),
:mod:`~.axi` (the AXI4-Lite and AXI4-Stream signatures) and :mod:`~.core` (all of them
behind the host interface).
"""
