"""Loads the weight buffers at run time from an AXI4-Stream of packets.

Packet format (32-bit beats)
----------------------------
* Header beat: ``[31:28]`` memory id (:data:`accel.config.MEMORIES`: 0 INT8 weights,
  1 lane parameters, 2 sine table, 3 FP32 weights, 4 first-layer INT8 weights),
  ``[27:0]`` first word address.
* Data beats: each memory word as ``ceil(word_bits / 32)`` beats, least significant first;
  words go to consecutive addresses.
* ``tlast`` on the last data beat ends the packet (a header with ``tlast`` is an empty packet).

Faults lose nothing already written and never hang the stream: an unknown memory id
(``WGT_MEMORY``) or a word past the end of the memory (``WGT_RANGE``) drops the rest of the
packet up to ``tlast``; ``tlast`` inside a word (``WGT_TRUNCATED``) drops that partial word.
The loader only accepts beats while ``enable`` is high (the core holds it low while a job
runs, so a frame never sees half-loaded weights).

:func:`accel.host.weights.weight_stream` produces the packets for a model file.
"""

from amaranth import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..config import MEMORIES, WEIGHT_ADDRESS_BITS, AccelConfig
from ..host.errors import ErrorCode
from ..host.weights import beats_per_word
from .axi import AXIStreamSignature
from .weight_buffer import write_layout

__all__ = ["WeightLoader"]


class WeightLoader(wiring.Component):
    """Weight-stream packet parser.

    Ports
    -----
    s_axis : In(AXIStreamSignature(32))
        The packet stream (``s_axis_wgt`` of the core).
    enable : In(1)
        Accept beats only while high.
    wr : Out(StructLayout(en, mem, addr, data))
        One memory word per cycle toward :class:`~accel.gateware.weight_buffer.WeightBuffer`
        (``data`` as wide as the widest memory word), valid in the cycle after its last beat.
    lut : Out(StructLayout(en, addr, data))
        Sine-table writes, broadcast to every post-processing lane.
    error : Out(1), error_code : Out(ErrorCode)
        One-cycle pulse with the reason when a packet is faulty.
    busy : Out(1)
        Inside a packet.
    """

    def __init__(self, *, config):
        if not isinstance(config, AccelConfig):
            raise TypeError(f"config must be an AccelConfig, not {config!r}")
        self._config = config
        self._geo = config.memory_geometry
        k = config.model.quant.phase_bits
        super().__init__({
            "s_axis": In(AXIStreamSignature(32)),
            "enable": In(1),
            "wr": Out(write_layout(config)),
            "lut": Out(data.StructLayout({"en": 1, "addr": k, "data": 8})),
            "error": Out(1),
            "error_code": Out(ErrorCode),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        s = self.s_axis
        nbeats_max = beats_per_word(len(self.wr.data))
        word = Signal(32 * nbeats_max)
        beat = Signal(range(nbeats_max))
        mem = Signal(4)
        # One bit above the header's address field, so the word after the last one
        # compares as out of range instead of wrapping to 0.
        addr = Signal(WEIGHT_ADDRESS_BITS + 1)
        last_beat = Signal(range(nbeats_max))   # beats per word of this packet's memory - 1
        depth = Signal(range(max(d for d, _ in self._geo.values()) + 1))

        m.d.comb += s.tready.eq(self.enable)
        fire = s.tvalid & s.tready
        m.d.sync += [self.wr.en.eq(0), self.lut.en.eq(0), self.error.eq(0)]

        def fail(code):
            m.d.sync += [self.error.eq(1), self.error_code.eq(code)]

        with m.FSM(name="packet"):
            with m.State("HEADER"):
                with m.If(fire & ~s.tlast):
                    m.d.sync += [mem.eq(s.tdata[28:32]), addr.eq(s.tdata[:WEIGHT_ADDRESS_BITS]), beat.eq(0)]
                    with m.Switch(s.tdata[28:32]):
                        for name, (d, bits) in self._geo.items():
                            with m.Case(MEMORIES[name]):
                                m.d.sync += [last_beat.eq(beats_per_word(bits) - 1), depth.eq(d)]
                                m.next = "DATA"
                        with m.Default():
                            fail(ErrorCode.WGT_MEMORY)
                            m.next = "DISCARD"
            with m.State("DATA"):
                m.d.comb += self.busy.eq(1)
                with m.If(fire):
                    for i in range(nbeats_max):
                        with m.If(beat == i):
                            m.d.sync += word[32 * i:32 * (i + 1)].eq(s.tdata)
                    m.d.sync += beat.eq(beat + 1)
                    with m.If(beat == last_beat):
                        m.d.sync += [beat.eq(0), addr.eq(addr + 1)]
                        with m.If(addr >= depth):
                            fail(ErrorCode.WGT_RANGE)
                            m.next = "DISCARD"
                            with m.If(s.tlast):
                                m.next = "HEADER"
                        with m.Else():
                            self._write(m, mem, addr, word, s.tdata, beat)
                            with m.If(s.tlast):
                                m.next = "HEADER"
                    with m.Elif(s.tlast):
                        fail(ErrorCode.WGT_TRUNCATED)
                        m.next = "HEADER"
            with m.State("DISCARD"):
                m.d.comb += self.busy.eq(1)
                with m.If(fire & s.tlast):
                    m.next = "HEADER"
        return m

    def _write(self, m, mem, addr, word, tdata, beat):
        # The word's last beat is written straight from tdata, so the write leaves one cycle
        # after the beat instead of two.
        full = Signal.like(word)
        m.d.comb += full.eq(word)
        for i in range(len(word) // 32):
            with m.If(beat == i):
                m.d.comb += full[32 * i:32 * (i + 1)].eq(tdata)
        with m.If(mem == MEMORIES["sine_lut"]):
            m.d.sync += [self.lut.en.eq(1), self.lut.addr.eq(addr), self.lut.data.eq(full[:8])]
        with m.Else():
            m.d.sync += [self.wr.en.eq(1), self.wr.mem.eq(mem), self.wr.addr.eq(addr),
                         self.wr.data.eq(full)]
