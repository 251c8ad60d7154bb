"""Control and status registers behind an AXI4-Lite subordinate.

The register map lives in :data:`accel.host.registers.REGISTERS` only: this block decodes
and packs from it.
"""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..config import AccelConfig
from ..host.registers import ID_VALUE, MAP_VERSION, REGISTERS, RESP_OKAY, RESP_SLVERR
from .axi import AXI4LiteSignature

__all__ = ["ControlRegisters"]

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
    """AXI4-Lite register block (:data:`accel.host.registers.REGISTERS`) between a host and the core.

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
    clip_frames, first_frame, frame_count : Out(16)
        CLIP_FRAMES, FIRST_FRAME and FRAME_COUNT (video builds use them), updated on the
        write's B cycle.
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
        self._config = config
        super().__init__({
            "s_axil":     In(AXI4LiteSignature(addr_width=12)),
            "width":      Out(16, init=width_init),
            "height":     Out(16, init=height_init),
            "clip_frames": Out(16, init=1),
            "first_frame": Out(16),
            "frame_count": Out(16, init=1),
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
                                CHANNELS=cfg.model.channels, VERSION=MAP_VERSION,
                                PIXELS_PER_BEAT_LOG2=cfg.pixels_per_beat.bit_length() - 1),
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
                                HIDDEN=cfg.model.hidden, COORDS=cfg.model.coords),
            "CLIP_FRAMES": _pack(regs["CLIP_FRAMES"], FRAMES=self.clip_frames),
            "FIRST_FRAME": _pack(regs["FIRST_FRAME"], FRAME=self.first_frame),
            "FRAME_COUNT": _pack(regs["FRAME_COUNT"], COUNT=self.frame_count),
        }
        # Where writes go: stored fields to their outputs, pulse fields to their pulses.
        # PRECISION is always writable: the core, not the register, rejects a datapath the
        # build lacks, so a host learns of its mistake from STATUS instead of a silent fix.
        writes = {
            "CTRL":   {"MODE": self.mode, "PRECISION": self.precision,
                       "START": self.start, "CLEAR": self.clear},
            "WIDTH":  {"WIDTH": self.width},
            "HEIGHT": {"HEIGHT": self.height},
            "CLIP_FRAMES": {"FRAMES": self.clip_frames},
            "FIRST_FRAME": {"FRAME": self.first_frame},
            "FRAME_COUNT": {"COUNT": self.frame_count},
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
