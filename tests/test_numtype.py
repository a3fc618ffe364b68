"""Number types: width rules, raw arithmetic, parsing."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from hwgen import ConfigError, Fixed, Int, NumType, UFixed, UInt

SMALL = [Int(2), Int(3), Int(4), UInt(1), UInt(3), UInt(4)]


def _values(t: NumType) -> range:
    return range(t.min, t.max + 1)


@pytest.mark.parametrize("a,b", list(itertools.product(SMALL, SMALL)))
def test_product_type_is_the_narrowest_that_holds_every_product(a, b):
    products = [x * y for x in _values(a) for y in _values(b)]
    t = a.product(b)
    assert t.holds(min(products), max(products))
    narrower = NumType(t.width - 1, t.signed) if t.width > (2 if t.signed else 1) else None
    assert narrower is None or not narrower.holds(min(products), max(products))


def test_known_product_widths():
    assert Int(8).product(Int(8)) == Int(16)  # -128 * -128 = 16384 needs 16 signed bits
    assert UInt(8).product(Int(8)) == Int(16)
    assert UInt(8).product(UInt(8)) == UInt(16)
    assert Fixed(16, 8).product(Fixed(8, 4)) == Fixed(24, 12)


@pytest.mark.parametrize("t,n", [(Int(16), 64), (UInt(8), 3), (Int(3), 1), (Int(9), 1000)])
def test_sum_of_n_terms(t, n):
    s = t.sum_of(n)
    assert s.holds(t.min * n, t.max * n)
    assert not NumType(s.width - 1, s.signed).holds(t.min * n, t.max * n)


@pytest.mark.parametrize("t", [Int(4), UInt(4), Int(70), UInt(65)])
def test_wrap_and_saturate_match_python_integers(t):
    rng = np.random.default_rng(0)
    span = 1 << t.width
    vals = [int(v) for v in rng.integers(-(2**40), 2**40, 200)] + [t.min - 1, t.max + 1, t.min, t.max, 0]
    if t.width > 62:
        vals += [t.max * 3, t.min * 5]
    arr = np.array(vals, dtype=object)
    wrapped = [((v - t.min) % span) + t.min for v in vals]
    assert list(t.wrap(arr)) == wrapped
    assert list(t.saturate(arr)) == [max(t.min, min(t.max, v)) for v in vals]


def test_unsigned_bit_patterns_round_trip():
    t = Int(8)
    raw = np.arange(-128, 128)
    bits = t.to_unsigned(raw)
    assert bits.min() == 0 and bits.max() == 255
    assert np.array_equal(t.from_unsigned(bits), raw)


def test_from_real_rounds_half_to_even_and_saturates():
    t = Fixed(8, frac=1)  # steps of 0.5, range -64 .. 63.5
    assert list(t.from_real([0.25, 0.75, -0.25, 1.25, 100.0, -100.0])) == [0, 2, 0, 2, 127, -128]
    with pytest.raises(ValueError, match="NaN"):
        t.from_real([float("nan")])


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Int(8)", Int(8)),
        ("UInt(4)", UInt(4)),
        ("Fixed(16, frac=8)", Fixed(16, 8)),
        ("UFixed(8, frac=8)", UFixed(8, 8)),
        ("int8", Int(8)),
        ("uint4", UInt(4)),
        ("q7.8", Fixed(16, 8)),
        ("uq0.8", UFixed(8, 8)),
        (" Fixed(12,4) ", Fixed(12, 4)),
    ],
)
def test_parse(text, expected):
    assert NumType.parse(text) == expected
    assert NumType.parse(str(expected)) == expected


@pytest.mark.parametrize("text", ["i8", "Float(16)", "Int(0)", "UInt(-1)", "int", "", "Int(300)"])
def test_parse_rejects_with_the_allowed_spellings(text):
    with pytest.raises(ConfigError, match=re.escape("params.act")):
        NumType.parse(text, "params.act")


def test_signed_needs_two_bits():
    with pytest.raises(ConfigError, match="at least 2 bits"):
        Int(1)
