"""The register map: one table (:data:`REGISTERS`) behind the register block, the host
tools, the tests and the documentation.

:class:`~accel.gateware.csr.ControlRegisters` decodes and packs from it, the tests address
registers through it, and :func:`register_map_markdown` renders it for
``docs/interface.md``. :func:`check_fits` is the configuration's check that every build
constant a read-only field reports fits that field.
"""

from dataclasses import dataclass

from model.support.errors import UserError

__all__ = ["Register", "Field", "REGISTERS", "ID_VALUE", "MAP_VERSION", "RESP_OKAY",
           "RESP_SLVERR", "register_map_markdown", "check_fits"]

#: ``ID`` register value: ASCII "PINR".
ID_VALUE = 0x50494E52
#: Register-map version in ``HWINFO``; bump when the map changes incompatibly.
MAP_VERSION = 2

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

    @property
    def mask(self):
        """The field's bits in place in the register word."""
        return ((1 << self.width) - 1) << self.lsb

    def extract(self, word):
        """The field's value in a register word."""
        return (int(word) & self.mask) >> self.lsb

    def place(self, value):
        """``value`` shifted into the field; ValueError if it does not fit."""
        if not 0 <= int(value) < 1 << self.width:
            raise ValueError(f"{value} does not fit the {self.width}-bit field {self.name}")
        return int(value) << self.lsb


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

    @property
    def bit_fields(self):
        """The fields, or for a register without any one field ``value`` of all 32 bits
        (what register tools need: every register has fields)."""
        return self.fields or (Field("value", 0, 32, self.doc),)

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
        Field("PIXELS_PER_BEAT_LOG2", 18, 2, "log2 of the pixels per `m_axis_pix` beat "
                                             "(0: 1, 1: 2, 2: 4, 3: 8)."),
        Field("CHANNELS", 20, 4, "Colour channels per pixel."),
        Field("VERSION", 24, 8, "Register-map version (2)."),
    )),
    Register("PATCH", 0x08, "RO", "Patch size n (pixels per patch side)."),
    Register("CTRL", 0x0C, "RW", "Job control.", (
        Field("START", 0, 1, "Write 1: start a job with the current MODE, PRECISION, WIDTH "
                             "and HEIGHT. Reads 0.", pulse=True),
        Field("MODE", 1, 1, "0: render a frame; 1: answer a stream of queries."),
        Field("PRECISION", 2, 1, "0: INT8, 1: FP32. A START selecting a datapath the build "
                                 "lacks (HWINFO) fails with error PRECISION and renders "
                                 "nothing."),
        Field("CLEAR", 3, 1, "Write 1: clear DONE and ERROR; between jobs also CYCLES, "
                             "QUERIES and PIXELS (a running job keeps counting). Reads 0.",
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
        Field("COORDS", 24, 4, "Coordinates per query: 2 for an image (x, y), 3 for a video "
                               "(x, y, t)."),
    )),
    Register("CLIP_FRAMES", 0x38, "RW", "Video builds: frames of the clip the model was "
                                        "fitted to; frame f sits at t = (2f + 1) / "
                                        "CLIP_FRAMES - 1. Image builds ignore it.",
             (Field("FRAMES", 0, 16, "Frames."),), reset="1"),
    Register("FIRST_FRAME", 0x3C, "RW", "Video builds: the first frame a frame-mode job "
                                        "renders (0-based).",
             (Field("FRAME", 0, 16, "Frame."),), reset="0"),
    Register("FRAME_COUNT", 0x40, "RW", "Video builds: frames a frame-mode job renders, one "
                                        "after the other from FIRST_FRAME; FIRST_FRAME + "
                                        "FRAME_COUNT must not exceed CLIP_FRAMES (else error "
                                        "CLIP_RANGE).",
             (Field("COUNT", 0, 16, "Count."),), reset="1"),
)


def register_map_markdown():
    """The register map as a Markdown table (byte offsets, 32-bit registers)."""
    lines = ["| Offset | Name | Access | Reset | Description |",
             "|--------|------|--------|-------|-------------|"]
    for r in REGISTERS.values():
        doc = "<br>".join([r.doc] + [f"`{f.bits}` {f.name}: {f.doc}" for f in r.fields])
        lines.append(f"| 0x{r.offset:02X} | {r.name} | {r.access} | {r.reset or '-'} | {doc} |")
    return "\n".join(lines) + "\n"




def check_fits(**values):
    """Raise :class:`UserError` unless each ``REGISTER_FIELD=value`` fits its field
    (``HWINFO_ROWS=rows``, ...), naming the field and its width."""
    for key, value in values.items():
        name, _, field = key.partition("_")
        f = REGISTERS[name].field(field)
        if value >> f.width:
            raise UserError(f"{value} does not fit the register field {name}.{field} "
                            f"({f.width} bits, at most {(1 << f.width) - 1})")
