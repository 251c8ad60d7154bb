"""A memory whose read is pipelined across its block RAMs.

A memory deeper than one block RAM holds is built from several, side by side in depth, and
its read data is a multiplexer across them. On a device whose block RAMs are spread over
the die (an ECP5's 208 EBRs sit in rows across it) that multiplexer is also a long route:
on the ULX3S 85F the INT8 weight memory's read (20.8 ns, 19.3 of it routing) bounded the
whole core. :class:`BankedMemory` splits such a memory into banks of ``bank_depth`` words
(each fits block RAMs side by side in width, with no multiplexer of its own), registers
every bank's output beside it (zero unless the read is that bank's, which the bank decides
from the address it receives anyway), and joins the banks in a tree of registered
``FAN_IN``-way ORs, so no path crosses more than one hop of it and no select signal
crosses the die to the banks. The read costs :func:`read_latency` cycles instead of one;
:class:`~accel.config.Timing` counts them.
"""

import operator
from functools import reduce

from amaranth import Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from ..config import FAN_IN, read_latency

__all__ = ["BankedMemory", "add_memory", "read_latency", "FAN_IN"]


class _Ports:
    """A plain memory's ports under :class:`BankedMemory`'s names."""

    def __init__(self, wp, rp):
        self.w_en, self.w_addr, self.w_data = wp.en, wp.addr, wp.data
        self.r_addr, self.r_data = rp.addr, rp.data
        self.latency = 1


def add_memory(m, name, *, width, depth, bank_depth=None, init=(), latency=None):
    """A memory as submodule ``name`` of ``m``, with :class:`BankedMemory`'s ports
    (``w_en``, ``w_addr``, ``w_data``, ``r_addr``, ``r_data``, ``latency``): a
    :class:`BankedMemory` when it is banked or must wait, else a plain
    ``lib.memory.Memory`` with its ports as they are (the netlist the XCVU9P's builds
    have always had)."""
    if read_latency(depth, bank_depth) == 1 and latency in (None, 1):
        mem = memory.Memory(shape=width, depth=depth, init=list(init))
        m.submodules[name] = mem
        return _Ports(mem.write_port(), mem.read_port())
    mem = BankedMemory(width=width, depth=depth, bank_depth=bank_depth, init=init,
                       latency=latency)
    m.submodules[name] = mem
    return mem

class BankedMemory(wiring.Component):
    """``depth`` words of ``width`` bits, one write and one read port, the read pipelined.

    Parameters
    ----------
    width, depth : int
    bank_depth : int or None
        Words per bank, a power of two (``None``: one bank, a plain memory).
    init : list of int
        Initial contents (the simulator's; synthesis gets them as block RAM contents).
    latency : int or None
        Read latency to present (at least :func:`read_latency`; more adds registers at the
        output, so that memories read together can line up). Default: the least.

    Ports
    -----
    w_en, w_addr, w_data : In
        One word written per cycle.
    r_addr : In
        Word to read; ``r_data`` holds it ``latency`` cycles later. Not transparent:
        a read in the write's cycle gives the old word.
    """

    def __init__(self, *, width, depth, bank_depth=None, init=(), latency=None):
        if bank_depth is not None and (bank_depth < 1 or bank_depth & (bank_depth - 1)):
            raise ValueError(f"bank depth must be a power of two, not {bank_depth}")
        least = read_latency(depth, bank_depth)
        if latency is None:
            latency = least
        if latency < least:
            raise ValueError(f"latency {latency} is below the least, {least}")
        self._width, self._depth, self._init = width, depth, list(init)
        self._bank_depth = bank_depth if least > 1 else None
        self.latency = latency
        addr_bits = max(1, (depth - 1).bit_length())
        super().__init__({"w_en": In(1), "w_addr": In(addr_bits), "w_data": In(width),
                          "r_addr": In(addr_bits), "r_data": Out(width)})

    def elaborate(self, platform):
        m = Module()
        W, D, bd = self._width, self._depth, self._bank_depth
        if bd is None:
            mem = memory.Memory(shape=W, depth=D, init=self._init)
            m.submodules.mem = mem
            wp, rp = mem.write_port(), mem.read_port()
            m.d.comb += [wp.en.eq(self.w_en), wp.addr.eq(self.w_addr),
                         wp.data.eq(self.w_data), rp.addr.eq(self.r_addr)]
            data, done = rp.data, 1
        else:
            data, done = self._banked(m, W, D, bd)
        for i in range(self.latency - done):          # line up with other memories
            reg = Signal(W, name=f"pad{i}", reset_less=True)
            m.d.sync += reg.eq(data)
            data = reg
        m.d.comb += self.r_data.eq(data)
        return m

    def _banked(self, m, W, D, bd):
        low = bd.bit_length() - 1
        banks = -(-D // bd)
        values = []
        for b in range(banks):
            depth = min(bd, D - b * bd)
            mem = memory.Memory(shape=W, depth=depth, init=self._init[b * bd:(b + 1) * bd])
            m.submodules[f"bank{b}"] = mem
            wp, rp = mem.write_port(), mem.read_port()
            m.d.comb += [wp.en.eq(self.w_en & (self.w_addr[low:] == b)),
                         wp.addr.eq(self.w_addr[:low]), wp.data.eq(self.w_data),
                         rp.addr.eq(self.r_addr[:low])]
            # Whether the read is this bank's, decided beside the bank from the address
            # it already receives, and its word registered there, zero unless it is: the
            # tree above only ORs, so no select signal fans out across the die to the
            # banks (on the ULX3S 85F one such select, 10.6 ns of routing, was the core's
            # critical path).
            hit = Signal(name=f"bank{b}_hit", reset_less=True)
            m.d.sync += hit.eq(self.r_addr[low:] == b)
            q = Signal(W, name=f"bank{b}_q", reset_less=True)
            m.d.sync += q.eq(Mux(hit, rp.data, 0))
            values.append(q)
        level = 0
        while len(values) > 1:
            joined = []
            for g in range(0, len(values), FAN_IN):
                out = Signal(W, name=f"tree{level}_{g // FAN_IN}", reset_less=True)
                m.d.sync += out.eq(reduce(operator.or_, values[g:g + FAN_IN]))
                joined.append(out)
            values, level = joined, level + 1
        return values[0], 2 + level

