"""Float32 reference of the FP32 datapath: the hardware's arithmetic and operation order.

Every function here computes, bit for bit, what the accelerator's FP32 blocks compute
(:mod:`accel.formats.float32.mul`, :mod:`accel.formats.float32.add`, :mod:`accel.formats.float32.sine`, :mod:`accel.formats.float32.to_pixel`),
and :func:`fp32_forward` chains them in the order the systolic array does.

Values are numpy ``float32`` arrays (anything else raises ``TypeError``: a silent cast from
float64 would round); :func:`to_bits` and :func:`from_bits` convert to and from the raw
binary32 patterns that travel on the hardware's ports. Results' NaNs are always the
canonical pattern, so results compare exactly as bit patterns.

Arithmetic rules (IEEE-754 binary32, round to nearest, ties to even), shared by the hardware
--------------------------------------------------------------------------------------------
* Flush to zero. A subnormal input is read as a zero of its sign (DAZ). A result whose
  magnitude, rounded to 24 significant bits with an unbounded exponent, is below 2**-126
  becomes a zero of the result's sign (FTZ, tininess detected after rounding). Subnormals
  would cost the adder a second normalisation shift and buy nothing for a network whose
  values lie between about 2**-30 and 2**16.
* Overflow rounds to an infinity of the result's sign; infinities otherwise follow IEEE.
* Every NaN result is the canonical quiet NaN ``0x7FC00000``: input payloads are dropped.
* Signs of zeros follow IEEE: ``x + (-x) = +0``, ``(-0) + (-0) = -0``, a product's sign is
  the XOR of its operands' signs.

numpy's own float32 ``+`` and ``*`` are correctly rounded, so :func:`fadd` and :func:`fmul`
are numpy operations plus explicit flushing and NaN canonicalisation; the one place IEEE and
the hardware part ways, a product that IEEE rounds onto the subnormal grid, is rounded to
24 bits in a scaled copy first (see :func:`fmul`).

The sine unit (:func:`fsin`)
----------------------------
``sin(z)`` for any float32 ``z``, in three steps, all in integers:

1. Range reduction to turns, exact for every finite input (a Payne-Hanek reduction by a
   table lookup): with ``z = +-M * 2**(E - 150)`` (``M`` the 24-bit significand, ``E``
   the biased exponent), the phase ``frac(|z| / (2*pi))`` in units of 2**-52 turns is
   ``M * L[E] mod 2**52``, where ``L[E] = floor(2**(E - 98) / (2*pi)) mod 2**52`` is the
   52-bit window of the binary expansion of ``1/(2*pi)`` that exponent ``E`` selects
   (higher bits only add whole turns; lower bits add less than 2**24 units). Its top
   :data:`PHASE_BITS` = 28 bits are the phase (truncated); the phase error is below 2
   units of 2**-28 turns (4.7e-8 rad) for every finite ``z``.
2. A quarter-wave table of 2**10 entries, each the value ``round(sin(pi/2 * i/1024) *
   2**22)`` and the slope to the next entry, interpolated linearly with the phase's low 16
   bits; quadrants 1 and 3 read the table mirrored.
3. The interpolated value (39 bits, units of 2**-38) is rounded once to float32 and given
   the sign of ``z`` XOR the half-period bit, so ``fsin(-z) == -fsin(z)`` for every ``z`` but NaN.

``|z| < 2**-12`` returns ``z`` itself: there ``sin(z)`` rounds to ``z`` in float32.
Infinities and NaN give the canonical NaN.

Error against float64 ``sin`` of the float32 input, measured on 4 M random points and on
the table's segment boundaries and midpoints (``tests/model/test_fp32ref.py`` asserts it):
at most 4.23e-7 over ``|z| <= 100``, and the same over ``|z| <= 1e4`` and up to 1e30. The
parts add up to at most 4.9e-7: linear interpolation ``(pi/2048)**2 / 8 = 2.9e-7``, table
rounding ``2**-23 = 1.2e-7``, phase truncation 4.7e-8, final rounding 3e-8.
"""

from functools import lru_cache

import numpy as np

from .config import COORD_SCALE
from .support.validate import positive_int

__all__ = [
    "CANONICAL_NAN", "to_bits", "from_bits", "fmul", "fadd", "fsin", "f2pixel",
    "sine_table", "phase_window", "fold_weights", "fp32_forward",
    "PHASE_BITS", "WINDOW_BITS", "SINE_INDEX_BITS", "SINE_VALUE_BITS", "SINE_SLOPE_BITS",
    "SINE_FRAC_BITS", "SINE_SMALL_EXP", "SINE_OUT_BITS",
]

#: The quiet NaN every NaN result carries.
CANONICAL_NAN = 0x7FC00000

#: Phase of the sine unit: one turn is ``2**PHASE_BITS``; the top two bits are the quadrant.
PHASE_BITS = 28
#: Width of the product ``M * L[E]`` kept modulo one turn (``PHASE_BITS`` plus 24 guard bits,
#: so that the window's truncation costs less than one phase unit).
WINDOW_BITS = 52
#: Quarter-wave table: ``2**SINE_INDEX_BITS`` entries.
SINE_INDEX_BITS = 10
#: Table values are unsigned fixed point with this many fraction bits (all below 1.0).
SINE_VALUE_BITS = 22
#: Table slopes (next value minus this value), unsigned; ``pi/2 / 1024 * 2**22 < 2**13``.
SINE_SLOPE_BITS = 13
#: Phase bits below the table index: the interpolation weight.
SINE_FRAC_BITS = PHASE_BITS - 2 - SINE_INDEX_BITS
#: Bits of the interpolated magnitude, ``value * 2**SINE_FRAC_BITS + slope * weight <= 2**38``.
SINE_OUT_BITS = SINE_VALUE_BITS + SINE_FRAC_BITS + 1
#: Biased exponents below this (``|z| < 2**-12``) bypass the table: ``sin(z)`` rounds to ``z``.
SINE_SMALL_EXP = 127 - 12

_MIN_NORMAL = np.float32(2.0 ** -126)


def to_bits(x):
    """The binary32 bit patterns (``uint32``) of a float32 array."""
    return _f32(x).view(np.uint32)


def from_bits(u):
    """float32 values of binary32 bit patterns (any integer array, taken modulo 2**32)."""
    return np.asarray(u).astype(np.uint32).view(np.float32)


def _f32(x, name="value"):
    x = np.asarray(x)
    if x.dtype != np.float32:
        raise TypeError(f"{name} must be a float32 array, not {x.dtype}")
    return x


def _flush(x):
    """Zero of the same sign for every magnitude below 2**-126 (DAZ on inputs, FTZ on results)."""
    return np.where(np.abs(x) < _MIN_NORMAL, np.copysign(np.float32(0), x), x)


def _canonical(x):
    return np.where(np.isnan(x), from_bits(CANONICAL_NAN), x)


def fmul(a, b):
    """``a * b`` as the hardware multiplier computes it (flush-to-zero, canonical NaN)."""
    a, b = _flush(_f32(a, "a")), _flush(_f32(b, "b"))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        # Exact: 24 x 24 significand bits fit float64's 53, and the exponents its range.
        exact = a.astype(np.float64) * b.astype(np.float64)
        r = exact.astype(np.float32)
        # IEEE rounds a product below 2**-126 onto the subnormal grid, which can carry it up
        # to 2**-126; the hardware rounds to 24 bits first and flushes after. Scaled by
        # 2**64, such a product is a normal float32 and the cast rounds it to 24 bits; what
        # is still below 2**-126 (2**-62 scaled) flushes, and scaling back is then exact.
        scaled = (exact * 2.0 ** 64).astype(np.float32)
        scaled = np.where(np.abs(scaled) < np.float32(2.0 ** -62),
                          np.copysign(np.float32(0), scaled), scaled)
        tiny = np.abs(exact) < 2.0 ** -125
        r = np.where(tiny, scaled * np.float32(2.0 ** -64), r)
    return _canonical(_flush(r))


def fadd(a, b):
    """``a + b`` as the hardware adder computes it (flush-to-zero, canonical NaN).

    A sum of two normal numbers is a multiple of 2**-149, so a sum below 2**-126 is exact
    and IEEE's gradual underflow and the hardware's flush after rounding see the same value.
    """
    a, b = _flush(_f32(a, "a")), _flush(_f32(b, "b"))
    with np.errstate(over="ignore", invalid="ignore"):
        r = a + b
    return _canonical(_flush(r))


def _inv_two_pi(bits):
    """``floor(2**bits / (2*pi))`` in exact integer arithmetic (Machin's formula)."""
    guard = 64
    one = 1 << (bits + guard)

    def arctan_inv(x):                      # atan(1/x) * one, truncated series
        total = term = one // x
        k, x2, sign = 1, x * x, -1
        while term:
            term //= x2
            k += 2
            total += sign * (term // k)
            sign = -sign
        return total

    pi = 4 * (4 * arctan_inv(5) - arctan_inv(239))      # pi * 2**(bits+guard), +-10 units
    return one * one // (2 * pi) >> guard


@lru_cache(maxsize=None)
def phase_window():
    """``L[E]`` for every biased exponent ``E`` (uint64 [256]): the range-reduction ROM.

    ``L[E] = floor(2**(E - 98) / (2*pi)) mod 2**52``, so that ``M * L[E] mod 2**52`` is the
    phase of ``M * 2**(E - 150)`` in units of 2**-52 turns. ``E = 255`` (inf, NaN) holds 0.
    """
    top = 254 - 150 + WINDOW_BITS                       # largest shift a finite z needs
    c = _inv_two_pi(top)
    mask = (1 << WINDOW_BITS) - 1
    window = [(c >> (top - s)) & mask if s >= 0 else 0
              for s in (e - 150 + WINDOW_BITS for e in range(255))]
    return np.array(window + [0], dtype=np.uint64)


@lru_cache(maxsize=None)
def sine_table():
    """The quarter-wave table: ``(value, slope)``, int64 arrays of ``2**SINE_INDEX_BITS``.

    ``value[i] = round(sin(pi/2 * i / 1024) * 2**22)`` and ``slope[i] = value[i+1] - value[i]``
    with ``value[1024] = 2**22``, so interpolation is continuous and reaches exactly 1.0.
    """
    n = 1 << SINE_INDEX_BITS
    v = np.rint(np.sin(np.pi / 2 * np.arange(n + 1) / n) * (1 << SINE_VALUE_BITS))
    v = v.astype(np.int64)
    return v[:-1], np.diff(v)


def fsin(z):
    """``sin(z)`` as the hardware sine unit computes it (see the module's description)."""
    u = to_bits(_f32(z, "z")).astype(np.uint64)
    sign = (u >> np.uint64(31)).astype(np.int64)
    exp = ((u >> np.uint64(23)) & np.uint64(0xFF)).astype(np.int64)
    mant = (u & np.uint64(0x7FFFFF)) | np.uint64(1 << 23)
    # uint64 products wrap modulo 2**64, which keeps their low 52 bits exact.
    with np.errstate(over="ignore"):
        phase = (mant * phase_window()[exp]) & np.uint64((1 << WINDOW_BITS) - 1)
    phase = (phase >> np.uint64(WINDOW_BITS - PHASE_BITS)).astype(np.int64)
    quadrant = phase >> (PHASE_BITS - 2)
    index = (phase >> SINE_FRAC_BITS) & ((1 << SINE_INDEX_BITS) - 1)
    weight = phase & ((1 << SINE_FRAC_BITS) - 1)
    # Quadrants 1 and 3 run the table backwards: sin(pi/2 + x) = sin(pi/2 - x).
    mirror = (quadrant & 1).astype(bool)
    index = np.where(mirror, index ^ ((1 << SINE_INDEX_BITS) - 1), index)
    weight = np.where(mirror, (1 << SINE_FRAC_BITS) - weight, weight)
    value, slope = sine_table()
    y = (value[index] << SINE_FRAC_BITS) + slope[index] * weight
    mag = (y.astype(np.float64) * 2.0 ** -(SINE_VALUE_BITS + SINE_FRAC_BITS)).astype(np.float32)
    r = np.where((sign ^ (quadrant >> 1)).astype(bool), -mag, mag)
    r = np.where(exp < SINE_SMALL_EXP, _flush(z), r)
    return np.where(exp == 0xFF, from_bits(CANONICAL_NAN), r).astype(np.float32)


def f2pixel(z):
    """uint8 pixel ``clamp(round_half_even(z), 0, 255)`` of float32 ``z``; NaN gives 0."""
    with np.errstate(invalid="ignore"):
        r = np.clip(np.rint(_f32(z, "z").astype(np.float64)), 0, 255)
    return np.where(np.isnan(r), 0, r).astype(np.uint8)


def fold_weights(fp32_layers, omega0):
    """The FP32 datapath's weights ``[(W', b'), ...]`` (float32) from the model's layers.

    ``fp32_layers`` are the model file's float32 ``(W [out, in], b [out])``; the first layer
    reads int16 coordinates ``x * 32767``, the last is the linear output layer. Folded in
    float64 and rounded once: first layer ``W' = omega0 * W / 32767``, ``b' = omega0 * b``;
    other sine layers ``W' = omega0 * W``, ``b' = omega0 * b``; output layer
    ``W' = 127.5 * W``, ``b' = 127.5 * (b + 1)`` (the [-1, 1] -> [0, 255] pixel map), so that
    sine layers compute ``fsin(b' + sum W' a)`` and the output ``f2pixel(b' + sum W' a)``.
    """
    if not isinstance(omega0, (int, float)) or isinstance(omega0, bool) or not omega0 > 0:
        raise ValueError(f"omega0 must be a positive number, not {omega0!r}")
    layers = list(fp32_layers)
    if len(layers) < 2:
        raise ValueError(f"a network needs a sine layer and an output layer, not {len(layers)} "
                         f"layer(s)")
    folded = []
    prev_out = None
    for i, layer in enumerate(layers):
        if len(layer) != 2:
            raise ValueError(f"layer {i} must be a (W, b) pair")
        w, b = (np.asarray(x, dtype=np.float64) for x in layer)
        if w.ndim != 2 or b.shape != (w.shape[0],):
            raise ValueError(f"layer {i} has W {w.shape} and b {b.shape}; expected [out, in] "
                             f"and [out]")
        if prev_out is not None and w.shape[1] != prev_out:
            raise ValueError(f"layer {i} takes {w.shape[1]} inputs, layer {i - 1} gives {prev_out}")
        prev_out = w.shape[0]
        if i == len(layers) - 1:
            w, b = 127.5 * w, 127.5 * (b + 1.0)
        elif i == 0:
            w, b = omega0 * w / COORD_SCALE, omega0 * b
        else:
            w, b = omega0 * w, omega0 * b
        folded.append((w.astype(np.float32), b.astype(np.float32)))
    return folded


def fp32_forward(folded, coords_q, *, k_pad):
    """The FP32 datapath: int16 coordinates ``[Q, coords]`` to uint8 pixels ``[Q, n*n*C]``.

    ``folded`` comes from :func:`fold_weights`. Coordinates convert exactly to float32. Each
    output starts at its bias and adds ``fmul(a_k, w_k)`` for ``k = 0, 1, ...`` in order,
    rounding after every operation; the input width is padded with +0.0 activations and
    weights to a multiple of ``k_pad`` (the array's rows), which matters: ``-0 + +0 = +0``.
    Sine layers then apply :func:`fsin`, the output layer :func:`f2pixel`.
    """
    positive_int("k_pad", k_pad)
    coords = np.asarray(coords_q)
    if coords.ndim != 2 or not np.issubdtype(coords.dtype, np.integer):
        raise ValueError(f"coordinates must be an integer array [Q, K], not {coords.dtype} "
                         f"{coords.shape}")
    if coords.size and (coords.min() < -32768 or coords.max() > 32767):
        raise ValueError("coordinates must fit int16")
    a = coords.astype(np.float32)
    for i, (w, b) in enumerate(folded):
        w, b = _f32(w, f"layer {i} W'"), _f32(b, f"layer {i} b'")
        n, k = w.shape
        if a.shape[1] != k:
            raise ValueError(f"layer {i} takes {k} inputs, got {a.shape[1]}")
        kp = -(-k // k_pad) * k_pad
        a = np.pad(a, ((0, 0), (0, kp - k)))
        w = np.pad(w, ((0, 0), (0, kp - k)))
        acc = np.broadcast_to(b, (a.shape[0], n))
        for j in range(kp):
            acc = fadd(acc, fmul(a[:, j, None], w[None, :, j]))
        if i == len(folded) - 1:
            return f2pixel(acc)
        a = fsin(acc)
    raise ValueError("the folded network has no layers")
