"""Package the exported core as an IP for Vivado: an IP-XACT component and an ``ipx::`` script.

:func:`component_xml` writes ``component.xml`` in IEEE 1685-2014 (the format Vivado's IP
catalog reads): the bus interfaces with Xilinx's interface definitions (AXI4-Lite
subordinate ``s_axil`` with its memory map of the registers, AXI4-Stream ``s_axis_wgt``,
``s_axis_coord`` and ``m_axis_pix``), ``aclk`` with ``ASSOCIATED_BUSIF`` and
``ASSOCIATED_RESET`` (and ``aclk2x``, the DSP clock of a ``dsp_clock = 2`` build), ``aresetn``
active low, the status outputs ``done`` and ``error`` as
level interrupts and ``busy`` and ``start`` as data signals; every port of the Verilog
module in its model, each in exactly one interface; the build's parameters as read-only
parameters; and the Verilog (and memory images) as the synthesis and simulation file set.

:func:`package_tcl` writes the same as Vivado ``ipx::`` commands, for those who package in
Vivado (``vivado -mode batch -source package_ip.tcl``).
"""

import xml.etree.ElementTree as ET

from ..config import CLOCK_HZ, TOP_NAME
from .registers import REGISTERS

__all__ = ["VLNV", "component_xml", "package_tcl", "interfaces"]

#: Vendor, library, name and version of the packaged IP.
VLNV = ("patchinr", "accel", TOP_NAME, "1.0")

_NS = "http://www.accellera.org/XMLSchema/IPXACT/1685-2014"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_SCHEMA = f"{_NS} http://www.accellera.org/XMLSchema/IPXACT/1685-2014/index.xsd"

# (interface, Xilinx bus type, abstraction, mode)
_BUSES = {
    "s_axil": (("xilinx.com", "interface", "aximm", "1.0"),
               ("xilinx.com", "interface", "aximm_rtl", "1.0"), "slave"),
    "s_axis_wgt": (("xilinx.com", "interface", "axis", "1.0"),
                   ("xilinx.com", "interface", "axis_rtl", "1.0"), "slave"),
    "s_axis_coord": (("xilinx.com", "interface", "axis", "1.0"),
                     ("xilinx.com", "interface", "axis_rtl", "1.0"), "slave"),
    "m_axis_pix": (("xilinx.com", "interface", "axis", "1.0"),
                   ("xilinx.com", "interface", "axis_rtl", "1.0"), "master"),
}
_SIGNALS = {
    "aclk": ("clock", "CLK", "slave"),
    "aclk2x": ("clock", "CLK", "slave"),
    "aresetn": ("reset", "RST", "slave"),
    "done": ("interrupt", "INTERRUPT", "master"),
    "error": ("interrupt", "INTERRUPT", "master"),
    "busy": ("data", "DATA", "master"),
    "start": ("data", "DATA", "slave"),
}


def interfaces(ports):
    """``{interface: [(port, logical name)]}`` for the module's ``ports`` (as
    :func:`~accel.flows.export.module_ports` reads them); :class:`ValueError` when a port
    fits no interface."""
    out = {name: [] for name in (*_BUSES, *_SIGNALS)}
    for port in ports:
        if port in _SIGNALS:
            out[port].append((port, _SIGNALS[port][1]))
            continue
        bus = next((b for b in _BUSES if port.startswith(b + "_")), None)
        if bus is None:
            raise ValueError(f"port {port!r} belongs to no interface")
        out[bus].append((port, port[len(bus) + 1:].upper()))
    return {k: v for k, v in out.items() if v}


def _sub(parent, tag, text=None, **attrs):
    # IP-XACT 2014 attributes are unqualified (attributeFormDefault="unqualified").
    el = ET.SubElement(parent, f"{{{_NS}}}{tag}", {k: str(v) for k, v in attrs.items()})
    if text is not None:
        el.text = str(text)
    return el


def _vlnv(parent, tag, vlnv):
    v, lib, name, ver = vlnv
    return _sub(parent, tag, vendor=v, library=lib, name=name, version=ver)


def _parameter(parent, pid, name, value, *, doc=None):
    p = _sub(parent, "parameter", parameterId=pid, resolve="immediate")
    _sub(p, "name", name)
    if doc:
        _sub(p, "description", doc)
    _sub(p, "value", value)
    return p


def component_xml(config, ports, *, files=("patchinr_core.v",), width_init=256,
                  height_init=256, clock_hz=CLOCK_HZ):
    """``component.xml`` (IP-XACT 1685-2014) for the core exported from ``config``.

    ``ports`` is ``{name: (direction, width)}`` of the exported module as the Verilog
    itself declares them (:func:`accel.flows.export.module_ports`), so the component and
    the module cannot differ. ``clock_hz`` is ``aclk``'s ``FREQ_HZ``: the build's clock."""
    ET.register_namespace("ipxact", _NS)
    ET.register_namespace("xsi", _XSI)
    groups = interfaces(ports)
    root = ET.Element(f"{{{_NS}}}component", {f"{{{_XSI}}}schemaLocation": _SCHEMA})
    for tag, value in zip(("vendor", "library", "name", "version"), VLNV):
        _sub(root, tag, value)
    _sub(root, "description",
         f"PatchINR accelerator core: {config!r}. Registers and streams: docs/interface.md.")

    bis = _sub(root, "busInterfaces")
    for name, members in groups.items():
        bi = _sub(bis, "busInterface")
        _sub(bi, "name", name)
        if name in _BUSES:
            bus, abstraction, mode = _BUSES[name]
        else:
            kind, _, mode = _SIGNALS[name]
            bus = ("xilinx.com", "signal", kind, "1.0")
            abstraction = ("xilinx.com", "signal", f"{kind}_rtl", "1.0")
        _vlnv(bi, "busType", bus)
        ars = _sub(bi, "abstractionTypes")
        at = _sub(ars, "abstractionType")
        _vlnv(at, "abstractionRef", abstraction)
        pms = _sub(at, "portMaps")
        for port, logical in members:
            pm = _sub(pms, "portMap")
            lp = _sub(pm, "logicalPort")
            _sub(lp, "name", logical)
            pp = _sub(pm, "physicalPort")
            _sub(pp, "name", port)
        m = _sub(bi, mode)
        if name == "s_axil":
            _sub(m, "memoryMapRef", memoryMapRef="registers")
        params = []
        if name == "aclk":
            params = [("ASSOCIATED_BUSIF", ":".join(_BUSES)), ("ASSOCIATED_RESET", "aresetn"),
                      ("FREQ_HZ", str(int(clock_hz)))]
        elif name == "aclk2x":
            # The DSP clock of a dsp_clock = 2 build: no bus, twice aclk.
            params = [("FREQ_HZ", str(int(2 * clock_hz)))]
        elif name == "aresetn":
            params = [("POLARITY", "ACTIVE_LOW")]
        elif _SIGNALS.get(name, ("",))[0] == "interrupt":
            params = [("SENSITIVITY", "LEVEL_HIGH")]
        if params:
            ps = _sub(bi, "parameters")
            for i, (pname, value) in enumerate(params):
                _parameter(ps, f"BUSIFPARAM_{name.upper()}_{i}", pname, value)

    mms = _sub(root, "memoryMaps")
    mm = _sub(mms, "memoryMap")
    _sub(mm, "name", "registers")
    ab = _sub(mm, "addressBlock")
    _sub(ab, "name", "csr")
    _sub(ab, "baseAddress", 0)
    _sub(ab, "range", 4096)
    _sub(ab, "width", 32)
    for reg in REGISTERS.values():
        r = _sub(ab, "register")
        _sub(r, "name", reg.name)
        _sub(r, "description", reg.doc)
        _sub(r, "addressOffset", f"0x{reg.offset:X}")
        _sub(r, "size", 32)
        _sub(r, "access", "read-only" if reg.access == "RO" else "read-write")
        for f in reg.bit_fields:
            fe = _sub(r, "field")
            _sub(fe, "name", f.name)
            _sub(fe, "description", f.doc)
            _sub(fe, "bitOffset", f.lsb)
            _sub(fe, "bitWidth", f.width)
            _sub(fe, "access", "read-only" if reg.access == "RO" else
                 ("write-only" if f.pulse else "read-write"))

    model = _sub(root, "model")
    views = _sub(model, "views")
    for view, env in (("synthesis", "verilogSource:vivado.xilinx.com:synthesis"),
                      ("simulation", "verilogSource:vivado.xilinx.com:simulation")):
        v = _sub(views, "view")
        _sub(v, "name", view)
        _sub(v, "envIdentifier", env)
        _sub(v, "componentInstantiationRef", f"{view}_verilog")
    insts = _sub(model, "instantiations")
    for view in ("synthesis", "simulation"):
        ci = _sub(insts, "componentInstantiation")
        _sub(ci, "name", f"{view}_verilog")
        _sub(ci, "language", "Verilog")
        _sub(ci, "moduleName", TOP_NAME)
        fsr = _sub(ci, "fileSetRef")
        _sub(fsr, "localName", "sources")
    ps = _sub(model, "ports")
    for port, (direction, width) in ports.items():
        p = _sub(ps, "port")
        _sub(p, "name", port)
        w = _sub(p, "wire")
        _sub(w, "direction", "in" if direction == "input" else "out")
        if width > 1:
            vs = _sub(w, "vectors")
            v = _sub(vs, "vector")
            _sub(v, "left", width - 1)
            _sub(v, "right", 0)

    fss = _sub(root, "fileSets")
    fs = _sub(fss, "fileSet")
    _sub(fs, "name", "sources")
    for name in files:
        f = _sub(fs, "file")
        _sub(f, "name", name)
        _sub(f, "fileType", "verilogSource" if name.endswith(".v") else "unknown")

    params = _sub(root, "parameters")
    build = {"ROWS": config.rows, "COLS": config.cols, "BATCH": config.batch,
             "PRECISION": config.precision, "PATCH": config.model.patch,
             "CHANNELS": config.model.channels, "PIXELS_PER_BEAT": config.pixels_per_beat, "DSP_CLOCK": config.dsp_clock,
             "HIDDEN": config.model.hidden,
             "SINE_LAYERS": config.model.layers, "MAX_WIDTH": config.max_width,
             "MAX_HEIGHT": config.max_height, "WIDTH_INIT": width_init,
             "HEIGHT_INIT": height_init}
    for i, (name, value) in enumerate(build.items()):
        p = _parameter(params, f"PARAM_{i}", name, value,
                       doc="build parameter (fixed by accel.build; read-only)")
        p.set("configGroups", "build")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def package_tcl(config, *, files=("patchinr_core.v",)):
    """Vivado Tcl that packages the same IP with ``ipx::`` commands."""
    vendor, library, name, version = VLNV
    lines = [
        f"# Package {name} ({config!r}) as a Vivado IP: vivado -mode batch -source package_ip.tcl",
        "# Generated by accel.host.ipxact; component.xml beside it is the same IP in IP-XACT.",
        "set here [file dirname [file normalize [info script]]]",
        "create_project -in_memory -part xcvu9p-flga2104-2L-e",
        *[f"add_files -norecurse [file join $here {f}]" for f in files],
        f"ipx::package_project -root_dir [file join $here ip] -vendor {vendor} "
        f"-library {library} -taxonomy /UserIP -import_files -set_current true",
        "set core [ipx::current_core]",
        f"set_property name {name} $core",
        f"set_property version {version} $core",
        "set_property display_name {PatchINR accelerator core} $core",
        "ipx::infer_bus_interfaces xilinx.com:interface:axis_rtl:1.0 $core",
        "ipx::infer_bus_interfaces xilinx.com:interface:aximm_rtl:1.0 $core",
        f"ipx::associate_bus_interfaces -busif {{{' '.join(_BUSES)}}} -clock aclk $core",
        "set_property value ACTIVE_LOW [ipx::get_bus_parameters POLARITY "
        "-of_objects [ipx::get_bus_interfaces aresetn -of_objects $core]]",
        "set map [ipx::add_memory_map registers $core]",
        "set_property slave_memory_map_ref registers [ipx::get_bus_interfaces s_axil -of_objects $core]",
        "set block [ipx::add_address_block csr $map]",
        "set_property range 4096 $block",
        "set_property width 32 $block",
    ]
    for reg in REGISTERS.values():
        lines += [f"set r [ipx::add_register {reg.name} $block]",
                  f"set_property address_offset 0x{reg.offset:X} $r",
                  "set_property size 32 $r",
                  f"set_property access {'read-only' if reg.access == 'RO' else 'read-write'} $r"]
        for f in reg.fields:
            lines += [f"set f [ipx::add_field {f.name} $r]",
                      f"set_property bit_offset {f.lsb} $f",
                      f"set_property bit_width {f.width} $f"]
    lines += ["ipx::create_xgui_files $core", "ipx::update_checksums $core",
              "ipx::check_integrity $core", "ipx::save_core $core", ""]
    return "\n".join(lines)
