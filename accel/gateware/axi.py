"""AMBA interface signatures with Xilinx member names.

Flattened into Verilog by :mod:`accel.flows.export` as ``<port>_<member>`` (for example
``s_axis_wgt_tdata``), which Vivado's IP packager infers as AXI4-Stream / AXI4-Lite
interfaces.

AXI4-Stream here follows the same rules as ``amaranth.lib.stream``: ``tvalid`` never
waits for ``tready``, and ``tdata``/``tlast``/``tuser`` hold until the beat transfers
(``tvalid & tready``).
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from model.support.validate import positive_int

__all__ = ["AXIStreamSignature", "AXI4LiteSignature"]


class AXIStreamSignature(wiring.Signature):
    """AXI4-Stream, source view (flip it for a sink).

    Members: ``tdata`` (``data_width``), ``tvalid``, ``tready`` (in), ``tlast``, and
    ``tuser`` (``user_width`` bits) when ``user_width > 0``.
    """

    def __init__(self, data_width, *, user_width=0):
        positive_int("data width", data_width)
        members = {
            "tdata":  Out(data_width),
            "tvalid": Out(1),
            "tready": In(1),
            "tlast":  Out(1),
        }
        if user_width:
            members["tuser"] = Out(user_width)
        self.data_width, self.user_width = data_width, user_width
        super().__init__(members)

    def __eq__(self, other):
        return (isinstance(other, AXIStreamSignature) and other.data_width == self.data_width
                and other.user_width == self.user_width)

    def __repr__(self):
        return f"AXIStreamSignature({self.data_width}, user_width={self.user_width})"


class AXI4LiteSignature(wiring.Signature):
    """AXI4-Lite, manager (master) view; a register block uses ``.flip()``.

    32-bit data, byte addresses of ``addr_width`` bits, no ``prot`` (ignored by the core).
    """

    def __init__(self, *, addr_width=12):
        if not isinstance(addr_width, int) or not 2 < addr_width <= 32:
            raise ValueError(f"address width must be an integer in 3..32, not {addr_width!r}")
        self.addr_width = addr_width
        super().__init__({
            "awaddr":  Out(addr_width), "awvalid": Out(1), "awready": In(1),
            "wdata":   Out(32), "wstrb": Out(4), "wvalid": Out(1), "wready": In(1),
            "bresp":   In(2), "bvalid": In(1), "bready": Out(1),
            "araddr":  Out(addr_width), "arvalid": Out(1), "arready": In(1),
            "rdata":   In(32), "rresp": In(2), "rvalid": In(1), "rready": Out(1),
        })

    def __eq__(self, other):
        return isinstance(other, AXI4LiteSignature) and other.addr_width == self.addr_width

    def __repr__(self):
        return f"AXI4LiteSignature(addr_width={self.addr_width})"
