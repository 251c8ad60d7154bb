"""One column group of the INT8 array: a packed pair of columns, or one column."""

from amaranth import Const, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from model.support.validate import one_of, positive_int

from ...plan import PE_LATENCY, PUMPED_LATENCY, segments
from .lut import LutPE
from .pair import ROUND, PackedPair, pack_weights, split_sum
from .pumped import PUMPED_SUM_BITS, PumpedPair
from .wide import WidePE

__all__ = ["ColumnGroup", "KINDS"]

#: Kinds of column group: two columns of packed pairs, one column of DSP48E2 PEs, one
#: column of LUT PEs (each below the wide rows, which every group has).
KINDS = ("pair", "wide", "lut")


class ColumnGroup(wiring.Component):
    """``rows`` rows of one or two array columns (:class:`~accel.plan.ArrayPlan`), with their
    weight-load pipeline, cascade splits and partial-sum delay lines.

    Every group of a kind and height is the same design, so the exported Verilog holds it
    once (:func:`accel.flows.export.share_pes`). The timing is the array's
    (:class:`~.array.Int8Array`), with column 0 of the group at time 0.

    Ports
    -----
    a : In(ArrayLayout(16, rows)), swap : In(rows)
        Each row's activation and tile start from the left; ``a_out``/``swap_out``
        leave on the right, ``width`` cycles later.
    w : In(ArrayLayout(16, width)), w_shift : In(width)
        Each column's weight word and shift (column ``j`` ``j`` cycles after column 0).
    psum_top : In(ArrayLayout(32, width)), psum_bottom : Out(ArrayLayout(32, width))
        Partial sums, ``rows + 3`` cycles apart (``rows + 5`` in a pumped array, whose
        every group is padded to its pumped pairs' latency).

    A ``pumped`` pair group puts rows ``wide_rows + 2k`` and ``wide_rows + 2k + 1`` on one
    :class:`~accel.gateware.int8.pumped.PumpedPair` (a DSP48E2 in the ``fast`` domain);
    the other kinds are the same in a pumped array, only delayed to its latency.
    """

    def __init__(self, *, kind, rows, wide_rows, pumped=False):
        one_of("column group kind", kind, KINDS)
        positive_int("column group rows", rows)
        positive_int("column group wide rows", wide_rows)
        if wide_rows > rows:
            raise ValueError(f"column group wide rows must be at most the rows ({rows}), "
                             f"not {wide_rows!r}")
        if kind == "pair" and wide_rows == rows:
            raise ValueError("a pair group needs rows below the wide rows")
        self.kind, self.rows, self.wide_rows = kind, rows, wide_rows
        self.pumped = bool(pumped)
        #: Cycles from a packed PE's activation to its sum, which sets every group's
        #: latency in the array.
        self.pe_latency = PUMPED_LATENCY if self.pumped else PE_LATENCY
        self.width = 2 if kind == "pair" else 1
        super().__init__({
            "a":           In(data.ArrayLayout(16, rows)),
            "swap":        In(rows),
            "a_out":       Out(data.ArrayLayout(16, rows)),
            "swap_out":    Out(rows),
            "w":           In(data.ArrayLayout(16, self.width)),
            "w_shift":     In(self.width),
            "psum_top":    In(data.ArrayLayout(32, self.width)),
            "psum_bottom": Out(data.ArrayLayout(32, self.width)),
        })

    def elaborate(self, platform):
        m = Module()
        R, W = self.rows, self.wide_rows

        # Nothing here is reset (see WidePE): the delay lines can then be shift-register
        # LUTs, and no reset net reaches across the array.
        def delay(value, cycles, name):
            for i in range(cycles):
                reg = Signal(len(value), name=f"{name}_d{i + 1}", reset_less=True)
                m.d.sync += reg.eq(value)
                value = reg
            return value

        def loads(w_shift, name):
            # The shadow registers load from a pipeline, not a chain with one shift
            # enable: words move down two registers per row and the "capture" token one,
            # so the word for row r meets the token there, r cycles after the burst, and
            # no net drives more than one PE. The token marks the cycle after the last
            # shift of a burst (its word, delayed one cycle, is row 0's).
            last = delay(w_shift, 1, f"{name}_last")
            token = Signal(name=f"{name}_tok0")
            m.d.comb += token.eq(last & ~w_shift)
            tokens = [token]
            for r in range(1, R):
                tokens.append(delay(tokens[-1], 1, f"{name}_tok{r}"))
            return tokens

        def words(first, rows, name):
            """What enters the shadow register of each of ``rows`` rows, from ``first``
            (the word entering the first of them): two registers per row."""
            out = [first]
            for r in range(1, rows):
                out.append(delay(out[-1], 2, f"{name}_{r}"))
            return out

        def wide_column(c, left, psum_top, tokens, w):
            """Column ``c``'s wide rows, taking each row's activation from ``left`` (and
            leaving their own there); returns the cascade's end and the word that enters
            the row below them."""
            pc, ws = psum_top, words(w, W + 1, f"w{c}")
            for r in range(W):
                m.submodules[f"wide_{r}_{c}"] = pe = WidePE()
                m.d.comb += [pe.a_in.eq(left[r][0]), pe.swap_in.eq(left[r][1]),
                             pe.w_shift.eq(tokens[r]), pe.w_in.eq(ws[r]), pe.pcin.eq(pc)]
                left[r] = (pe.a_out, pe.swap_out)
                pc = pe.pcout
            return pc, ws[W]

        left = [(self.a[r], self.swap[r]) for r in range(R)]
        kind, c0 = self.kind, 0
        if kind == "pair":
            # The pair works at its odd column's time: the even column's weights, shifts
            # and sums wait one cycle for the odd one's. Column c's partial sum enters
            # its first row's C port 2 cycles after psum_top (the B and M registers).
            c1 = c0 + 1
            tokens = loads(self.w_shift[c1], f"ld{c0}")
            pc_even, w_even = wide_column(
                c0, left, delay(self.psum_top[c0], 2, f"pt{c0}").as_signed(),
                tokens, delay(self.w[c0], 2, f"wi{c0}"))
            pc_odd, w_odd = wide_column(
                c1, left, delay(self.psum_top[c1], 2, f"pt{c1}").as_signed(),
                tokens, delay(self.w[c1], 1, f"wi{c1}"))
            # Packed rows: cascades cut by `segments`, each tail split into the two
            # columns' sums, which add into 32-bit running sums in fabric.
            sums = [pc_even[:32], pc_odd[:32]]
            ready = [W + 2, W + 3]      # when each is valid, from the even column's time
            packed = words(pack_weights(w_even[:8], w_odd[:8]), (R - W),
                           f"wp{c0}")
            pes = self._packed_pes(m, c0)
            L = self.pe_latency
            r = W
            for length in segments((R - W)):
                pc = Const(ROUND, PUMPED_SUM_BITS if self.pumped else 48)
                for _ in range(length):
                    pe = pes[r - W]
                    a_src, s_src = left[r]
                    m.d.comb += [pe.a_in.eq(a_src[:8]), pe.swap_in.eq(s_src),
                                 pe.w_shift.eq(tokens[r]), pe.w_in.eq(packed[r - W]),
                                 pe.pcin.eq(pc)]
                    left[r] = (pe.a_out, pe.swap_out)
                    pc = pe.pcout
                    r += 1
                tail = r - 1           # its sum is valid at tail + L
                parts = split_sum(pc)
                for j in (0, 1):
                    before = delay(sums[j], tail + L - ready[j], f"ps{c0 + j}_{tail}")
                    after = Signal(32, name=f"ps{c0 + j}_{tail}", reset_less=True)
                    m.d.sync += after.eq(before.as_signed() + parts[j])
                    sums[j], ready[j] = after, tail + L + 1
            m.d.comb += [self.psum_bottom[c0].eq(sums[0]),
                         self.psum_bottom[c1].eq(delay(sums[1], 1, f"pb{c1}"))]
        else:
            # One column: wide rows, then DSP or LUT PEs, one cascade or running sum.
            c = 0
            tokens = loads(self.w_shift[c], f"ld{c}")
            pc, w = wide_column(c, left, delay(self.psum_top[c], 2, f"pt{c}").as_signed(),
                                tokens, delay(self.w[c], 1, f"wi{c}"))
            below = words(w, R - W, f"wb{c}") if W < R else []
            lut_pe = kind == "lut" and W < R
            if lut_pe:
                # A LUT PE takes its partial sum one cycle later than a DSP48E2's PCIN
                # (it has one more stage), and its last row then needs no padding.
                pc = delay(pc[:32], LutPE.LATENCY - WidePE.LATENCY, f"pl{c}")
            for r in range(W, R):
                a_src, s_src = left[r]
                if lut_pe:
                    m.submodules[f"lut_{r}_{c}"] = pe = LutPE()
                    m.d.comb += pe.psum_in.eq(pc[:32])
                    out = pe.psum_out
                else:
                    # The column's sum is 32 bits wide below: a 48-bit P adder would make
                    # the 16-bit product's sign drive 33 of its inputs.
                    m.submodules[f"wide_{r}_{c}"] = pe = WidePE(a_width=8, w_width=8,
                                                                acc_width=32)
                    m.d.comb += pe.pcin.eq(pc)
                    out = pe.pcout
                m.d.comb += [pe.a_in.eq(a_src[:8]), pe.swap_in.eq(s_src),
                             pe.w_shift.eq(tokens[r]), pe.w_in.eq(below[r - W][:8])]
                left[r] = (pe.a_out, pe.swap_out)
                pc = out
            # To the packed pairs' latency (a LUT PE's last row already has it, unpumped).
            pad = (0 if lut_pe else 1) + self.pe_latency - PE_LATENCY
            m.d.comb += self.psum_bottom[c].eq(delay(pc[:32], pad, f"pb{c}"))
        for r in range(R):
            m.d.comb += [self.a_out[r].eq(left[r][0]), self.swap_out[r].eq(left[r][1])]
        return m

    def _packed_pes(self, m, c0):
        """The packed PEs of rows ``wide_rows ..``, in order, as objects with one PE's
        ports: a :class:`~.pair.PackedPair` per row, or a
        :class:`~.pumped.PumpedPair`'s ``x`` and ``y`` per two rows."""
        count = self.rows - self.wide_rows
        if not self.pumped:
            pes = []
            for i in range(count):
                m.submodules[f"pair_{self.wide_rows + i}_{c0}"] = pe = PackedPair()
                pes.append(pe)
            return pes
        pes = []
        for i in range(0, count, 2):
            both = i + 1 < count
            m.submodules[f"pumped_{self.wide_rows + i}_{c0}"] = dsp = PumpedPair(both=both)
            pes += [_Half(dsp, "x")] + ([_Half(dsp, "y")] if both else [])
        return pes


class _Half:
    """One PE of a :class:`~.pumped.PumpedPair`: its ``x_`` or ``y_`` ports by their
    plain names."""

    def __init__(self, dsp, prefix):
        self._dsp, self._prefix = dsp, prefix

    def __getattr__(self, name):
        return getattr(self._dsp, f"{self._prefix}_{name}")
