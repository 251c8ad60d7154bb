"""Export the accelerator core as a Verilog module that drops into a Vivado block design.

The exported module is ``patchinr_core``. Its ports follow the AMBA/Xilinx naming
conventions, so Vivado's IP packager and block-design module references infer the bus
interfaces from the names alone:

=================================  =====  ==============================================
port                               dir    meaning
=================================  =====  ==============================================
``aclk``                           in     the fabric clock (200 MHz on the VCU118)
``aclk2x``                         in     builds with ``dsp_clock = 2``: the INT8 array's
                                          DSP48E2 clock, twice ``aclk``, synchronous and
                                          rising with each ``aclk`` edge
``aresetn``                        in     active-low reset, synchronous to ``aclk`` (AXI)
``s_axil_{aw,w,b,ar,r}*``          -      AXI4-Lite subordinate, 12-bit byte addresses
``s_axis_wgt_t{data,valid,...}``   -      weight-stream sink (:mod:`accel.gateware.weight_loader`)
``s_axis_coord_t{data,valid,..}``  -      query-coordinate sink (query mode)
``m_axis_pix_t{data,user,...}``    -      pixel source, ``8 * channels * pixels_per_beat``
                                          bits, ``tuser`` marks start of frame
``start``                          in     job start pulse (as CTRL.START)
``busy``, ``done``, ``error``      out    STATUS bits, for LEDs or interrupts
=================================  =====  ==============================================

The bus ports also carry ``X_INTERFACE_INFO`` attributes, and the clock and reset their
``X_INTERFACE_PARAMETER`` (the buses ``aclk`` clocks, the reset's polarity), which state
the same interfaces explicitly. Amaranth emits signal attributes as Verilog attributes; by
design it also copies them onto the other names of the same net inside the top module
(the core's own port wires such as ``m_axis_pix__tdata``, the domain's ``clk``). Vivado
reads interface attributes on ports only, so those copies are inert.

:func:`export_core` is the entry point; :func:`elaborate_core` and :func:`fragment_verilog`
split it for callers that also inspect the elaborated design (``accel.cli.build``).

Conversion goes through :func:`convert_rtlil`, Amaranth's RTLIL backend with one change:
memory contents are written as one constant string instead of one netlist bit at a time.
A 32x32 build holds several megabits of weight memory, and Amaranth 0.5 spent more time
on those bits than on the rest of the design; the text is the same, byte for byte (the
tests compare the two). All-zero initialisers, megabits in a build without weights, are
written as one digit for Yosys, or left out for the Verilator model and the synthesis
estimates. And every PE becomes an instance of one module per PE kind
(:func:`fragment_verilog`).
"""

import re

from amaranth import (ClockDomain, ClockSignal, Const, Elaboratable, Module, ResetSignal, Shape,
                      Signal)
from amaranth.back import rtlil, verilog
from amaranth.hdl import Fragment, Instance, _ast, _ir, _nir
from amaranth.lib import wiring

from ..config import TOP_NAME, AccelConfig
from ..formats import for_config
from ..gateware.cells import cells_for
from ..gateware.core import PatchINRCore
from ..gateware.int8.pumped import FAST_DOMAIN

__all__ = ["PE_NAME", "CoreTop", "CoreInstance", "export_core", "elaborate_core",
           "fragment_verilog", "share_pes", "pe_module", "convert_rtlil", "port_names", "module_ports"]

#: Name of the exported top module.

#: Name of the processing-element module that every PE of a generic array instantiates
#: (the INT8 array's PE kinds add a suffix: :func:`pe_module`).
PE_NAME = f"{TOP_NAME}_pe"

# Xilinx interface definitions (VLNV) of the core's bus ports.
_AXIS = "xilinx.com:interface:axis:1.0"
_AXIMM = "xilinx.com:interface:aximm:1.0"
_BUSES = {"s_axil": _AXIMM, "s_axis_wgt": _AXIS, "s_axis_coord": _AXIS, "m_axis_pix": _AXIS}


class CoreTop(Elaboratable):
    """:class:`~accel.gateware.core.PatchINRCore` behind flat, Xilinx-named ports and one clock.

    The wrapper owns the ``sync`` clock domain: its clock is ``aclk`` and its (synchronous)
    reset is ``~aresetn``. Every member of the core's signature becomes one
    :class:`~amaranth.hdl.Signal` named ``<interface>_<member>`` (``s_axis_wgt_tdata``) or,
    for the plain ports, by its own name (``busy``).

    Parameters
    ----------
    core : PatchINRCore

    Attributes
    ----------
    aclk, aresetn : Signal(1)
    ports : list of Signal
        Every top-level port, clock and reset first, for ``convert(..., ports=...)``.
    """

    def __init__(self, core):
        if not isinstance(core, PatchINRCore):
            raise TypeError(f"core must be a PatchINRCore, not {core!r}")
        self.core = core
        buses = ":".join(_BUSES)
        self.aclk = Signal(name="aclk", attrs={
            "X_INTERFACE_INFO": "xilinx.com:signal:clock:1.0 aclk CLK",
            "X_INTERFACE_PARAMETER": f"ASSOCIATED_BUSIF {buses}, ASSOCIATED_RESET aresetn",
        })
        self.aresetn = Signal(name="aresetn", attrs={
            "X_INTERFACE_INFO": "xilinx.com:signal:reset:1.0 aresetn RST",
            "X_INTERFACE_PARAMETER": "POLARITY ACTIVE_LOW",
        })
        # (flat port, core port, direction seen from outside)
        self._links = []
        for path, member, value in core.signature.flatten(core):
            name = "_".join(map(str, path))
            attrs = {}
            if path[0] in _BUSES:
                attrs["X_INTERFACE_INFO"] = f"{_BUSES[path[0]]} {path[0]} {path[-1].upper()}"
            flat = Signal(member.shape, name=name, attrs=attrs)
            self._links.append((flat, value, member.flow))
        clocks = [self.aclk]
        #: The DSP clock of a build whose DSP48E2s run at twice ``aclk`` (``None``
        #: otherwise): synchronous to ``aclk`` and rising with each of its edges.
        self.aclk2x = None
        if core.config.dsp_clock == 2:
            self.aclk2x = Signal(name="aclk2x", attrs={
                "X_INTERFACE_INFO": "xilinx.com:signal:clock:1.0 aclk2x CLK",
            })
            clocks.append(self.aclk2x)
        self.ports = clocks + [self.aresetn] + [flat for flat, _, _ in self._links]

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = cd = ClockDomain("sync")
        m.d.comb += [cd.clk.eq(self.aclk), cd.rst.eq(~self.aresetn)]
        if self.aclk2x is not None:
            # No reset: the pumped slices' registers are data, overwritten before use.
            m.domains += (fast := ClockDomain(FAST_DOMAIN, reset_less=True))
            m.d.comb += fast.clk.eq(self.aclk2x)
        m.submodules.core = self.core
        for flat, value, flow in self._links:
            if flow == wiring.In:
                m.d.comb += value.eq(flat)
            else:
                m.d.comb += flat.eq(value)
        return m


class _ModuleEmitter(rtlil.ModuleEmitter):
    # Amaranth's emit_memory turns every bit of a memory's initial contents into a
    # netlist constant and back into a character (seconds per megabit); this formats the
    # same RTLIL constant directly: last word first, each word most significant bit first.
    zero_init = "full"

    def emit_memory(self, cell_idx, cell):
        zero = not any(cell.init)
        if zero and self.zero_init == "none":
            return
        if cell.width * cell.depth == 0:
            return super().emit_memory(cell_idx, cell)
        if zero and self.zero_init == "short":
            # Yosys extends a constant given with fewer bits than its width by zeros.
            bits = "0"
        else:
            mask = (1 << cell.width) - 1
            bits = "".join(format(word & mask, f"0{cell.width}b")
                           for word in reversed(cell.init))
        self.builder.cell("$meminit_v2", ports={
            "ADDR": self.sigspec(),
            "DATA": f"{cell.width * cell.depth}'{bits}",
            "EN": self.sigspec(_nir.Value.ones(cell.width)),
        }, parameters={
            "MEMID": self.memories[cell_idx].memid,
            "ABITS": 0,
            "WIDTH": cell.width,
            "WORDS": cell.depth,
            "PRIORITY": 0,
        }, src_loc=cell.src_loc)


def _signature_ports(component):
    # What amaranth.back.rtlil.convert does for a component given without ports.
    ports = {}
    for path, member, value in component.signature.flatten(component):
        if isinstance(value, _ast.ValueCastable):
            value = value.as_value()
        direction = (_ir.PortDirection.Input if member.flow == wiring.In
                     else _ir.PortDirection.Output)
        ports["__".join(map(str, path))] = (value, direction)
    return ports


def convert_rtlil(design, *, name, ports=None, emit_src=False, zero_init="full"):
    """RTLIL text of ``design``, as ``amaranth.back.rtlil.convert`` writes it, faster.

    Parameters
    ----------
    design : Elaboratable or Fragment
        A :class:`~amaranth.hdl.Fragment` must not have been converted before (conversion
        prepares it in place).
    name : str
        Name of the top module.
    ports : list or dict, optional
        As for Amaranth's ``convert``; default: the members of a component's signature.
    emit_src : bool
        Keep source-location attributes.
    zero_init : {"full", "short", "none"}
        How to write the initialiser of a memory whose contents are all zero (every
        memory of a build without ``--weights``: megabits, which tools spend long on).
        ``"full"``: every bit, Amaranth's own text. ``"short"``: one zero digit, which
        Yosys reads as the same constant. ``"none"``: left out, so the memory has no
        initial value; block RAM, the synthesis estimates and Verilator (which starts
        every variable at zero) read it as zero all the same.
    """
    if zero_init not in ("full", "short", "none"):
        raise ValueError(f"zero_init must be 'full', 'short' or 'none', not {zero_init!r}")
    if ports is None:
        if not isinstance(getattr(design, "signature", None), wiring.Signature):
            raise TypeError("ports are required unless the design is a wiring.Component")
        ports = _signature_ports(design)
    fragment = design if isinstance(design, Fragment) else Fragment.get(design, None)
    # amaranth.back.rtlil.convert_fragment (0.5), with the emitter above.
    netlist = _ir.build_netlist(fragment, ports=ports, name=name)
    empty = rtlil.EmptyModuleChecker(netlist)
    builder = rtlil.Design(emit_src=emit_src)
    for index, module in enumerate(netlist.modules):
        if empty.is_empty(index):
            continue
        module_builder = builder.module(".".join(module.name), src_loc=module.src_loc)
        if index == 0:
            module_builder.attribute("top", 1)
        emitter = _ModuleEmitter(module_builder, netlist, module, _ast.SignalDict(),
                                 empty_checker=empty)
        emitter.zero_init = zero_init
        emitter.emit()
    return str(builder)


def elaborate_core(config, *, images=None, width=None, height=None):
    """``(top, fragment)``: the :class:`CoreTop` of a build and its elaborated fragment.

    Parameters as for :func:`export_core`. The fragment can be inspected (its memories,
    say) and then converted once with :func:`fragment_verilog`.
    """
    if not isinstance(config, AccelConfig):
        raise TypeError(f"config must be an AccelConfig, not {config!r}")
    top = CoreTop(PatchINRCore(config=config, images=images, width=width, height=height))
    # The device's primitives (an ECP5's registered multipliers), where it has any.
    return top, Fragment.get(top, cells_for(config))


def _rtlil_ports(text, module):
    """Port names of ``module`` in RTLIL text."""
    body = re.search(rf"^module \\{re.escape(module)}\n(.*?)^end$", text, re.S | re.M)
    return re.findall(r"^  wire (?:width \d+ )?(?:input|output) \d+ +\\(\S+)$", body.group(1),
                      re.M)


def pe_module(origin, arith):
    """``(module name, fresh copy)`` of a processing element of an elaborated core, or
    ``None`` if ``origin`` is not one: the generic PE is :data:`PE_NAME`, the INT8 array's
    PEs ``PE_NAME`` with their kind (``_wide16x16``, ``_wide8x8``, ``_pair``, ``_lut``,
    ``_pumped``, ``_pumped_x``), and its column groups
    (:class:`~accel.gateware.int8.column.ColumnGroup`, PEs shared inside)
    ``patchinr_core_column_<kind><rows>w<wide rows>`` (``_2x`` when pumped)."""
    from ..gateware.int8.column import ColumnGroup
    from ..gateware.int8.lut import LutPE
    from ..gateware.int8.pair import PackedPair
    from ..gateware.int8.pumped import PumpedPair
    from ..gateware.int8.wide import WidePE
    from ..gateware.pe import ProcessingElement
    if isinstance(origin, ProcessingElement):
        return PE_NAME, lambda: ProcessingElement(arith=arith)
    if isinstance(origin, ColumnGroup):
        kind, rows, wide, pumped = origin.kind, origin.rows, origin.wide_rows, origin.pumped
        return (f"{TOP_NAME}_column_{kind}{rows}w{wide}" + ("_2x" if pumped else ""),
                lambda: ColumnGroup(kind=kind, rows=rows, wide_rows=wide, pumped=pumped))
    if isinstance(origin, PumpedPair):
        both = origin.both
        return f"{PE_NAME}_pumped" + ("" if both else "_x"), lambda: PumpedPair(both=both)
    if isinstance(origin, PackedPair):      # before WidePE: it is one
        return f"{PE_NAME}_pair", PackedPair
    if isinstance(origin, WidePE):
        a, w, acc = origin.a_width, origin.w_width, origin.acc_width
        return (f"{PE_NAME}_wide{a}x{w}",
                lambda: WidePE(a_width=a, w_width=w, acc_width=acc))
    if isinstance(origin, LutPE):
        return f"{PE_NAME}_lut", LutPE
    return None


def share_pes(fragment, arith, platform=None):
    """Make every PE of an elaborated design an instance of one module per PE kind
    (:func:`pe_module`); return ``(RTLIL of those modules, their names)``.

    Amaranth writes a module per PE instance (``pe_0_0`` ... ``pe_31_31``), all alike:
    converting a 32x32 FP32 array that way repeats the PE a thousand times over (and a
    128x128 INT8 array its column groups a hundred times). Each
    PE's subfragment is replaced by an :class:`~amaranth.hdl.Instance` of its kind's
    module on the PE's own port signals, so the array's wiring is untouched, and each
    module is converted once. The co-simulation tests run this Verilog against the
    references. ``platform`` is what the PEs are elaborated with (the device's
    :class:`~accel.gateware.cells.Cells`, or ``None``).
    """
    # A module's clock ports as Amaranth names them: the pumped DSPs' domain is "fast".
    domain = {"clk": ("i_clk", ClockSignal("sync")), "rst": ("i_rst", ResetSignal("sync")),
              f"{FAST_DOMAIN}_clk": (f"i_{FAST_DOMAIN}_clk", ClockSignal(FAST_DOMAIN)),
              # Converted alone, a module gets a reset for the domain it uses; nothing in
              # the fast domain has one.
              f"{FAST_DOMAIN}_rst": (f"i_{FAST_DOMAIN}_rst", Const(0, 1))}
    modules = {}            # name -> (RTLIL text, port names)

    def instance(pe, name, make):
        if name not in modules:
            # A column group's own PEs are shared too: its module instantiates them.
            design = make()
            fragment = Fragment.get(design, platform)
            walk(fragment)
            text = convert_rtlil(fragment, name=name, ports=_signature_ports(design))
            # The PE is instantiated, not a second top module.
            text = re.sub(rf"^attribute \\top 1\n(?=module \\{re.escape(name)}\n)", "",
                          text, flags=re.M)
            modules[name] = (text, set(_rtlil_ports(text, name)))
        pe_ports = modules[name][1]
        ports = {}
        for path, member, value in pe.signature.flatten(pe):
            port = "__".join(map(str, path))
            ports[("i_" if member.flow == wiring.In else "o_") + port] = value
        ports.update(v for k, v in domain.items() if k in pe_ports)
        if {k[2:] for k in ports} != pe_ports:
            raise RuntimeError(f"{name} ports {sorted(pe_ports)} differ from the PE's "
                               f"signature {sorted(k[2:] for k in ports)}")
        return Instance(name, **ports)

    def walk(frag):
        for index, (sub, sub_name, src_loc) in enumerate(frag.subfragments):
            found = next(((o, k) for o in sub.origins or ()
                          if (k := pe_module(o, arith)) is not None), None)
            if found is not None:
                origin, (name, make) = found
                frag.subfragments[index] = (Fragment.get(instance(origin, name, make), platform),
                                            sub_name, src_loc)
            else:
                walk(sub)
    walk(fragment)
    return "".join(text for text, _ in modules.values()), sorted(modules)


def fragment_verilog(top, fragment, *, zero_init=True):
    """Verilog text of a :class:`CoreTop` elaborated by :func:`elaborate_core`.

    Its PEs become instances of one module per PE kind (:func:`share_pes`); the fragment
    cannot be converted again. Without ``zero_init`` all-zero memory initialisers are left out
    (:func:`convert_rtlil`).
    """
    config = top.core.config
    pe_text, _ = share_pes(fragment, for_config(config), cells_for(config))
    text = convert_rtlil(fragment, name=TOP_NAME, ports=top.ports,
                         zero_init="short" if zero_init else "none")
    text += pe_text
    # Amaranth's own RTLIL-to-Verilog step (its bundled Yosys), as verilog.convert runs it.
    return _start_comb_processes(verilog._convert_rtlil_text(text, strip_internal_attrs=True))


# Yosys's write_verilog makes every `always @*` block read one register declared with an
# initial value (`reg \$auto$verilog_backend...$1 = 0;` and `if (\$auto...) begin end`), so
# that the value's time-zero event runs each block once. Under SystemVerilog semantics
# (Icarus -g2012, what cocotb runs) a declaration's initial value makes no event: a block
# whose other inputs never change would never run, and the core hangs. The value is set by an
# `initial` statement instead, placed after every block that waits on it, which makes the
# event in every Verilog and SystemVerilog simulator; synthesis reads it as the same
# initial value.
_AUTO_REG = re.compile(r"^(\s*)reg (\\\$auto\$verilog_backend\S*)\s+= 0;\n", re.M)


def _start_comb_processes(text):
    out = []
    for module in re.split(r"(?<=^endmodule\n)", text, flags=re.M):
        match = _AUTO_REG.search(module)
        if match:
            indent, name = match[1], match[2]
            module = _AUTO_REG.sub(lambda m: f"{m[1]}reg {m[2]} ;\n", module, count=1)
            module = re.sub(r"^endmodule\n", f"{indent}initial {name}  = 1'h0;\nendmodule\n",
                            module, count=1, flags=re.M)
        out.append(module)
    return "".join(out)


def port_names(config):
    """``{name: (direction, width)}`` of the ports of ``patchinr_core`` for ``config``,
    without elaborating it (``direction`` is ``"input"`` or ``"output"``)."""
    if not isinstance(config, AccelConfig):
        raise TypeError(f"config must be an AccelConfig, not {config!r}")
    core = PatchINRCore(config=config)
    core._MustUse__silence = True       # built for its signature only
    ports = {"aclk": ("input", 1), **({"aclk2x": ("input", 1)} if config.dsp_clock == 2
                                       else {}), "aresetn": ("input", 1)}
    for path, member, _ in core.signature.flatten(core):
        ports["_".join(map(str, path))] = ("input" if member.flow == wiring.In else "output",
                                           Shape.cast(member.shape).width)
    return ports


def module_ports(text, module=TOP_NAME):
    """``{name: (direction, width)}`` of ``module``'s ports in Yosys-written Verilog."""
    body = re.search(rf"^module {re.escape(module)}\(.*?^endmodule", text, re.S | re.M)
    if body is None:
        raise ValueError(f"no module {module} in the Verilog text")
    ports = {}
    for direction, msb, lsb, name in re.findall(
            r"^\s*(input|output|inout)\s+(?:signed\s+)?(?:\[(\d+):(\d+)\]\s+)?(\S+);",
            body.group(0), re.M):
        ports[name] = (direction, int(msb) - int(lsb) + 1 if msb else 1)
    return ports


def export_core(config, *, images=None, width=None, height=None, zero_init=True):
    """Verilog text of a :class:`~accel.gateware.core.PatchINRCore` as module ``patchinr_core``.

    Parameters
    ----------
    config : AccelConfig
    images : dict, optional
        Initial weight-buffer contents (:func:`accel.host.weights.memory_images`); without
        them the buffers start at zero and are loaded over ``s_axis_wgt``.
    width, height : int, optional
        Reset values of WIDTH / HEIGHT (default: ``config.max_width`` / ``max_height``).
    zero_init : bool
        Write all-zero memory initialisers; without them such memories have no initial
        value in the text (:func:`convert_rtlil`).

    Returns
    -------
    str
        One Verilog file: ``patchinr_core`` and the submodules it instantiates, without
        source-location attributes (so the text, and any cache keyed on it, does not depend
        on where the package is installed).
    """
    top, fragment = elaborate_core(config, images=images, width=width, height=height)
    return fragment_verilog(top, fragment, zero_init=zero_init)


class CoreInstance(wiring.Component):
    """The exported ``patchinr_core`` module as a black box with the core's signature.

    :class:`~boards.top.BoardTop` takes any component with the core's members; this one
    elaborates to an :class:`~amaranth.hdl.Instance` of the module that
    :func:`accel.flows.export.export_core` writes, so the board's Verilog does not repeat the
    core (converting a 32x32 core takes most of a minute). ``aclk`` is the ``sync``
    clock, ``aresetn`` its inverted reset.

    Parameters
    ----------
    config : AccelConfig
        The build the Verilog was exported from.
    verilog : str, optional
        That Verilog: when given, the instance's ports are checked against the module's,
        since a mismatch would only show in Vivado.
    """

    def __init__(self, *, config, verilog=None):
        if not isinstance(config, AccelConfig):
            raise TypeError(f"config must be an AccelConfig, not {config!r}")
        core = PatchINRCore(config=config)
        core._MustUse__silence = True      # built for its signature only
        super().__init__(core.signature)
        self._dsp_clock = config.dsp_clock
        self._ports = {}
        for path, member, value in self.signature.flatten(self):
            prefix = "i_" if member.flow == wiring.In else "o_"
            self._ports[prefix + "_".join(map(str, path))] = value
        if verilog is not None:
            have = {("i_" if d == "input" else "o_") + n
                    for n, (d, _) in module_ports(verilog, TOP_NAME).items()
                    if n not in ("aclk", "aclk2x", "aresetn")}
            if have != set(self._ports):
                raise RuntimeError(f"{TOP_NAME} ports differ from the core's signature: "
                                   f"{sorted(have ^ set(self._ports))}")

    def elaborate(self, platform):
        m = Module()
        clocks = {"i_aclk": ClockSignal("sync")}
        if self._dsp_clock == 2:
            clocks["i_aclk2x"] = ClockSignal(FAST_DOMAIN)
        m.submodules.core = Instance(TOP_NAME, **clocks, i_aresetn=~ResetSignal("sync"),
                                     **self._ports)
        return m
