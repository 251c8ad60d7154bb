"""Four int8 products per DSP48E2 and fabric cycle: two packed PEs on one slice that runs at
twice the fabric clock."""

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ...plan import LOW_BITS, PUMPED_LATENCY
from . import pe_members

__all__ = ["PumpedPair", "FAST_DOMAIN", "PUMPED_SUM_BITS"]

#: The clock domain of the double-pumped DSP48E2s: twice the ``sync`` frequency, its
#: rising edges aligned with ``sync``'s (one MMCM makes both, PG338's ``dpu_2x_clk``).
FAST_DOMAIN = "fast"

#: Bits of a packed cascade's running sum in fabric: the low field (:data:`accel.plan.LOW_BITS`)
#: and the high field's signed sum of at most :data:`accel.plan.MAX_CASCADE` products of
#: 2**14 with the low field's borrow, 19 bits, with margin.
PUMPED_SUM_BITS = LOW_BITS + 22


class PumpedPair(wiring.Component):
    """Two packed PEs (:class:`~accel.gateware.int8.pair.PackedPair`'s arithmetic: a 27-bit
    packed weight times a shared int8 activation) at rows ``r`` (``x``) and ``r + 1``
    (``y``) of a column pair, sharing one DSP48E2 that runs in :data:`FAST_DOMAIN`.

    In the first half of every fabric cycle the slice multiplies ``x``'s operands, in the
    second ``y``'s; the slice is fully registered (A/B, M and P, all in the fast domain),
    and only a 2:1 operand multiplexer and its phase register sit in front of it. Each PE
    keeps, in fabric (``sync``), its shadow and active weight and its activation register
    (what a single-rate DSP48E2's A and B registers hold), and adds the slice's product to
    its partial sum in a fabric adder: a slice's P register holds one PE's product for
    half a fabric cycle, so the PCIN cascade cannot carry the column's sum here. The
    phase comes from a ``sync`` register that toggles every cycle, sampled by a ``fast``
    one: the two differ in the first half of each fabric cycle whatever their start.

    Each PE has the ports of an INT8 PE (``a_in``, ``swap_in``, ``w_shift``, ``w_in``,
    ...) prefixed ``x_`` or ``y_`` (``y_`` only when ``both``), with ``pcin``/``pcout`` of
    :data:`PUMPED_SUM_BITS` bits: ``pcout = pcin + A * a`` :attr:`LATENCY` cycles after
    ``a_in`` and 1 after ``pcin``; ``a_out`` repeats ``a_in`` :attr:`PASS` cycles later
    (two columns further on). ``y``'s ``a_in`` arrives one cycle after ``x``'s for the
    same query (the array's row skew); the two PEs keep the same latency.

    Paths between the domains: ``sync`` operand registers to the fast A/B registers (half
    a fabric cycle for ``x``'s, a whole one for ``y``'s), and the P register to a ``sync``
    or ``fast`` capture register (half a fabric cycle), each without logic but the
    multiplexer.
    """

    #: Registers between ``a_in`` and ``a_out``, as a packed pair's.
    PASS = 2

    #: Cycles from ``a_in`` to ``pcout`` (:data:`accel.plan.PUMPED_LATENCY`): the fabric
    #: operand registers (1), the slice's A/B, M and P registers (1.5 for ``x``, 2 for
    #: ``y``), a capture register and the fabric adder, ``x``'s padded to ``y``'s.
    LATENCY = PUMPED_LATENCY

    def __init__(self, *, both=True):
        self.both = bool(both)
        members = {}
        for pe in ("x", "y") if self.both else ("x",):
            for name, member in pe_members(a_width=8, w_width=27, sum_in="pcin",
                                           sum_out="pcout",
                                           sum_width=PUMPED_SUM_BITS).items():
                members[f"{pe}_{name}"] = member
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        pes = ("x", "y") if self.both else ("x",)

        # Fabric side of each PE: shadow and active weight, activation register (loaded on
        # the edges a single-rate slice's A and B registers would be), and the pass-through.
        operands = {}
        for pe in pes:
            port = lambda name: getattr(self, f"{pe}_{name}")   # noqa: E731
            shadow = Signal(27, name=f"{pe}_shadow", reset_less=True)
            weight = Signal(27, name=f"{pe}_weight", reset_less=True)
            act = Signal(8, name=f"{pe}_act", reset_less=True)
            with m.If(port("w_shift")):
                m.d.sync += shadow.eq(port("w_in"))
            with m.If(port("swap_in")):
                m.d.sync += weight.eq(shadow)
            m.d.sync += act.eq(port("a_in"))
            operands[pe] = (weight, act)
            a, swap = port("a_in"), port("swap_in")
            for i in range(self.PASS):
                a_next = Signal(8, name=f"{pe}_a_pass{i}", reset_less=True)
                swap_next = Signal(name=f"{pe}_swap_pass{i}", reset_less=True)
                m.d.sync += [a_next.eq(a), swap_next.eq(swap)]
                a, swap = a_next, swap_next
            m.d.comb += [port("a_out").eq(a), port("swap_out").eq(swap),
                         port("w_out").eq(shadow)]

        # Phase: `toggle` flips every fabric cycle; `seen` samples it every fast cycle, so
        # they differ exactly in the first half of a fabric cycle. One pair per operand
        # multiplexer, so that no phase net drives more than one operand's bits.
        def first_half(name):
            toggle = Signal(name=f"{name}_toggle", reset_less=True)
            seen = Signal(name=f"{name}_seen", reset_less=True)
            m.d.sync += toggle.eq(~toggle)
            m.d[FAST_DOMAIN] += seen.eq(toggle)
            return toggle ^ seen

        # The slice: A/B registers take x's operands at the middle of a fabric cycle and
        # y's (or nothing useful) at its end; M, then P.
        wx, ax = operands["x"]
        wy, ay = operands["y"] if self.both else operands["x"]
        areg = Signal(27, reset_less=True)
        breg = Signal(8, reset_less=True)
        mreg = Signal(35, reset_less=True)
        preg = Signal(35, reset_less=True)
        m.d[FAST_DOMAIN] += [
            areg.eq(Mux(first_half("a"), wx, wy)),
            breg.eq(Mux(first_half("b"), ax, ay)),
            mreg.eq(areg.as_signed() * breg.as_signed()),
            preg.eq(mreg),
        ]
        first = first_half("p")

        # P holds x's product in the second half of the fabric cycle after its A/B load
        # and y's in the first half of the next: x's is caught by a sync register at the
        # fabric edge, y's by a fast one at the middle edge, then by a sync one; x's waits
        # one more cycle to share y's latency.
        px = Signal(35, reset_less=True)
        px_late = Signal(35, reset_less=True)
        m.d.sync += [px.eq(preg), px_late.eq(px)]
        products = {"x": px_late}
        if self.both:
            hold = Signal(35, reset_less=True)
            py = Signal(35, reset_less=True)
            with m.If(first):
                m.d[FAST_DOMAIN] += hold.eq(preg)
            m.d.sync += py.eq(hold)
            products["y"] = py
        for pe in pes:
            total = Signal(PUMPED_SUM_BITS, name=f"{pe}_sum", reset_less=True)
            m.d.sync += total.eq(getattr(self, f"{pe}_pcin").as_signed()
                                 + products[pe].as_signed())
            m.d.comb += getattr(self, f"{pe}_pcout").eq(total)
        return m
