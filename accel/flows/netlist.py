"""What a Yosys ``synth_xilinx`` netlist says about timing, without a timing engine.

:func:`analyse` reads the JSON netlist (``write_json``) of a mapped design and reports, per
module and through its hierarchy:

``logic_depth``
    The deepest register-to-register path (``path``: its nets, from the register or port
    that starts it to ``end``): LUT levels (LUTs, inverters and the slice's
    wide multiplexers each count one) and carry chains (``CARRY4``/``CARRY8`` cells joined
    ``CO`` to ``CI`` are one chain; a path that leaves a chain through a LUT and enters
    another counts two), with the longest chain's cells. Registers, shift-register LUTs,
    block RAM, UltraRAM, DSP48E2 slices and module ports end a path; a path is followed
    into and out of submodules only through their registered ports, so each module is
    measured on its own (every PE port this package writes is a register).
``dsp``
    For every DSP48E2: whether its A and B inputs come straight from registers, whether
    its output goes straight into registers (the M register), and whether those feed,
    through one adder, the next registers (the P register). Yosys's DSP48E2 mapping (0.23,
    0.70) absorbs none of these into the slice (its ``xilinx_dsp`` pass packs DSP48E1
    only); the registers in these positions are what Vivado absorbs (AREG/BREG, MREG,
    PREG), and the cells between them (the M register, the post-adder, the P register) are
    returned as ``absorbed`` so an estimate can count them inside the slice.
``fanout``
    The net with the most loads (clock nets left out), counting a submodule input as the
    loads it has inside.

These are structural facts: they bound how much logic lies between registers and how far
one net must reach, which is what limits 200 MHz on an UltraScale+ part; they say nothing
about placement, routing distance or clock skew, which only place-and-route measures.
"""

import json
from collections import defaultdict
from functools import lru_cache

__all__ = ["analyse", "SEQUENTIAL"]

#: Cell types that end a combinational path.
SEQUENTIAL = ("FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE", "SRL16E", "SRLC16E", "SRLC32E",
              "DSP48E2", "RAMB18E2", "RAMB36E2", "URAM288")
_FF = ("FDRE", "FDSE", "FDCE", "FDPE")
_CARRY = ("CARRY4", "CARRY8")
_LEVEL = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "INV", "MUXF7", "MUXF8", "MUXF9")
_CLOCK_PINS = ("C", "CLK", "CLKARDCLK", "CLKBWRCLK", "WCLK")
_FREE = ("GND", "VCC", "$scopeinfo")


class _Module:
    def __init__(self, name, body):
        self.name = name
        self.ports = body.get("ports", {})
        self.cells = body.get("cells", {})
        self.drivers = {}                       # bit -> (cell, pin) or ("port", name)
        self.loads = defaultdict(list)          # bit -> [(cell, pin)] or ("port", name)
        for pname, p in self.ports.items():
            for bit in p["bits"]:
                if isinstance(bit, int):
                    if p["direction"] == "input":
                        self.drivers[bit] = ("port", pname)
                    else:
                        self.loads[bit].append(("port", pname))
        for cname, cell in self.cells.items():
            dirs = cell.get("port_directions", {})
            for pin, bits in cell["connections"].items():
                for i, bit in enumerate(bits):
                    if not isinstance(bit, int):
                        continue
                    if dirs.get(pin) == "output":
                        self.drivers[bit] = (cname, pin)
                    else:
                        self.loads[bit].append((cname, pin, i))


def analyse(path_or_netlist, top):
    """Figures of module ``top`` of a Yosys JSON netlist (a path or the parsed object).

    Returns
    -------
    dict
        ``logic_depth``: ``{lut_levels, carry_chains, longest_carry_cells}`` of the deepest
        path in ``top`` or any module below it; ``dsp``: ``{count, a_reg, b_reg, m_reg,
        p_reg}`` (slices whose input, multiplier and output registers are in place);
        ``fanout``: ``{max, net}``; ``absorbed``: ``{lut, ff}`` cells a DSP48E2 holds.
    """
    if isinstance(path_or_netlist, dict):
        netlist = path_or_netlist
    else:
        with open(path_or_netlist) as f:
            netlist = json.load(f)
    # Library cells (LUT2, FDRE, ...) may be listed as modules too, as black boxes.
    modules = {name.lstrip("\\"): _Module(name.lstrip("\\"), body)
               for name, body in netlist["modules"].items()
               if not _library(body)}
    if top not in modules:
        raise KeyError(f"no module {top!r} in the netlist")

    def kind(mod, cname):
        return mod.cells[cname]["type"].lstrip("\\")

    @lru_cache(maxsize=None)
    def port_fanout(mname, port, index):
        mod = modules[mname]
        bit = mod.ports[port]["bits"][index]
        return _count_loads(mod, bit)

    def _count_loads(mod, bit):
        n = 0
        for load in mod.loads.get(bit, ()):
            if load[0] == "port":
                n += 1
                continue
            cname, pin, i = load
            t = kind(mod, cname)
            if t in modules:
                n += port_fanout(t, pin, i)
            elif pin not in _CLOCK_PINS:
                n += 1
        return n

    @lru_cache(maxsize=None)
    def module_figures(mname):
        mod = modules[mname]
        depth = {"lut_levels": 0, "carry_chains": 0, "longest_carry_cells": 0, "end": None,
                 "path": []}
        fan = {"max": 0, "net": None}
        dsp = {"count": 0, "a_reg": 0, "b_reg": 0, "m_reg": 0, "p_reg": 0}
        absorbed = {"lut": 0, "ff": 0}
        memo = {}
        came_from = {}                          # bit -> the input bit its arrival came by

        def path_to(bit):
            # Net names from the register (or port) that starts the path to ``bit``.
            out = []
            while bit is not None and len(out) < 64:
                out.append(_net_name(netlist, mname, bit))
                bit = came_from.get(bit)
            return out[::-1]

        def arrival(bit):
            # (LUT levels, carry chains, cells of the chain this bit leaves, or 0)
            if bit in memo:
                return memo[bit]
            memo[bit] = (0, 0, 0)           # cuts combinational loops (there are none)
            drv = mod.drivers.get(bit)
            if drv is None or drv[0] == "port":
                return memo[bit]
            cname, pin = drv
            t = kind(mod, cname)
            if t in SEQUENTIAL or t in modules or t in _FREE:
                return memo[bit]
            cell = mod.cells[cname]
            dirs = cell.get("port_directions", {})
            best, via = (0, 0, 0), None
            for ipin, bits in cell["connections"].items():
                if dirs.get(ipin) == "output":
                    continue
                for b in bits:
                    if not isinstance(b, int):
                        continue
                    lv, ch, cc = arrival(b)
                    if t in _CARRY:
                        if ipin == "CI" and cc:
                            ch, cc = ch, cc + 1
                        else:
                            ch, cc = max(ch, 0) + 1, 1
                    else:
                        lv, cc = lv + (1 if t in _LEVEL else 0), 0
                    if via is None or (lv, ch, cc) > best:
                        best, via = max(best, (lv, ch, cc)), b
            memo[bit] = best
            came_from[bit] = via
            depth["longest_carry_cells"] = max(depth["longest_carry_cells"], best[2])
            return best

        for bit, loads in mod.loads.items():
            n = _count_loads(mod, bit)
            if n > fan["max"]:
                fan = {"max": n, "net": _net_name(netlist, mname, bit)}
            for load in loads:
                if load[0] == "port" or kind(mod, load[0]) in SEQUENTIAL \
                        or kind(mod, load[0]) in modules:
                    lv, ch, _ = arrival(bit)
                    if (lv, ch) > (depth["lut_levels"], depth["carry_chains"]):
                        depth["end"] = _net_name(netlist, mname, bit)
                        depth["path"] = path_to(bit)
                    depth["lut_levels"] = max(depth["lut_levels"], lv)
                    depth["carry_chains"] = max(depth["carry_chains"], ch)
                    break

        for cname, cell in mod.cells.items():
            if kind(mod, cname) != "DSP48E2":
                continue
            dsp["count"] += 1
            conn = cell["connections"]

            def from_ffs(pin):
                bits = [b for b in conn.get(pin, ()) if isinstance(b, int)]
                drv = [mod.drivers.get(b) for b in bits]
                return bool(bits) and all(d and d[0] != "port" and kind(mod, d[0]) in _FF
                                          for d in drv)
            a_ok, b_ok = from_ffs("A"), from_ffs("B")
            p_bits = [b for b in conn.get("P", ()) if isinstance(b, int) and mod.loads.get(b)]
            m_ffs = {ld[0] for b in p_bits for ld in mod.loads[b]}
            m_ok = bool(m_ffs) and all(not isinstance(ld, tuple) or ld[0] != "port"
                                       for b in p_bits for ld in mod.loads[b]) \
                and all(kind(mod, c) in _FF for c in m_ffs)
            p_ok, adder, p_ffs = False, set(), set()
            if m_ok:
                # Forward from the M registers through combinational cells to registers.
                frontier = [ld for c in m_ffs for b in mod.cells[c]["connections"]["Q"]
                            for ld in mod.loads.get(b, ())]
                seen, chains_ok = set(), True
                while frontier:
                    ld = frontier.pop()
                    if ld[0] == "port":
                        chains_ok = False
                        continue
                    c = ld[0]
                    t = kind(mod, c)
                    if t in _FF:
                        p_ffs.add(c)
                        continue
                    if t in SEQUENTIAL or t in modules or c in seen:
                        if t not in _FF and c not in seen:
                            chains_ok = False
                        continue
                    seen.add(c)
                    adder.add(c)
                    dirs = mod.cells[c].get("port_directions", {})
                    for pin, bits in mod.cells[c]["connections"].items():
                        if dirs.get(pin) == "output":
                            for b in bits:
                                if isinstance(b, int):
                                    frontier.extend(mod.loads.get(b, ()))
                p_ok = chains_ok and bool(p_ffs)
            dsp["a_reg"] += a_ok
            dsp["b_reg"] += b_ok
            dsp["m_reg"] += m_ok
            dsp["p_reg"] += p_ok
            if m_ok and p_ok:
                absorbed["ff"] += len(m_ffs) + len(p_ffs)
                absorbed["lut"] += sum(1 for c in adder if kind(mod, c) in _LEVEL)

        # What the submodules below contribute.
        for cname, cell in mod.cells.items():
            t = kind(mod, cname)
            if t in modules:
                sub = module_figures(t)
                sd = sub["logic_depth"]
                if (sd["lut_levels"], sd["carry_chains"]) > (depth["lut_levels"],
                                                             depth["carry_chains"]):
                    depth["end"], depth["path"] = sd["end"], sd["path"]
                for k in ("lut_levels", "carry_chains", "longest_carry_cells"):
                    depth[k] = max(depth[k], sub["logic_depth"][k])
                for k in dsp:
                    dsp[k] += sub["dsp"][k]
                for k in absorbed:
                    absorbed[k] += sub["absorbed"][k]
        return {"logic_depth": depth, "dsp": dsp, "fanout": fan, "absorbed": absorbed}

    return module_figures(top)


def _library(body):
    attrs = body.get("attributes", {})
    return any(str(attrs.get(k, "0")).strip("0") for k in ("blackbox", "whitebox", "lib_whitebox"))


def _net_name(netlist, module, bit):
    for name, net in netlist["modules"].get(module, netlist["modules"].get("\\" + module, {})) \
            .get("netnames", {}).items():
        if bit in net["bits"]:
            return f"{module}.{name.lstrip(chr(92))}"
    return f"{module}.<bit {bit}>"
