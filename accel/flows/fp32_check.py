"""Stream random operands through the FP32 blocks in the simulator and compare them, bit for
bit, with :mod:`model.fp32ref`.

Each unit runs as one simulation that takes a new operand set every cycle. Operands mix
uniformly random bit patterns, values of ordinary magnitude, special values (zeros,
subnormals, extreme finite values, infinities, NaNs) and operands aimed at each unit's
hard cases (see :func:`make_operands`). Prints one line per unit with the mismatch count
and wall time, and the first mismatches; exits 1 if any unit mismatched.

The command line is ``python -m accel.check_fp32`` (:mod:`accel.cli.check_fp32`); the
tests call the same functions with fewer operands.
"""

import time
from dataclasses import dataclass, field

import numpy as np
from amaranth.sim import Simulator

from model import fp32ref as ref

from ..config import CLOCK_HZ
from ..formats.float32.add import FpAdd
from ..formats.float32.from_int import IntToFp32
from ..formats.float32.mul import FpMul
from ..formats.float32.sine import FpSine
from ..formats.float32.to_pixel import FpToPixel
from ..formats.fp32 import DualArithmetic, Fp32Arithmetic

__all__ = ["SPECIALS", "run_pipeline", "random_floats", "make_operands", "reference",
           "check_operands", "check_unit", "UNITS", "UnitResult"]

#: Bit patterns every float operand stream should contain.
SPECIALS = np.array([
    0x00000000, 0x80000000,                 # +-0
    0x00000001, 0x80000001,                 # smallest subnormals
    0x007FFFFF, 0x807FFFFF,                 # largest subnormals
    0x00800000, 0x80800000,                 # smallest normals, 2**-126
    0x00800001, 0x00FFFFFF,
    0x7F7FFFFF, 0xFF7FFFFF,                 # largest finite
    0x7F000000, 0x7EFFFFFF,
    0x7F800000, 0xFF800000,                 # infinities
    0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FFFFFFF, 0xFFBFFFFF,   # quiet and signalling NaNs
    0x3F800000, 0xBF800000, 0x3FFFFFFF, 0x3F7FFFFF, 0x3F800001,   # 1, around 1 and 2
    0x3F000000, 0x4B000000, 0x4B7FFFFF, 0x33800000,
], dtype=np.uint32)


def run_pipeline(dut, inputs, output, *, latency):
    """Present one operand set per cycle to ``dut`` and collect ``output`` ``latency``
    cycles later, in one simulation.

    ``inputs`` maps port names to equal-length integer sequences. Returns the output
    values as a uint64 array. A producer and a consumer testbench run side by side; a
    combinational block (``latency == 0``) is driven and read by one testbench.
    """
    columns = {name: np.asarray(v).tolist() for name, v in inputs.items()}
    n = len(next(iter(columns.values())))
    ports = [(getattr(dut, name), values) for name, values in columns.items()]
    out_port = getattr(dut, output)
    results = [0] * n

    async def producer(ctx):
        for i in range(n):
            for port, values in ports:
                ctx.set(port, values[i])
            if latency == 0:
                results[i] = ctx.get(out_port)
            else:
                await ctx.tick()

    async def consumer(ctx):
        await ctx.tick().repeat(latency)
        for i in range(n):
            results[i] = ctx.get(out_port)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_testbench(producer)
    if latency:
        sim.add_clock(1 / CLOCK_HZ)
        sim.add_testbench(consumer)
    sim.run()
    return np.array(results, dtype=np.uint64)


def random_floats(rng, n):
    """``n`` binary32 bit patterns (uint32): a mixture of uniformly random patterns,
    ordinary magnitudes (2**-24 .. 2**24), :data:`SPECIALS`, and the exponents and
    fractions at the edges of the format."""
    bits = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    kind = rng.integers(0, 10, n)
    sign = rng.integers(0, 2, n, dtype=np.uint32) << 31
    frac = bits & 0x7FFFFF
    ordinary = (kind >= 3) & (kind < 7)
    exp = rng.integers(127 - 24, 127 + 25, n).astype(np.uint32)
    bits = np.where(ordinary, sign | (exp << 23) | frac, bits)
    bits = np.where(kind == 7, rng.choice(SPECIALS, n), bits)
    edge_exp = rng.choice(np.array([0, 1, 2, 125, 126, 127, 128, 253, 254, 255], np.uint32), n)
    edge_frac = rng.choice(np.array([0, 1, 2, 0x400000, 0x7FFFFE, 0x7FFFFF], np.uint32), n)
    edge_frac = np.where(rng.integers(0, 2, n) == 1, edge_frac, frac)
    bits = np.where(kind >= 8, sign | (edge_exp << 23) | edge_frac, bits)
    return bits.astype(np.uint32)


def _nudge(rng, bits, spread):
    """Bit patterns moved by up to ``spread`` units in the last place (wrapping is harmless)."""
    step = rng.integers(-spread, spread + 1, len(bits))
    return (bits.astype(np.int64) + step).astype(np.uint32)


def _quotients(rng, a, n):
    """Bit patterns ``b`` with ``a * b`` within a few ulps of a power of two: products that
    round up into the next binade, to the smallest normal (FTZ boundary) or to overflow."""
    target = rng.choice(np.array([-126, -125, 0, 1, 64, 127, 128]), n)
    target = np.where(rng.integers(0, 2, n) == 1, target, rng.integers(-140, 140, n))
    with np.errstate(all="ignore"):
        b = (np.ldexp(1.0, target) / ref.from_bits(a).astype(np.float64)).astype(np.float32)
    return _nudge(rng, ref.to_bits(b), 2)


def _mul_operands(rng, n):
    a, b = random_floats(rng, n), random_floats(rng, n)
    aimed = rng.integers(0, 4, n) == 0
    ordinary = ref.to_bits(rng.uniform(1, 2, n).astype(np.float32))
    a = np.where(aimed, ordinary, a)
    return {"a": a, "b": np.where(aimed, _quotients(rng, a, n), b)}


def _add_operands(rng, n):
    a, b = random_floats(rng, n), random_floats(rng, n)
    kind = rng.integers(0, 8, n)
    sign = rng.integers(0, 2, n, dtype=np.uint32) << 31
    with np.errstate(all="ignore"):
        # Cancellation: b within a few ulps of -a.
        b = np.where(kind == 0, _nudge(rng, a ^ np.uint32(1 << 31), 3), b)
        # Every alignment distance, up to those that leave only the sticky bit.
        scale = rng.uniform(1, 2, n) * np.ldexp(1.0, -rng.integers(0, 32, n))
        near = ref.to_bits((ref.from_bits(a).astype(np.float64) * scale).astype(np.float32))
        b = np.where(kind == 1, near ^ sign, b)
        # a just below a power of two plus a fraction of its ulp: carries into the next
        # binade, ties included.
        exp = rng.integers(1, 254, n).astype(np.uint32) << 23
        top = sign | exp | (0x7FFFFF - rng.integers(0, 4, n)).astype(np.uint32)
        ulps = rng.choice(np.array([0.25, 0.5, 0.75, 1.0, 1.5, 2.5]), n)
        small = ref.from_bits(top).astype(np.float64) * 2.0 ** -23 * ulps
        a = np.where(kind == 2, top, a)
        b = np.where(kind == 2, ref.to_bits(small.astype(np.float32)), b)
    return {"a": a, "b": b}


def _mac_operands(rng, n):
    ops = _mul_operands(rng, n)
    psum = random_floats(rng, n)
    # Partial sums that (nearly) cancel the product.
    product = ref.fmul(ref.from_bits(ops["a"]), ref.from_bits(ops["b"]))
    cancel = _nudge(rng, ref.to_bits(product) ^ np.uint32(1 << 31), 2)
    psum = np.where(rng.integers(0, 4, n) == 0, cancel, psum)
    return {"a": ops["a"], "w": ops["b"], "psum_in": psum}


def _sine_operands(rng, n):
    x = random_floats(rng, n)
    kind = rng.integers(0, 10, n)
    sign = rng.integers(0, 2, n, dtype=np.uint32) << 31
    pick = [
        rng.uniform(-100, 100, n),
        rng.uniform(-100, 100, n),
        rng.uniform(-100, 100, n),
        np.exp2(rng.uniform(-14, 24, n)),
        np.pi / 2048 * rng.integers(0, 1 << 20, n),       # table segment and quadrant ends
        np.ldexp(1.0, -12) * rng.uniform(0.5, 2, n),      # around the small-argument bypass
    ]
    for k, values in enumerate(pick):
        bits = ref.to_bits(values.astype(np.float32)) | sign
        x = np.where(kind == k, _nudge(rng, bits, 1) if k >= 4 else bits, x)
    return {"x": x}


def _pixel_operands(rng, n):
    x = random_floats(rng, n)
    kind = rng.integers(0, 5, n)
    x = np.where(kind == 0, ref.to_bits(rng.uniform(-10, 270, n).astype(np.float32)), x)
    halves = ref.to_bits((rng.integers(-3, 262, n) + 0.5).astype(np.float32))
    x = np.where(kind == 1, _nudge(rng, halves, 1), x)
    x = np.where(kind == 2, ref.to_bits(rng.uniform(-1, 1, n).astype(np.float32)), x)
    return {"x": x}


def _int_operands(rng, n):
    values = np.concatenate([[-32768, -1, 0, 1, 32767], rng.integers(-32768, 32768, n)])
    return {"x": values[:n].astype(np.int64) & 0xFFFF}


def _dual_operands(rng, n):
    """INT8 operand sets, then FP32 ones; the INT8 half carries junk in its unused bits."""
    half = n // 2
    junk = rng.integers(0, 1 << 32, (2, half))
    a = (rng.integers(-32768, 32768, half) & 0xFFFF) | (junk[0] & ~0xFFFF)
    w = (rng.integers(-32768, 32768, half) & 0xFFFF) | (junk[1] & ~0xFFFF)
    psum = rng.integers(-(1 << 31), 1 << 31, half) & 0xFFFFFFFF
    fp = _mac_operands(rng, n - half)
    return {"a": np.concatenate([a, fp["a"]]).astype(np.uint64),
            "w": np.concatenate([w, fp["w"]]).astype(np.uint64),
            "psum_in": np.concatenate([psum, fp["psum_in"]]).astype(np.uint64),
            "mode": np.concatenate([np.zeros(half), np.ones(n - half)]).astype(np.uint64)}


def _signed(x, bits):
    """The low ``bits`` of ``x`` as two's complement integers."""
    x = x.astype(np.int64) & ((1 << bits) - 1)
    return x - ((x >> (bits - 1)) << bits)


def _fp_mac(ops):
    f = ref.from_bits
    product = ref.fmul(f(ops["a"]), f(ops["w"]))
    return ref.to_bits(ref.fadd(f(ops["psum_in"]), product))


def _dual_mac(ops):
    integer = ops["psum_in"].astype(np.int64) + _signed(ops["a"], 16) * _signed(ops["w"], 16)
    return np.where(ops["mode"] == 1, _fp_mac(ops), integer & 0xFFFFFFFF)


def _int16_to_float(ops):
    return ref.to_bits(_signed(ops["x"], 16).astype(np.float32))


@dataclass(frozen=True)
class _Unit:
    make: object            # () -> component
    operands: object        # (rng, n) -> {port: array}
    output: str
    reference: object       # {port: array} -> expected output array


_F = ref.from_bits
_UNIT_TABLE = {
    "mul":    _Unit(FpMul, _mul_operands, "y",
                    lambda o: ref.to_bits(ref.fmul(_F(o["a"]), _F(o["b"])))),
    "add":    _Unit(FpAdd, _add_operands, "y",
                    lambda o: ref.to_bits(ref.fadd(_F(o["a"]), _F(o["b"])))),
    "mac":    _Unit(lambda: Fp32Arithmetic().mac(), _mac_operands, "psum_out", _fp_mac),
    "dual":   _Unit(lambda: DualArithmetic().mac(), _dual_operands, "psum_out", _dual_mac),
    "sine":   _Unit(FpSine, _sine_operands, "y", lambda o: ref.to_bits(ref.fsin(_F(o["x"])))),
    "pixel":  _Unit(FpToPixel, _pixel_operands, "y", lambda o: ref.f2pixel(_F(o["x"]))),
    "int2fp": _Unit(IntToFp32, _int_operands, "y", _int16_to_float),
}

#: Units :func:`check_unit` knows, in the order the command line runs them.
UNITS = tuple(_UNIT_TABLE)


def make_operands(unit, rng, n):
    """Operand columns (port name -> integer array) of ``n`` sets for ``unit``."""
    return _UNIT_TABLE[unit].operands(rng, n)


def reference(unit, ops):
    """What ``unit`` must output for the operand columns ``ops`` (uint64 array)."""
    return np.asarray(_UNIT_TABLE[unit].reference(ops)).astype(np.uint64)


@dataclass
class UnitResult:
    unit: str
    count: int
    mismatches: int
    seconds: float
    examples: list = field(default_factory=list)    # (operands dict, got, want), first few

    def summary(self):
        return (f"{self.unit:<7} {self.count:>8} operand sets {self.mismatches:>6} mismatches "
                f"{self.seconds:8.1f} s")


def check_operands(unit, operands, *, max_examples=5):
    """Stream the ``operands`` columns (port name -> integers) through ``unit`` in one
    simulation and compare every result with the reference."""
    start = time.monotonic()
    operands = {k: np.asarray(v).astype(np.uint64) for k, v in operands.items()}
    spec = _UNIT_TABLE[unit]
    dut = spec.make()
    if unit == "dual":
        got = _run_dual(dut, operands)
    else:
        got = run_pipeline(dut, operands, spec.output, latency=dut.latency)
    want = reference(unit, operands)
    bad = np.nonzero(got != want)[0]
    examples = [({k: int(v[i]) for k, v in operands.items()}, int(got[i]), int(want[i]))
                for i in bad[:max_examples]]
    return UnitResult(unit, len(got), len(bad), time.monotonic() - start, examples)


def check_unit(unit, *, count, seed=0):
    """:func:`check_operands` on ``count`` operand sets from :func:`make_operands`."""
    start = time.monotonic()
    result = check_operands(unit, make_operands(unit, np.random.default_rng(seed), count))
    result.seconds = time.monotonic() - start
    return result


def _run_dual(dut, ops):
    """A dual MAC changes mode only with its pipeline empty, and answers each mode at its
    own latency (``latency`` in FP32, ``int8_latency`` in INT8): every run of one mode is
    streamed through it on its own."""
    runs = np.split(np.arange(len(ops["mode"])), np.nonzero(np.diff(ops["mode"]))[0] + 1)
    return np.concatenate([
        run_pipeline(dut, {k: v[r] for k, v in ops.items()}, "psum_out",
                     latency=dut.latency if ops["mode"][r[0]] else dut.int8_latency)
        for r in runs if len(r)])
