"""Control and status registers behind an AXI4-Lite subordinate.

The register map lives in :data:`REGISTERS` only: the block decodes and packs from it, the
tests address registers through it, and :func:`register_map_markdown` renders it for the
documentation.
"""

from dataclasses import dataclass

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..config import AccelConfig
from .axi import AXI4LiteSignature

__all__ = ["ControlRegisters", "Register", "Field", "REGISTERS", "ID_VALUE", "MAP_VERSION",
           "RESP_OKAY", "RESP_SLVERR", "register_map_markdown"]

#: ``ID`` register value: ASCII "PINR".
ID_VALUE = 0x50494E52
#: Register-map version in ``HWINFO``; bump when the map changes incompatibly.
MAP_VERSION = 1

RESP_OKAY = 0b00
RESP_SLVERR = 0b10


@dataclass(frozen=True)
class Field:
    """Bits ``[lsb + width - 1 : lsb]`` of a register. A ``pulse`` field of a writable
    register is not stored: writing 1 pulses its output for one cycle; it reads 0."""
    name: str
    lsb: int
    width: int
    doc: str
    pulse: bool = False

    @property
    def bits(self):
        msb = self.lsb + self.width - 1
        return f"[{msb}]" if msb == self.lsb else f"[{msb}:{self.lsb}]"


@dataclass(frozen=True)
class Register:
    """One 32-bit register: byte ``offset``, ``access`` ``"RO"`` or ``"RW"``, ``reset``
    (writable registers) and its bit ``fields`` (none: the register is one value)."""
    name: str
    offset: int
    access: str
    doc: str
    fields: tuple = ()
    reset: str = None

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"register {self.name} has no field {name!r}")


def _registers(*regs):
    table = {}
    for r in regs:
        assert r.offset % 4 == 0 and r.offset not in {t.offset for t in table.values()}
        assert r.access in ("RO", "RW") and (r.access == "RW") == (r.reset is not None)
        used = 0
        for f in r.fields:
            mask = ((1 << f.width) - 1) << f.lsb
            assert not used & mask and f.lsb + f.width <= 32, (r.name, f.name)
            used |= mask
        table[r.name] = r
    return table


#: The register map, by name, in address order.
REGISTERS = _registers(
    Register("ID", 0x00, "RO", 'Identification, `0x50494E52` ("PINR").'),
    Register("HWINFO", 0x04, "RO", "What this build contains.", (
        Field("ROWS", 0, 8, "Systolic array rows."),
        Field("COLS", 8, 8, "Systolic array columns (output lanes)."),
        Field("INT8", 16, 1, "INT8 datapath present."),
        Field("FP32", 17, 1, "FP32 datapath present."),
        Field("CHANNELS", 20, 4, "Colour channels per pixel."),
        Field("VERSION", 24, 8, "Register-map version (1)."),
    )),
    Register("PATCH", 0x08, "RO", "Patch size n (pixels per patch side)."),
    Register("CTRL", 0x0C, "RW", "Job control.", (
        Field("START", 0, 1, "Write 1: start a job with the current MODE, PRECISION, WIDTH "
                             "and HEIGHT. Reads 0.", pulse=True),
        Field("MODE", 1, 1, "0: render a frame; 1: answer a stream of queries."),
        Field("PRECISION", 2, 1, "0: INT8, 1: FP32. A START selecting a datapath the build "
                                 "lacks (HWINFO) fails with error PRECISION and renders "
                                 "nothing."),
        Field("CLEAR", 3, 1, "Write 1: clear DONE and ERROR and the counters. Reads 0.",
              pulse=True),
    ), reset="0 (PRECISION: 1 in an FP32-only build)"),
    Register("STATUS", 0x10, "RO", "Job status.", (
        Field("BUSY", 0, 1, "A job is running."),
        Field("DONE", 1, 1, "The last job finished."),
        Field("ERROR", 2, 1, "The last job stopped on an error."),
        Field("ERROR_CODE", 8, 8, "Why, while ERROR is set."),
    )),
    Register("WIDTH", 0x14, "RW", "Frame width in pixels: a multiple of PATCH up to MAX_WIDTH.",
             (Field("WIDTH", 0, 16, "Width."),), reset="build parameter `width_init`"),
    Register("HEIGHT", 0x18, "RW", "Frame height in pixels: a multiple of PATCH up to "
                                   "MAX_HEIGHT.",
             (Field("HEIGHT", 0, 16, "Height."),), reset="build parameter `height_init`"),
    Register("CYCLES", 0x1C, "RO", "Clock cycles of the current or last job."),
    Register("QUERIES", 0x20, "RO", "Queries completed in the current or last job."),
    Register("PIXELS", 0x24, "RO", "Pixels sent in the current or last job."),
    Register("MAX_WIDTH", 0x28, "RO", "Largest frame width this build accepts."),
    Register("MAX_HEIGHT", 0x2C, "RO", "Largest frame height this build accepts."),
    Register("BATCH", 0x30, "RO", "Queries in flight per tile."),
    Register("LAYERS", 0x34, "RO", "Network geometry.", (
        Field("SINE_LAYERS", 0, 8, "Number of sine layers."),
        Field("HIDDEN", 8, 16, "Hidden width."),
    )),
)


def register_map_markdown():
    """The register map as a Markdown table (byte offsets, 32-bit registers)."""
    lines = ["| Offset | Name | Access | Reset | Description |",
             "|--------|------|--------|-------|-------------|"]
    for r in REGISTERS.values():
        doc = "<br>".join([r.doc] + [f"`{f.bits}` {f.name}: {f.doc}" for f in r.fields])
        lines.append(f"| 0x{r.offset:02X} | {r.name} | {r.access} | {r.reset or '-'} | {doc} |")
    return "\n".join(lines) + "\n"


def _pack(register, **values):
    """A register's 32-bit read value from its field values; absent fields read 0."""
    word = Const(0, 32)
    for name, value in values.items():
        f = register.field(name)
        value = Const(value, f.width) if isinstance(value, int) else value
        assert len(value) <= f.width, (register.name, name)
        word = word | (value.as_unsigned() << f.lsb)
    return word[:32]


class ControlRegisters(wiring.Component):
    """AXI4-Lite register block (:data:`REGISTERS`) between a host and the core.

    Parameters
    ----------
    config : AccelConfig
        Build constants reported by the read-only registers.
    width_init, height_init : int
        Reset values of WIDTH and HEIGHT: a frame the build accepts (a positive multiple of
        the patch size, up to ``config.max_width`` / ``config.max_height``).

    Ports
    -----
    s_axil : In(AXI4LiteSignature(addr_width=12))
        Subordinate. Registers are 32-bit at word-aligned byte offsets; the two low address
        bits are ignored. AW and W are taken in either order or together, one write at a
        time: ``awready``/``wready`` stay low from the handshake until B is accepted, and B
        is valid in the cycle after the later of the two handshakes. One read at a time: R
        is valid in the cycle after the AR handshake. Offsets outside the map answer
        SLVERR (reads return 0); writes to read-only registers answer OKAY and change
        nothing. ``wstrb`` selects the bytes written.
    width, height : Out(16)
        WIDTH and HEIGHT, updated on the write's B cycle.
    mode, precision : Out(1)
        CTRL.MODE and CTRL.PRECISION, updated on the write's B cycle.
    start, clear : Out(1)
        One-cycle pulses, in the B cycle of a CTRL write with START / CLEAR set (and
        ``wstrb[0]``). ``start`` comes with ``mode`` and ``precision`` already updated.
    busy, done, error : In(1)
        STATUS bits, read as they are: the core holds ``done`` and ``error`` until the next
        ``start`` or ``clear``.
    error_code : In(8)
        STATUS.ERROR_CODE.
    cycles, queries, pixels : In(32)
        Read as CYCLES, QUERIES, PIXELS.
    """

    def __init__(self, *, config, width_init, height_init):
        if not isinstance(config, AccelConfig):
            raise TypeError(f"config must be an AccelConfig, not {config!r}")
        n = config.model.patch
        for name, v, vmax in (("width", width_init, config.max_width),
                              ("height", height_init, config.max_height)):
            if not isinstance(v, int) or isinstance(v, bool) or not 0 < v <= vmax or v % n:
                raise ValueError(f"initial frame {name} must be a positive multiple of the "
                                 f"patch size {n} up to {vmax}, not {v!r}")
        hwinfo, layers = REGISTERS["HWINFO"], REGISTERS["LAYERS"]
        for reg, name, v in ((hwinfo, "ROWS", config.rows), (hwinfo, "COLS", config.cols),
                             (hwinfo, "CHANNELS", config.model.channels),
                             (layers, "SINE_LAYERS", config.model.layers),
                             (layers, "HIDDEN", config.model.hidden)):
            if v >> reg.field(name).width:
                raise ValueError(f"{v} does not fit {reg.name}.{name} "
                                 f"({reg.field(name).width} bits)")
        self._config = config
        super().__init__({
            "s_axil":     In(AXI4LiteSignature(addr_width=12)),
            "width":      Out(16, init=width_init),
            "height":     Out(16, init=height_init),
            "mode":       Out(1),
            "precision":  Out(1, init=int(not config.has_int8)),
            "start":      Out(1),
            "clear":      Out(1),
            "busy":       In(1),
            "done":       In(1),
            "error":      In(1),
            "error_code": In(8),
            "cycles":     In(32),
            "queries":    In(32),
            "pixels":     In(32),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        bus = self.s_axil
        regs = REGISTERS

        # What each register reads as. Fields left out of a _pack read 0 (the pulses).
        reads = {
            "ID":         Const(ID_VALUE, 32),
            "HWINFO":     _pack(regs["HWINFO"], ROWS=cfg.rows, COLS=cfg.cols,
                                INT8=int(cfg.has_int8), FP32=int(cfg.has_fp32),
                                CHANNELS=cfg.model.channels, VERSION=MAP_VERSION),
            "PATCH":      Const(cfg.model.patch, 32),
            "CTRL":       _pack(regs["CTRL"], MODE=self.mode, PRECISION=self.precision),
            "STATUS":     _pack(regs["STATUS"], BUSY=self.busy, DONE=self.done,
                                ERROR=self.error, ERROR_CODE=self.error_code),
            "WIDTH":      _pack(regs["WIDTH"], WIDTH=self.width),
            "HEIGHT":     _pack(regs["HEIGHT"], HEIGHT=self.height),
            "CYCLES":     self.cycles,
            "QUERIES":    self.queries,
            "PIXELS":     self.pixels,
            "MAX_WIDTH":  Const(cfg.max_width, 32),
            "MAX_HEIGHT": Const(cfg.max_height, 32),
            "BATCH":      Const(cfg.batch, 32),
            "LAYERS":     _pack(regs["LAYERS"], SINE_LAYERS=cfg.model.layers,
                                HIDDEN=cfg.model.hidden),
        }
        # Where writes go: stored fields to their outputs, pulse fields to their pulses.
        # PRECISION is always writable: the core, not the register, rejects a datapath the
        # build lacks, so a host learns of its mistake from STATUS instead of a silent fix.
        writes = {
            "CTRL":   {"MODE": self.mode, "PRECISION": self.precision,
                       "START": self.start, "CLEAR": self.clear},
            "WIDTH":  {"WIDTH": self.width},
            "HEIGHT": {"HEIGHT": self.height},
        }
        assert reads.keys() == regs.keys()
        assert all(regs[name].access == "RW" for name in writes)

        # Read channel.
        m.d.comb += bus.arready.eq(~bus.rvalid)
        with m.If(bus.arvalid & bus.arready):
            m.d.sync += [bus.rvalid.eq(1), bus.rdata.eq(0), bus.rresp.eq(RESP_SLVERR)]
            with m.Switch(bus.araddr[2:]):
                for name, value in reads.items():
                    with m.Case(regs[name].offset >> 2):
                        m.d.sync += [bus.rdata.eq(value), bus.rresp.eq(RESP_OKAY)]
        with m.Elif(bus.rvalid & bus.rready):
            m.d.sync += bus.rvalid.eq(0)

        # Write channel: hold whichever of AW and W comes first until the other arrives.
        aw_held = Signal()
        w_held = Signal()
        addr = Signal(bus.awaddr.shape())
        wdata = Signal(32)
        wstrb = Signal(4)
        m.d.comb += [
            bus.awready.eq(~aw_held & ~bus.bvalid),
            bus.wready.eq(~w_held & ~bus.bvalid),
        ]
        aw_take = bus.awvalid & bus.awready
        w_take = bus.wvalid & bus.wready
        cur_addr = Mux(aw_held, addr, bus.awaddr)
        cur_data = Mux(w_held, wdata, bus.wdata)
        cur_strb = Mux(w_held, wstrb, bus.wstrb)
        # Merge the written bytes into what the register reads now, so a narrow write
        # keeps the other bytes.
        mask = Cat(*(bit.replicate(8) for bit in cur_strb))

        for name, targets in writes.items():
            for field_name, port in targets.items():
                if regs[name].field(field_name).pulse:
                    m.d.sync += port.eq(0)

        with m.If((aw_held | aw_take) & (w_held | w_take)):
            m.d.sync += [aw_held.eq(0), w_held.eq(0), bus.bvalid.eq(1),
                         bus.bresp.eq(RESP_SLVERR)]
            with m.Switch(cur_addr[2:]):
                for name, reg in regs.items():
                    with m.Case(reg.offset >> 2):
                        m.d.sync += bus.bresp.eq(RESP_OKAY)
                        merged = (reads[name] & ~mask) | (cur_data & mask)
                        for field_name, port in writes.get(name, {}).items():
                            f = reg.field(field_name)
                            m.d.sync += port.eq(merged[f.lsb:f.lsb + f.width])
        with m.Else():
            with m.If(aw_take):
                m.d.sync += [aw_held.eq(1), addr.eq(bus.awaddr)]
            with m.If(w_take):
                m.d.sync += [w_held.eq(1), wdata.eq(bus.wdata), wstrb.eq(bus.wstrb)]
        with m.If(bus.bvalid & bus.bready):
            m.d.sync += bus.bvalid.eq(0)
        return m
