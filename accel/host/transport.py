"""The link between host software and a PatchINR core: what :mod:`accel.host.driver` needs.

A transport moves register accesses and stream beats; it knows nothing of the register map
or the beat formats (the driver does). Implement :class:`Transport` for your system, for
example AXI4-Lite through ``/dev/mem`` or a PCIe BAR and the streams through an AXI DMA or
XDMA channel, and the driver works unchanged. This package ships one:
:class:`accel.flows.verilator.VerilatorTransport`, the exported Verilog in Verilator.

Beats are numpy ``uint64`` arrays with ``tdata`` in bits ``[61:0]`` (32 bits on every stream
but a video build's 64-bit coordinate stream, whose 48 used bits fit), ``tuser`` in bit 62
and ``tlast`` in bit 63 (:func:`pack_beats`, :func:`unpack_beats`). Pixels arrive one
entry per pixel: a build with several pixels per ``m_axis_pix`` beat (HWINFO) has its
beats split by the transport (:func:`~accel.host.transport.split_beat`), as a DMA engine writes a wide beat's
pixels to consecutive addresses.
"""

import abc

import numpy as np

__all__ = ["Transport", "TransportTimeout", "pack_beats", "unpack_beats", "split_beat",
           "STREAMS", "TDATA_BITS"]

#: The core's input streams, by the names a transport's :meth:`Transport.send` takes.
STREAMS = ("wgt", "coord")

#: Bits of ``tdata`` a beat carries.
TDATA_BITS = 62
_TUSER, _TLAST = np.uint64(1 << 62), np.uint64(1 << 63)
_MASK = np.uint64((1 << TDATA_BITS) - 1)


class TransportTimeout(RuntimeError):
    """The link gave up waiting for the core (a stream not taken, no answer on the bus)."""


def pack_beats(tdata, tlast):
    """``uint64`` beats from ``tdata`` (up to 62-bit values) and ``tlast`` flags."""
    tdata = np.asarray(tdata, dtype=np.uint64)
    if tdata.size and int(tdata.max()) >> TDATA_BITS:
        raise ValueError(f"tdata is at most {TDATA_BITS} bits wide")
    return tdata | np.where(np.asarray(tlast, dtype=bool), _TLAST, np.uint64(0))


def split_beat(tdata, tlast, tuser, pixels, pixel_bits):
    """The ``uint64`` pixel entries of one ``m_axis_pix`` beat of ``pixels`` pixels of
    ``pixel_bits`` bits (pixel 0 in the low bits, as Xilinx video IP packs several pixels
    per clock): ``tuser`` on the first, ``tlast`` on the last."""
    mask = (1 << pixel_bits) - 1
    tdata = int(tdata)
    out = [(tdata >> (pixel_bits * p)) & mask for p in range(pixels)]
    if tuser:
        out[0] |= int(_TUSER)
    if tlast:
        out[-1] |= int(_TLAST)
    return out


def unpack_beats(beats):
    """``(tdata uint64, tlast bool, tuser bool)`` arrays from ``uint64`` beats."""
    beats = np.asarray(beats, dtype=np.uint64)
    return beats & _MASK, (beats & _TLAST) != 0, (beats & _TUSER) != 0


class Transport(abc.ABC):
    """Register and stream access to one core.

    Contract: :meth:`send` may block until the core has taken every beat, and the output
    stream must keep draining meanwhile (pixels that arrive during a send are kept for the
    next :meth:`receive`), as a DMA with both channels armed does. Timeouts raise
    :class:`TransportTimeout`. A transport is a context manager; :meth:`close` frees it.
    """

    @abc.abstractmethod
    def read(self, offset):
        """The 32-bit register at byte ``offset``; raises on an error response."""

    @abc.abstractmethod
    def write(self, offset, value):
        """Write the 32-bit register at byte ``offset``; raises on an error response."""

    @abc.abstractmethod
    def send(self, stream, beats):
        """Send ``uint64`` beats into input stream ``stream`` (one of :data:`accel.host.transport.STREAMS`)."""

    @abc.abstractmethod
    def receive(self, count, *, timeout):
        """Up to ``count`` pixels from ``m_axis_pix``, one entry each with its beat's
        ``tuser`` on the beat's first pixel and ``tlast`` on its last
        (:func:`~accel.host.transport.split_beat`:
        a build with one pixel per beat has one entry per beat), fewer only if ``timeout``
        core clock cycles pass first (hardware transports convert at their clock: 200 MHz
        makes a million cycles 5 ms)."""

    def reset(self):
        """Reset the core (``aresetn``) if the link can; the weights stay, the registers
        return to their reset values."""
        raise NotImplementedError(f"{type(self).__name__} cannot reset the core")

    def close(self):
        """Release the link."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
