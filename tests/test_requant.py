"""Integer requantization (hwgen/requant.py): the one rounding rule, requantize, parameter checks."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from hwgen import ConfigError, Int, UInt
from hwgen.requant import check_requant, requantize, round_shift


def test_round_shift_ties_go_away_from_zero():
    assert list(round_shift(np.array([5, -5, 6, -6, 7, -7]), 1)) == [3, -3, 3, -3, 4, -4]
    assert list(round_shift(np.array([2, -2, 1]), 2)) == [1, -1, 0]
    assert list(round_shift(np.array([9, -9]), 0)) == [9, -9]


def test_round_shift_equals_exact_rounding_of_the_quotient():
    """The hardware's coding ((|x| >> (n-1)) + 1) >> 1 equals rounding |x| / 2^n half up, for every x in a
    range that covers every residue, at every shift up to 12, and at wide values."""
    xs = list(range(-3000, 3001)) + [(1 << 61) - 1, -(1 << 61) + 1, (1 << 62) + 12345]
    for n in range(0, 13):
        want = []
        for x in xs:
            q = Fraction(abs(x), 1 << n)
            r = int(q) + (1 if q - int(q) >= Fraction(1, 2) else 0)
            want.append(r if x >= 0 else -r)
        assert list(round_shift(np.array(xs, dtype=object), n)) == want, n


def test_requantize_clamps_to_the_output_type():
    acc = np.array([-5, -3, -1, 1, 3, 5, 40, -40])
    assert requantize(acc, 1, 1, 0, Int(4)).tolist() == [-3, -2, -1, 1, 2, 3, 7, -8]
    assert requantize(np.array([10, -10]), 3, 2, 100, UInt(8)).tolist() == [108, 92]
    assert requantize(np.array([], dtype=np.int64), 3, 2, 0, Int(8)).size == 0


@pytest.mark.parametrize(
    "args, pattern",
    [
        ((-5, 3, 0, Int(8)), r"rq\.multiplier: -5 is not an integer in 0\.\.2147483647"),
        ((1 << 31, 3, 0, Int(8)), r"rq\.multiplier: 2147483648 is not an integer"),
        ((5, -1, 0, Int(8)), r"rq\.shift: -1 is not an integer in 0\.\.62"),
        ((5, 2.5, 0, Int(8)), r"rq\.shift: 2\.5 is not an integer"),
        ((5, 3, 200, Int(8)), r"rq\.zero_point: 200 is not an integer within Int\(8\) \(-128\.\.127\)"),
        ((5, 3, 0, Int(40)), r"rq\.out: Int\(40\): the requantized type must be an integer type of 2\.\.32 bits"),
        ((5, 3, 0, "Int(8)"), r"rq\.out: 'Int\(8\)'"),
        ((True, 3, 0, Int(8)), r"rq\.multiplier: True is not an integer"),
    ],
)
def test_bad_parameters_are_named(args, pattern):
    with pytest.raises(ConfigError, match=pattern):
        check_requant("rq", *args)
