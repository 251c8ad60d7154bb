"""Tool flows around the gateware: export, simulation, synthesis, checks and builds.

:mod:`~.export` (Verilog with Xilinx port names), :mod:`~.simulation` and
:mod:`~.testbench` (Amaranth's simulator), :mod:`~.verilator` (C++ co-simulation of the
exported Verilog) and :mod:`~.lint`, :mod:`~.synth` (Yosys resource estimates),
:mod:`~.frame` (one frame through the RTL against its reference), :mod:`~.fp32_check`
(the FP32 units against :mod:`model.fp32ref`), :mod:`~.build` (the board build in stages)
and :mod:`~.bench` (the benchmark sweep).
"""
