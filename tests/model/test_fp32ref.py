import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from accel.flows.fp32_check import SPECIALS, random_floats
from model import fp32ref as ref
from tests.fp32_cases import carry_pairs, float_bits, ftz_boundary_pairs, oracle_add, oracle_mul

F = ref.from_bits


def bits_of(fn, a, b):
    return int(ref.to_bits(fn(F(np.uint32(a)), F(np.uint32(b)))))


# fmul / fadd against the exact rational oracle --------------------------------------------

@settings(max_examples=500, deadline=None)
@given(float_bits(), float_bits())
def test_fmul_matches_oracle(a, b):
    assert bits_of(ref.fmul, a, b) == oracle_mul(a, b)


@settings(max_examples=500, deadline=None)
@given(float_bits(), float_bits())
def test_fadd_matches_oracle(a, b):
    assert bits_of(ref.fadd, a, b) == oracle_add(a, b)


@pytest.mark.parametrize("fn, oracle", [(ref.fmul, oracle_mul), (ref.fadd, oracle_add)])
def test_vectorised_matches_oracle(fn, oracle):
    rng = np.random.default_rng(7)
    a, b = random_floats(rng, 4000), random_floats(rng, 4000)
    got = ref.to_bits(fn(F(a), F(b)))
    want = [oracle(int(x), int(y)) for x, y in zip(a, b)]
    assert got.tolist() == want


def test_specials_cross_product():
    a, b = np.meshgrid(SPECIALS, SPECIALS)
    for fn, oracle in ((ref.fmul, oracle_mul), (ref.fadd, oracle_add)):
        got = ref.to_bits(fn(F(a.ravel()), F(b.ravel())))
        assert got.tolist() == [oracle(int(x), int(y)) for x, y in zip(a.ravel(), b.ravel())]


def test_directed_hard_cases():
    for a, b in ftz_boundary_pairs():
        assert bits_of(ref.fmul, a, b) == oracle_mul(a, b)
    for op, a, b in carry_pairs():
        fn, oracle = (ref.fmul, oracle_mul) if op == "mul" else (ref.fadd, oracle_add)
        assert bits_of(fn, a, b) == oracle(a, b)


# Known IEEE facts ---------------------------------------------------------------------------

def test_normal_results_equal_numpy():
    """Where operands and result are normal, the reference is plain IEEE float32."""
    rng = np.random.default_rng(1)
    a = (rng.standard_normal(200_000) * np.exp2(rng.integers(-60, 60, 200_000))).astype(np.float32)
    b = (rng.standard_normal(200_000) * np.exp2(rng.integers(-60, 60, 200_000))).astype(np.float32)
    for fn, want in ((ref.fmul, a * b), (ref.fadd, a + b)):
        normal = np.isfinite(want) & (np.abs(want) >= np.float32(2.0 ** -126))
        assert normal.mean() > 0.9
        assert np.array_equal(ref.to_bits(fn(a, b))[normal], ref.to_bits(want)[normal])


def test_zero_signs():
    x = np.float32(1.5)
    assert bits_of(ref.fadd, ref.to_bits(x), ref.to_bits(-x)) == 0x00000000
    assert bits_of(ref.fadd, 0x80000000, 0x80000000) == 0x80000000
    assert bits_of(ref.fadd, 0x80000000, 0x00000000) == 0x00000000
    assert bits_of(ref.fmul, 0x80000000, 0x3F800000) == 0x80000000
    assert bits_of(ref.fmul, 0x80000000, 0xBF800000) == 0x00000000


def test_flush_to_zero():
    # Subnormal operands are zeros of their sign.
    assert bits_of(ref.fadd, 0x807FFFFF, 0x80000000) == 0x80000000
    assert bits_of(ref.fadd, 0x00000001, 0x00800000) == 0x00800000
    assert bits_of(ref.fmul, 0x807FFFFF, 0x7F7FFFFF) == 0x80000000
    # A subnormal sum flushes to a zero of its sign (the exact sum is -2**-127).
    assert bits_of(ref.fadd, 0x00800000, 0x80C00000) == 0x80000000
    # 2**-126 * 0.5 flushes; 2**-126 * 1 does not.
    assert bits_of(ref.fmul, 0x00800000, 0x3F000000) == 0x00000000
    assert bits_of(ref.fmul, 0x00800000, 0x3F800000) == 0x00800000


def test_ftz_is_decided_after_24_bit_rounding():
    """The tie pair's product, 2**-126 - 2**-151, rounds to 2**-126 and stays normal; one
    that IEEE would round up onto 2**-126 only on the subnormal grid is flushed."""
    tie_a, tie_b = ftz_boundary_pairs()[0]
    assert bits_of(ref.fmul, tie_a, tie_b) == 0x00800000
    flushed = 0
    for a, b in ftz_boundary_pairs():
        ieee = ref.to_bits(F(np.uint32(a)) * F(np.uint32(b)))
        if ieee & 0x7FFFFFFF == 0x00800000 and bits_of(ref.fmul, a, b) & 0x7FFFFFFF == 0:
            flushed += 1
    assert flushed > 0


def test_overflow_and_nan():
    assert bits_of(ref.fmul, 0x7F7FFFFF, 0x40000000) == 0x7F800000
    assert bits_of(ref.fmul, 0xFF7FFFFF, 0x40000000) == 0xFF800000
    # Largest finite plus half its ulp is a tie; even is upwards, to infinity.
    assert bits_of(ref.fadd, 0x7F7FFFFF, 0x73000000) == 0x7F800000
    assert bits_of(ref.fadd, 0x7F7FFFFF, 0x72FFFFFF) == 0x7F7FFFFF
    for a, b in ((0x7F800000, 0xFF800000), (0x7F800001, 0x3F800000),
                 (0xFFC00001, 0x7F800000)):
        assert bits_of(ref.fadd, a, b) == ref.CANONICAL_NAN
    for a, b in ((0x7F800000, 0x00000000), (0x7F800000, 0x00000001),   # DAZ: inf * 0
                 (0xFF800001, 0x3F800000)):
        assert bits_of(ref.fmul, a, b) == ref.CANONICAL_NAN
    assert bits_of(ref.fadd, 0x7F800000, 0x7F800000) == 0x7F800000


def test_inputs_must_be_float32():
    with pytest.raises(TypeError, match="a must be a float32 array, not float64"):
        ref.fmul(np.float64(1), np.float32(1))
    with pytest.raises(TypeError, match="z must be a float32"):
        ref.fsin(1.0)


# Sine ----------------------------------------------------------------------------------------

def test_inverse_two_pi_bits():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.prec = 400
    assert ref._inv_two_pi(160) == int(mpmath.floor(mpmath.mpf(2) ** 160 / (2 * mpmath.pi)))


def test_sine_tables():
    value, slope = ref.sine_table()
    assert len(value) == 1 << ref.SINE_INDEX_BITS
    assert value[0] == 0 and value[-1] + slope[-1] == 1 << ref.SINE_VALUE_BITS
    assert value.max() < 1 << ref.SINE_VALUE_BITS
    assert 0 <= slope.min() and slope.max() < 1 << ref.SINE_SLOPE_BITS
    window = ref.phase_window()
    assert window.max() < 1 << ref.WINDOW_BITS and window[0xFF] == 0


@pytest.mark.parametrize("limit", [100.0, 1e4])
def test_sine_error(limit):
    """The error bound the docstrings state (4.3e-7) holds on random points and on the
    table's segment boundaries and midpoints."""
    rng = np.random.default_rng(3)
    z = rng.uniform(-limit, limit, 500_000).astype(np.float32)
    turns = np.arange(0, 2 * 4096 * 4) / (2 * 4096)        # half-segment grid, four turns
    z = np.concatenate([z, (2 * np.pi * turns).astype(np.float32)])
    err = np.abs(ref.fsin(z).astype(np.float64) - np.sin(z.astype(np.float64)))
    assert err.max() < 4.3e-7


def test_sine_special_values():
    z = np.float32([0.0, -0.0, 1e-40, -1e-40, 2.0 ** -13, -1e-5, np.inf, -np.inf, np.nan])
    got = ref.to_bits(ref.fsin(z))
    want = ref.to_bits(np.float32([0.0, -0.0, 0.0, -0.0, 2.0 ** -13, -1e-5, 0, 0, 0]))
    assert got[:6].tolist() == want[:6].tolist()
    assert (got[6:] == ref.CANONICAL_NAN).all()
    assert ref.fsin(np.float32(np.pi / 2)) == 1.0


def test_sine_small_bypass_is_correctly_rounded():
    """Below 2**-12, sin(z) rounds to z itself, so returning z is exact."""
    z = np.exp2(np.random.default_rng(4).uniform(-30, -12, 100_000)).astype(np.float32)
    assert np.array_equal(np.sin(z.astype(np.float64)).astype(np.float32), z)
    assert np.array_equal(ref.fsin(z), z)


@settings(max_examples=300, deadline=None)
@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_sine_is_odd(z):
    z = np.float32(z)
    assert ref.to_bits(ref.fsin(-z)) == ref.to_bits(-ref.fsin(z))


# Pixels ---------------------------------------------------------------------------------------

def test_f2pixel():
    z = np.float32([-1.0, -0.0, 0.0, 0.5, 1.5, 2.5, 254.5, 255.0, 255.49998, 255.5, 300.0,
                    np.inf, -np.inf, np.nan, 1e-40, 127.50001])
    assert ref.f2pixel(z).tolist() == [0, 0, 0, 0, 2, 2, 254, 255, 255, 255, 255,
                                       255, 0, 0, 0, 128]


# Weight folding and the forward pass ------------------------------------------------------------

def _network(rng, widths):
    return [((rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32),
             (0.1 * rng.standard_normal(o)).astype(np.float32))
            for i, o in zip(widths[:-1], widths[1:])]


def test_fold_weights():
    rng = np.random.default_rng(5)
    layers = _network(rng, [2, 8, 8, 4])
    folded = ref.fold_weights(layers, 30.0)
    (w0, b0), (w1, b1), (w2, b2) = folded
    assert all(w.dtype == np.float32 and b.dtype == np.float32 for w, b in folded)
    assert np.array_equal(w0, (30.0 * layers[0][0].astype(np.float64) / 32767).astype(np.float32))
    assert np.array_equal(b1, (30.0 * layers[1][1].astype(np.float64)).astype(np.float32))
    assert np.array_equal(b2, (127.5 * (layers[2][1].astype(np.float64) + 1)).astype(np.float32))


@pytest.mark.parametrize("layers, omega0, message", [
    ([], 30.0, "needs a sine layer and an output layer"),
    ([(np.zeros((4, 2)), np.zeros(4)), (np.zeros((3, 5)), np.zeros(3))], 30.0,
     "layer 1 takes 5 inputs, layer 0 gives 4"),
    ([(np.zeros((4, 2)), np.zeros(3)), (np.zeros((3, 4)), np.zeros(3))], 30.0,
     r"layer 0 has W \(4, 2\) and b \(3,\)"),
    ([(np.zeros((4, 2)), np.zeros(4)), (np.zeros((3, 4)), np.zeros(3))], 0, "omega0"),
])
def test_fold_weights_rejects(layers, omega0, message):
    with pytest.raises(ValueError, match=message):
        ref.fold_weights(layers, omega0)


def _scalar_forward(folded, coords, k_pad):
    """The operation order spelt out one scalar at a time."""
    out = []
    for query in coords:
        a = [np.float32(c) for c in query]
        for i, (w, b) in enumerate(folded):
            kp = -(-len(a) // k_pad) * k_pad
            a = a + [np.float32(0)] * (kp - len(a))
            nxt = []
            for j in range(w.shape[0]):
                acc = b[j]
                for k in range(kp):
                    wk = w[j, k] if k < w.shape[1] else np.float32(0)
                    acc = ref.fadd(acc, ref.fmul(a[k], wk))
                nxt.append(acc)
            last = i == len(folded) - 1
            a = [ref.f2pixel(v) if last else ref.fsin(v) for v in nxt]
        out.append([int(v) for v in a])
    return np.array(out, dtype=np.uint8)


def test_forward_operation_order():
    rng = np.random.default_rng(6)
    folded = ref.fold_weights(_network(rng, [2, 7, 5, 4]), 30.0)
    coords = rng.integers(-32767, 32768, (6, 2))
    got = ref.fp32_forward(folded, coords, k_pad=4)
    assert np.array_equal(got, _scalar_forward(folded, coords, 4))


def test_forward_is_close_to_float64():
    rng = np.random.default_rng(8)
    layers = _network(rng, [2, 32, 32, 32, 12])
    folded = ref.fold_weights(layers, 30.0)
    coords = rng.integers(-32767, 32768, (512, 2))
    got = ref.fp32_forward(folded, coords, k_pad=8).astype(int)
    a = coords / 32767.0
    for w, b in layers[:-1]:
        a = np.sin(30.0 * (a @ w.T.astype(np.float64) + b))
    w, b = layers[-1]
    want = np.clip(np.rint(127.5 * (a @ w.T.astype(np.float64) + b + 1)), 0, 255)
    assert np.abs(got - want).max() <= 1


@pytest.mark.parametrize("kwargs, message", [
    ({"coords_q": np.zeros((3, 2), int), "k_pad": 0}, "k_pad must be a positive integer"),
    ({"coords_q": np.zeros((3, 3), int), "k_pad": 4}, "layer 0 takes 2 inputs, got 3"),
    ({"coords_q": np.full((3, 2), 40000), "k_pad": 4}, "must fit int16"),
    ({"coords_q": np.zeros((3, 2)), "k_pad": 4}, "integer array"),
])
def test_forward_rejects(kwargs, message):
    folded = ref.fold_weights(_network(np.random.default_rng(0), [2, 4, 3]), 30.0)
    with pytest.raises(ValueError, match=message):
        ref.fp32_forward(folded, **kwargs)
