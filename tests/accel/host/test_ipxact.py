"""component.xml: parses as IP-XACT 1685-2014 (ipyxact's model of it, and peakrdl-ipxact's
import of its memory map), names every port of the exported Verilog, each in exactly one
bus interface, and carries the register map."""

import xml.etree.ElementTree as ET

import pytest

from accel.config import TOP_NAME, AccelConfig
from accel.flows.export import export_core, module_ports
from accel.host.ipxact import component_xml, interfaces, package_tcl
from accel.host.registers import REGISTERS
from model.config import PatchINRConfig

ipyxact = pytest.importorskip("ipyxact.ipyxact", reason="needs ipyxact: pip install -e '.[test]'")


@pytest.fixture(scope="module", params=["int8", "dual"])
def core(request, tmp_path_factory):
    config = AccelConfig(model=PatchINRConfig(patch=2, channels=3, hidden=6, layers=1),
                         rows=4, cols=4, batch=8, precision=request.param, max_width=16,
                         max_height=16)
    verilog = export_core(config, zero_init=False)
    path = tmp_path_factory.mktemp("ip") / "component.xml"
    path.write_text(component_xml(config, module_ports(verilog, TOP_NAME)))
    return config, verilog, path


def test_component_parses_and_names_every_port_once(core):
    _, verilog, path = core
    comp = ipyxact.Component()
    comp.load(str(path))
    assert (comp.vendor, comp.library, comp.name) == ("patchinr", "accel", TOP_NAME)
    ports = module_ports(verilog, TOP_NAME)
    modelled = {p.name: p for p in comp.model.ports.port}
    assert set(modelled) == set(ports)
    for name, (direction, width) in ports.items():
        wire = modelled[name].wire
        assert wire.direction == ("in" if direction == "input" else "out")
        vec = wire.vectors.vector[0] if width > 1 else None
        assert (vec is None) == (width == 1)
        if vec is not None:
            assert (int(vec.left), int(vec.right)) == (width - 1, 0)
    # ipyxact models 2014's port maps no deeper than the bus interface: read them as XML.
    ns = {"ipxact": "http://www.accellera.org/XMLSchema/IPXACT/1685-2014"}
    tree = ET.parse(path)
    mapped = [el.text for el in tree.findall(
        ".//ipxact:busInterface/ipxact:abstractionTypes/ipxact:abstractionType/"
        "ipxact:portMaps/ipxact:portMap/ipxact:physicalPort/ipxact:name", ns)]
    assert sorted(mapped) == sorted(ports)          # every port, in exactly one interface
    names = {bi.name for bi in comp.busInterfaces.busInterface}
    assert {"s_axil", "s_axis_wgt", "s_axis_coord", "m_axis_pix", "aclk", "aresetn"} <= names


def test_memory_map_imports_as_the_register_map(core):
    _, _, path = core
    systemrdl = pytest.importorskip("systemrdl")
    importer = pytest.importorskip("peakrdl_ipxact")
    rdlc = systemrdl.RDLCompiler()
    importer.IPXACTImporter(rdlc).import_file(str(path))
    top = rdlc.elaborate().top
    regs = {r.inst_name: r for r in top.descendants() if isinstance(r, systemrdl.node.RegNode)}
    assert {n: r.address_offset for n, r in regs.items()} == \
        {n: r.offset for n, r in REGISTERS.items()}
    hwinfo = {f.inst_name: (f.lsb, f.width) for f in regs["HWINFO"].fields()}
    assert hwinfo == {f.name: (f.lsb, f.width) for f in REGISTERS["HWINFO"].fields}


def test_clock_names_its_buses_and_reset(core):
    _, _, path = core
    text = path.read_text()
    assert "s_axil:s_axis_wgt:s_axis_coord:m_axis_pix" in text and "ACTIVE_LOW" in text


def test_a_port_outside_every_interface_is_refused():
    with pytest.raises(ValueError, match="belongs to no interface"):
        interfaces({"s_axil_awaddr": ("input", 12), "debug_probe": ("output", 1)})


def test_package_tcl_names_the_sources_and_every_register(core):
    config, _, _ = core
    tcl = package_tcl(config, files=("patchinr_core.v", "params.mem"))
    assert "add_files -norecurse [file join $here patchinr_core.v]" in tcl
    assert "params.mem" in tcl and "ipx::save_core" in tcl
    for reg in REGISTERS:
        assert f"ipx::add_register {reg} $block" in tcl
