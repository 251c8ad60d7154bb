"""Tool flows around the gateware: export, simulation, synthesis, checks, builds, sweeps.

Export and tools: :mod:`~.export` (Verilog with Xilinx port names), :mod:`~.toolchain`
(which Yosys and Verilator run), :mod:`~.lint` (Verilator lint and its waivers),
:mod:`~.synth` (Yosys resource estimates) and :mod:`~.netlist` (timing evidence from
Yosys's netlist).

Simulation: :mod:`~.simulation` (the core in Amaranth's simulator as a transport) and
:mod:`~.testbench` (the AXI handshakes of its testbenches), :mod:`~.verilator` (the
exported Verilog in Verilator as a transport), :mod:`~.frame` (a simulation job, the one
path for both backends), :mod:`~.jobs` (frames, clips and upscales), :mod:`~.reference`
(what the RTL must produce) and :mod:`~.fp32_check` (the FP32 units against
:mod:`model.fp32ref`).

Builds and sweeps: :mod:`~.build` (the board build in stages, a build as a value),
:mod:`~.bench` and :mod:`~.video_bench` (the benchmark sweeps).
"""
