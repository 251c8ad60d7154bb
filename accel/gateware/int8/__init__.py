"""The INT8 array and its processing elements, laid out for the DSP48E2.

The INT8 datapath does not use the generic :class:`~accel.gateware.pe.ProcessingElement`:
its array (:mod:`.array`) mixes three PEs, each fully registered the way a DSP48E2 (or a
pipelined fabric multiplier) wants it, so that a large array can run at 200 MHz and use
each DSP48E2 for two products:

:mod:`.wide`
    One int16 x int16 product per DSP48E2: the rows that see the first layer's
    coordinates (and any column that is left without a partner).
:mod:`.pair`
    Two int8 x int8 products per DSP48E2, two columns' weights packed against one shared
    activation (AMD WP486); a cascade of at most :data:`accel.plan.MAX_CASCADE` of them
    accumulates before the two sums are split apart.
:mod:`.lut`
    One int8 x int8 product in fabric LUTs, for the columns the DSP48E2s do not cover.
"""

from amaranth.lib.wiring import In, Out


def pe_members(*, a_width, w_width, sum_in, sum_out, sum_width):
    """The ports every INT8 PE has (activation and tile start passing right, the shadow
    weight's load, the partial sum passing down), named as the PE's sum ports are."""
    return {
        "a_in":     In(a_width),
        "swap_in":  In(1),
        "a_out":    Out(a_width),
        "swap_out": Out(1),
        "w_shift":  In(1),
        "w_in":     In(w_width),
        "w_out":    Out(w_width),
        sum_in:     In(sum_width),
        sum_out:    Out(sum_width),
    }
