"""Vendor primitives that the core instantiates where synthesis would not build as well.

Every block of the core is written for Amaranth's simulator, its multipliers as ``*``. On
the XCVU9P that is all synthesis needs: ``synth_xilinx`` (and Vivado) pull the registers
around a product into the DSP48E2. ``synth_ecp5`` does not: it maps a product to a
MULT18X18D with every register of the slice off, so the path from a fabric register
through the multiplier to the next fabric register is one long route in, the multiplier,
and one long route out (14.8 ns on the ULX3S 85F, the whole core's limit). The MULT18X18D
has input and output registers of its own; using them needs the primitive itself. Its
block RAMs likewise: ``synth_ecp5`` maps a memory to DP16KDs with their output register
off (``REGMODE`` ``NOREG``), so a read register beside an EBR still starts its path with
the EBR's 5.6 ns clock-to-output; :func:`registered_read` instantiates the DP16KD with its
own output register.

When the core is exported for a device (:func:`accel.flows.export.elaborate_core`), it is
elaborated with the device's :class:`Cells` as its platform, and a block that has a
primitive for that device instantiates it; under the simulator (no platform) every block
is its behavioural self. The Verilog of an exported core then holds the primitives, and
Verilator (:mod:`accel.flows.verilator`, and its lint) reads the models of
:data:`SIM_MODELS` beside it, which :func:`sim_models` names for any other simulator: what
they check is the core with its primitives as those models describe them.
"""

import os
import re

from amaranth import Cat, ClockSignal, Const, Instance, Signal
from amaranth.lib import memory

__all__ = ["Cells", "EBR_MODES", "SIM_MODELS", "cells_for", "ebr_mode", "platform_cells",
           "registered_product", "registered_read", "sim_models"]

#: Simulation models of the primitives, by cell name (Verilog files beside this module).
SIM_MODELS = {"MULT18X18D": "mult18x18d.v", "DP16KD": "dp16kd.v"}

#: The DP16KD configurations :func:`registered_read` uses, as (words, bits): the widths
#: whose initial contents have one layout in ``INITVAL`` that the model and Yosys's own
#: mapping agree on (an 18-bit row holds one 18-bit word, or two 9-bit words, low first).
EBR_MODES = ((2048, 9), (1024, 18))


class Cells:
    """The primitives of one device family, passed to ``elaborate`` as the platform.

    Parameters
    ----------
    family : str
        The device family (``"ecp5"``, ``"xcup"``: :data:`accel.device.DEVICES`).
    """

    def __init__(self, family):
        self.family = family

    @property
    def mult18x18d(self):
        """Multipliers are ECP5 MULT18X18Ds with their input and output registers."""
        return self.family == "ecp5"

    @property
    def dp16kd(self):
        """Registered reads are ECP5 DP16KDs with their output register."""
        return self.family == "ecp5"

    def __repr__(self):
        return f"Cells({self.family!r})"


def cells_for(config):
    """The :class:`Cells` an :class:`~accel.config.AccelConfig`'s exported core uses, or
    ``None`` where it needs none (the XCVU9P: its netlist is the behavioural one)."""
    family = config.device_family
    return Cells(family) if family == "ecp5" else None


def platform_cells(platform):
    """``platform`` if it is a :class:`Cells`, else ``None`` (the simulator, a board)."""
    return platform if isinstance(platform, Cells) else None


def registered_product(m, a, b, *, name="mult"):
    """``a * b`` two cycles after ``a`` and ``b``, as an ECP5 MULT18X18D (submodule
    ``name`` of ``m``) with its input A, input B and output registers in use: the same
    cycles as a fabric register on each operand and one on the product, with the slice's
    own registers at both ends of the multiplier.

    Each operand is read with its own signedness (an unsigned one is zero-extended) and
    must fit the multiplier's 18 bits as a signed number. Every register is always
    enabled, on CE0: the four multipliers of an ECP5 DSP block share four CE nets, so an
    enable of each product's own would leave most of a block unusable. Returns the signed
    36-bit product (a ``Signal``).
    """
    operands = {}
    for port, value in (("A", a), ("B", b)):
        signed = value.shape().signed
        if len(value) + (0 if signed else 1) > 18:
            raise ValueError(f"a {len(value)}-bit {'signed' if signed else 'unsigned'} "
                             f"operand does not fit the MULT18X18D's 18 bits")
        for i in range(18):
            operands[f"i_{port}{i}"] = (value[i] if i < len(value) else
                                        value[-1] if signed else Const(0))
    product = Signal(36, name=f"{name}_p")
    m.submodules[name] = Instance(
        "MULT18X18D",
        p_REG_INPUTA_CLK="CLK0", p_REG_INPUTB_CLK="CLK0", p_REG_OUTPUT_CLK="CLK0",
        p_REG_INPUTC_CLK="NONE", p_REG_PIPELINE_CLK="NONE",
        p_GSR="DISABLED", p_RESETMODE="SYNC",
        **operands, i_SIGNEDA=Const(1), i_SIGNEDB=Const(1),
        i_CLK0=ClockSignal("sync"), i_CE0=Const(1), i_RST0=Const(0),
        **{f"o_P{i}": product[i] for i in range(36)},
    )
    return product.as_signed()


class _Read:
    """The ports of :func:`registered_read`'s memory."""

    def __init__(self, width, addr_bits, name):
        self.w_en = Signal(name=f"{name}_w_en")
        self.w_addr = Signal(addr_bits, name=f"{name}_w_addr")
        self.w_data = Signal(width, name=f"{name}_w_data")
        self.r_addr = Signal(addr_bits, name=f"{name}_r_addr")
        self.r_data = Signal(width, name=f"{name}_r_data")


def ebr_mode(width, depth):
    """The DP16KD configuration ``(words, bits)`` of :data:`EBR_MODES` that holds ``depth``
    words of ``width`` bits in the fewest EBRs side by side (the narrower on a tie), or
    ``None`` when no configuration is deep enough."""
    modes = [(-(-width // bits), bits, words) for words, bits in EBR_MODES if words >= depth]
    if not modes:
        return None
    _, bits, words = min(modes)
    return words, bits


def registered_read(m, name, *, width, depth, init=(), cells=None):
    """A memory of ``depth`` words of ``width`` bits (one write port, one read port, not
    transparent) whose read data is registered twice: ``r_data`` holds the word two cycles
    after ``r_addr``. Returns its ports (``w_en``, ``w_addr``, ``w_data``, ``r_addr``,
    ``r_data``, signals to drive and read).

    With ``cells`` that have the DP16KD (an ECP5's exported core) the memory is DP16KDs
    side by side (:func:`ebr_mode`), port A writing and port B reading with its output
    register on (``REGMODE_B`` ``OUTREG``), so the second register is the EBR's own and the
    path after it starts at the register's clock-to-output, not the array's; otherwise (the
    simulator, the XCVU9P) a ``lib.memory.Memory`` and a register after its read port,
    cycle for cycle the same.
    """
    addr_bits = max(1, (depth - 1).bit_length())
    ports = _Read(width, addr_bits, name)
    init = list(init)
    mode = ebr_mode(width, depth) if cells is not None and cells.dp16kd else None
    if mode is None:
        mem = memory.Memory(shape=width, depth=depth, init=init)
        m.submodules[name] = mem
        wp, rp = mem.write_port(), mem.read_port()
        q = Signal(width, name=f"{name}_q", reset_less=True)
        m.d.comb += [wp.en.eq(ports.w_en), wp.addr.eq(ports.w_addr),
                     wp.data.eq(ports.w_data), rp.addr.eq(ports.r_addr)]
        m.d.sync += q.eq(rp.data)
        m.d.comb += ports.r_data.eq(q)
        return ports
    words, bits = mode
    shift = {9: 3, 18: 4}[bits]
    mask = (1 << bits) - 1

    def address(port, addr):
        # ADx[13:shift] the word; at 18 bits ADx[1:0] are the byte enables (both on).
        pins = {f"i_AD{port}{i}": Const(1 if bits == 18 and i < 2 else 0)
                for i in range(shift)}
        pins.update({f"i_AD{port}{shift + i}": (addr[i] if i < len(addr) else Const(0))
                     for i in range(14 - shift)})
        return pins

    slices = -(-width // bits)
    out = []
    for s in range(slices):
        lo = s * bits
        n = min(bits, width - lo)
        do = Signal(18, name=f"{name}_do{s}")
        unused = Signal(18, name=f"{name}_doa{s}")      # port A only writes
        rows = [0] * 1024
        for k, word in enumerate(init):
            piece = (word >> lo) & mask
            if bits == 18:
                rows[k] |= piece
            else:
                rows[k >> 1] |= piece << (9 * (k & 1))
        params = {f"p_INITVAL_{i:02X}": Const(sum(rows[16 * i + j] << (20 * j)
                                                   for j in range(16)), 320)
                  for i in range(64)}
        m.submodules[f"{name}_ebr{s}"] = Instance(
            "DP16KD",
            p_DATA_WIDTH_A=bits, p_DATA_WIDTH_B=bits,
            p_REGMODE_A="NOREG", p_REGMODE_B="OUTREG",
            p_RESETMODE="SYNC", p_ASYNC_RESET_RELEASE="SYNC",
            p_CSDECODE_A="0b000", p_CSDECODE_B="0b000",
            p_WRITEMODE_A="NORMAL", p_WRITEMODE_B="NORMAL", p_GSR="DISABLED",
            **params,
            i_CLKA=ClockSignal("sync"), i_CEA=Const(1), i_OCEA=Const(1),
            i_WEA=ports.w_en, i_RSTA=Const(0),
            **{f"i_CSA{i}": Const(0) for i in range(3)},
            **address("A", ports.w_addr),
            **{f"i_DIA{i}": (ports.w_data[lo + i] if i < n else Const(0)) for i in range(18)},
            i_CLKB=ClockSignal("sync"), i_CEB=Const(1), i_OCEB=Const(1),
            i_WEB=Const(0), i_RSTB=Const(0),
            **{f"i_CSB{i}": Const(0) for i in range(3)},
            **address("B", ports.r_addr),
            **{f"i_DIB{i}": Const(0) for i in range(18)},
            **{f"o_DOB{i}": do[i] for i in range(18)},
            **{f"o_DOA{i}": unused[i] for i in range(18)},
        )
        out.append(do[:n])
    m.d.comb += ports.r_data.eq(Cat(*out))
    return ports


def sim_models(verilog):
    """``{file name: Verilog text}`` of the models the primitives in ``verilog`` need."""
    out = {}
    here = os.path.dirname(__file__)
    for cell, name in SIM_MODELS.items():
        if re.search(rf"^\s*{cell}\b", verilog, re.M):
            with open(os.path.join(here, name)) as f:
                out[name] = f.read()
    return out
