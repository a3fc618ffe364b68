"""The INT8 packing trick: exhaustive over every (a, b, c) triple, and its accumulation bound."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen import ConfigError
from hwgen.int8pack import (
    MAX_EXACT_TERMS,
    NEGATED_MAX,
    NEGATED_MAX_EXACT_TERMS,
    NEGATED_MIN,
    pack,
    pack_negated,
    packed_dot,
    unpack,
    unpack_negated,
)

V = np.arange(-128, 128, dtype=np.int64)


def test_every_int8_triple_unpacks_exactly():
    """All 256³ = 16,777,216 combinations of a, b (packed) and c (shared operand)."""
    a, b = np.meshgrid(V, V, indexing="ij")
    packed = pack(a, b)
    for c in V:  # 256 slices of 65,536 (a, b) pairs each
        hi, lo = unpack(packed * c)
        assert np.array_equal(hi, a * c) and np.array_equal(lo, b * c), f"c = {c}"


def test_naive_field_extraction_is_wrong_most_of_the_time():
    a, b = np.meshgrid(V, V, indexing="ij")
    p = pack(a, b) * 37
    naive_hi = p >> 18  # no borrow correction
    assert np.mean(naive_hi != a * 37) > 0.4


def test_seven_terms_always_exact():
    rng = np.random.default_rng(0)
    a, b, c = (rng.integers(-128, 128, (200_000, MAX_EXACT_TERMS)) for _ in range(3))
    hi, lo = packed_dot(a, b, c)
    assert np.array_equal(hi, (a * c).sum(-1)) and np.array_equal(lo, (b * c).sum(-1))
    # the adversarial extremes: every low-field product at +16384 or at -16256
    for bv, cv in ((-128, -128), (127, -128), (-128, 127), (127, 127)):
        a = rng.integers(-128, 128, (1000, MAX_EXACT_TERMS))
        hi, lo = packed_dot(a, np.full_like(a, bv), np.full_like(a, cv))
        assert np.array_equal(lo, np.full(1000, 7 * bv * cv)) and np.array_equal(hi, (a * cv).sum(-1))


def raw_packed_dot(a, b, c):
    """The packed accumulation without packed_dot's term bound, to show where the bound comes from."""
    return unpack(np.sum(pack(a, b) * c, axis=-1))


def test_eight_terms_fail_only_for_all_most_negative_products():
    a = np.zeros((1, 8), dtype=np.int64)
    hi, lo = raw_packed_dot(a, np.full((1, 8), -128), np.full((1, 8), -128))
    assert lo[0] != 8 * 16384  # the one case that breaks the bound
    rng = np.random.default_rng(1)
    b = rng.integers(-128, 128, (100_000, 8))
    c = rng.integers(-128, 128, (100_000, 8))
    keep = ~((b == -128) & (c == -128)).all(-1)
    hi, lo = raw_packed_dot(np.zeros_like(b[keep]), b[keep], c[keep])
    assert np.array_equal(lo, (b[keep] * c[keep]).sum(-1))


def test_packed_dot_refuses_sums_past_the_bound_and_operands_past_int8():
    with pytest.raises(ConfigError, match=r"int8pack\.packed_dot: 8 terms; a packed sum is exact for at most 7"):
        packed_dot(np.zeros((1, 8)), np.zeros((1, 8)), np.zeros((1, 8)))
    with pytest.raises(ConfigError, match=r"int8pack\.a: \[0\] = 200 is outside -128\.\.127"):
        pack([200], [0])
    with pytest.raises(ConfigError, match=r"int8pack\.b: \[0\] = 1\.5 is not an integer"):
        pack([1], [1.5])


def test_negated_packing_unpacks_every_triple_and_fits_27_bits():
    a, b = np.meshgrid(V, V, indexing="ij")
    packed = pack_negated(a, b)
    assert (packed.min(), packed.max()) == (NEGATED_MIN, NEGATED_MAX)
    assert -(2**26) <= NEGATED_MIN and NEGATED_MAX < 2**26  # DSP48E2's 27-bit A port
    assert NEGATED_MIN < -(2**24)  # but not DSP48E1's 25 bits
    for c in V[::5]:
        hi, lo = unpack_negated(packed * c)
        assert np.array_equal(hi, a * c) and np.array_equal(lo, b * c), f"c = {c}"


def test_negated_packing_is_exact_for_eight_terms_and_not_nine():
    k = NEGATED_MAX_EXACT_TERMS
    rng = np.random.default_rng(2)
    a, b, c = (rng.integers(-128, 128, (200_000, k)) for _ in range(3))
    hi, lo = unpack_negated(np.sum(pack_negated(a, b) * c, axis=-1))
    assert np.array_equal(hi, (a * c).sum(-1)) and np.array_equal(lo, (b * c).sum(-1))
    for bv, cv in ((-128, -128), (127, -128), (-128, 127), (127, 127)):  # every low product at an extreme
        a = rng.integers(-128, 128, (1000, k))
        for n in (k, k + 1):
            b, c = np.full((1000, n), bv), np.full((1000, n), cv)
            hi, lo = unpack_negated(np.sum(pack_negated(a[:, :1].repeat(n, 1), b) * c, axis=-1))
            exact = np.array_equal(lo, np.full(1000, n * bv * cv))
            assert exact == (n == k), (n, bv, cv)  # 9 products at any extreme leave 18 signed bits
