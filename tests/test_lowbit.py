"""Low-bit datatypes: every code decodes to the spec table, terms, quantizer selection rule, OliVe, packing."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen import ConfigError
from hwgen.lowbit import (
    BITMOD_FP4,
    DATATYPES,
    booth_digits,
    datatype,
    olive_decode,
    olive_encode,
    pack_codes,
    quantize_groups,
    unpack_codes,
)

SPEC = {  # code -> value, written out from shared/specs/numerics.md
    "FP4-ER-POS": [0, 1, 2, 3, 4, 6, 8, 12, 10, -1, -2, -3, -4, -6, -8, -12],
    "FP4-ER-NEG": [0, 1, 2, 3, 4, 6, 8, 12, -10, -1, -2, -3, -4, -6, -8, -12],
    "FP4-EA-POS": [0, 1, 2, 3, 4, 6, 8, 12, 16, -1, -2, -3, -4, -6, -8, -12],
    "FP4-EA-NEG": [0, 1, 2, 3, 4, 6, 8, 12, -16, -1, -2, -3, -4, -6, -8, -12],
    "FP3-ER-POS": [0, 1, 2, 4, 3, -1, -2, -4],
    "FP3-ER-NEG": [0, 1, 2, 4, -3, -1, -2, -4],
    "FP3-EA-POS": [0, 1, 2, 4, 6, -1, -2, -4],
    "FP3-EA-NEG": [0, 1, 2, 4, -6, -1, -2, -4],
    "FLINT4": [0, 1, 2, 3, 4, 6, 8, 16, 0, -1, -2, -3, -4, -6, -8, -16],
    "INT4": [0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1],
    "TERNARY": [0, 1, 0, -1],
}


@pytest.mark.parametrize("name", SPEC)
def test_every_code_decodes_to_the_table(name):
    dt = DATATYPES[name]
    assert dt.decode(np.arange(1 << dt.bits)).tolist() == SPEC[name]


@pytest.mark.parametrize("name", list(DATATYPES))
def test_terms_reconstruct_every_code_and_cycle_counts(name):
    dt = DATATYPES[name]
    for code in range(1 << dt.bits):
        t = dt.terms(code)
        assert len(t) == dt.cycles and sum(s << sh for s, sh in t) == dt.values[code]
    expected = {"INT8": 4, "INT6": 3, "INT4": 2, "INT3": 2, "INT2": 1, "FP4-ER-POS": 2, "FP3-EA-NEG": 2, "TERNARY": 1}
    if name in expected:
        assert dt.cycles == expected[name]


@pytest.mark.parametrize("name", list(DATATYPES))
def test_digits_are_what_the_bit_serial_lane_can_apply(name):
    """The PE's lane multiplies by 0, 1, 2 or 4 and may negate; cycle k carries weight 4^k."""
    dt = DATATYPES[name]
    for code in range(1 << dt.bits):
        d = dt.digits(code)
        assert len(d) == dt.cycles and set(d) <= {0, 1, -1, 2, -2, 4, -4}
        assert sum(x * 4**k for k, x in enumerate(d)) == dt.values[code]


def test_fp4_digits_by_hand():
    fp4 = DATATYPES["FP4-EA-POS"]
    assert fp4.digits(0b0011) == (-1, 1)  # 3 = 4 - 1
    assert fp4.digits(0b0111) == (4, 2)  # 12 = 4 + 2·4
    assert fp4.digits(0b1000) == (0, 4)  # special +16 = 4·4
    assert fp4.digits(0b1111) == (-4, -2)  # -12


def test_booth_digits_follow_the_spec_table():
    for v in range(-128, 128):
        d = booth_digits(v, 8)
        assert len(d) == 4 and all(-2 <= x <= 2 for x in d) and sum(x * 4**i for i, x in enumerate(d)) == v
    assert booth_digits(-128, 8) == [0, 0, 0, -2]


def test_encode_decode_round_trip_and_packing():
    rng = np.random.default_rng(0)
    for _name, dt in DATATYPES.items():
        vals = rng.choice(dt.grid, 501)
        codes = dt.encode(vals)
        assert np.array_equal(dt.decode(codes), vals)
        packed = pack_codes(codes, dt.bits)
        assert packed.size == -(-501 * dt.bits // 8)
        assert np.array_equal(unpack_codes(packed, dt.bits, 501), codes)


def test_rounding_ties_go_to_the_lower_value():
    fp4 = DATATYPES["FP4-ER-POS"]
    assert fp4.round([5.0, 7.0, 9.0, 11.0, -5.0, 0.5, -0.5]).tolist() == [4, 6, 8, 10, -6, 0, -1]


def test_selection_rule_on_hand_computed_groups():
    # group 0 [12, 10, 1, 2]: ER-POS is exact at scale 1 (12 and +10 on its grid)            -> ER-POS (0)
    # group 1 [12, -10, 1, 2]: only ER-NEG has -10                                            -> ER-NEG (1)
    # group 2 [16, 12, 1, 2]: EA-POS is exact at scale 1; the ER types need scale 16/12      -> EA-POS (2)
    # group 3 all zeros: every candidate has error 0, the tie goes to the first               -> ER-POS (0)
    w = np.array([[12, 10, 1, 2, 12, -10, 1, 2, 16, 12, 1, 2, 0, 0, 0, 0]], dtype=float)
    q = quantize_groups(w, BITMOD_FP4, group=4)
    assert q.dtype_id.tolist() == [[0, 1, 2, 0]]
    assert q.scale[0, :3].tolist() == [1.0, 1.0, 1.0]
    # the chosen candidate really has the smallest squared error of the four
    g = w[0, 4:8]
    errs = []
    for name in BITMOD_FP4:
        dt = DATATYPES[name]
        s = np.abs(g).max() / dt.qmax
        errs.append(np.mean((dt.round(g / s) * s - g) ** 2))
    assert int(np.argmin(errs)) == q.dtype_id[0, 1]


def test_all_zero_groups_get_the_minimum_scale_and_zero_codes():
    q = quantize_groups(np.zeros((1, 8)), group=4)
    assert (q.codes == 0).all() and np.all(q.scale == 1e-8) and np.array_equal(q.dequantize(), np.zeros((1, 8)))


def test_second_level_scales_are_8_bit():
    rng = np.random.default_rng(1)
    q = quantize_groups(rng.normal(size=(3, 512)), group=128)
    assert q.scale_q.max() == 255 and q.scale_q.min() >= 0
    assert np.allclose(q.scale_q * q.scale_ch[:, None], q.scale, rtol=0.01, atol=q.scale_ch[:, None].max())
    assert np.allclose(q.dequantize(), q.grid_values() * np.repeat(q.scale_q * q.scale_ch[:, None], 128, axis=1))


@pytest.mark.parametrize(
    "call,pattern",
    [
        (
            lambda: quantize_groups(np.zeros((2, 100)), group=128),
            "group size 128 does not divide the reduction length 100",
        ),
        (lambda: quantize_groups(np.array([[1.0, np.nan]]), group=2), r"weights: \[0, 1\] = nan is not a finite"),
        (lambda: quantize_groups(np.ones((1, 4)), ("FP5",), group=4), "unknown datatype 'FP5'"),
        (lambda: datatype("int9"), "unknown datatype 'int9'"),
        (lambda: quantize_groups(np.ones((1, 4)), group=4, min_scale=0.0), r"min_scale: 0\.0 must be > 0"),
    ],
)
def test_bad_inputs(call, pattern):
    with pytest.raises(ConfigError, match=pattern):
        call()


def test_olive_pairs():
    assert olive_decode(olive_encode([3, -7])).tolist() == [3, -7]  # two normal INT4
    assert olive_decode(olive_encode([50, 3])).tolist() == [48, 0]  # outlier + victim
    assert olive_decode(olive_encode([3, -100])).tolist() == [0, -96]
    assert olive_decode(olive_encode([30, -50])).tolist() == [0, -48]  # both outliers: larger kept
    assert olive_decode(olive_encode([48, -48])).tolist() == [48, 0]  # tie: the even element
    assert olive_decode(olive_encode([40, -7])).tolist() == [32, 0]  # 40 is halfway: ties to the lower
    codes = olive_encode([9, 10])
    assert olive_decode(codes).tolist() == [0, 12]  # 10 -> 12 is an outlier, 9's slot is the victim
    rng = np.random.default_rng(2)
    v = rng.integers(-7, 8, 2000)
    assert np.array_equal(olive_decode(olive_encode(v)), v)  # normal values round-trip exactly
