"""Payload packing agrees with Amaranth's own layout encoding."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from hwgen.ports import field_summary, pack, unpack

LAYOUT = data.StructLayout({"a": data.ArrayLayout(signed(5), 3), "b": unsigned(7), "last": 1})


def test_pack_matches_amaranth_const_and_round_trips():
    rng = np.random.default_rng(3)
    a = rng.integers(-16, 16, (50, 3))
    b = rng.integers(0, 128, 50)
    last = rng.integers(0, 2, 50)
    raws = pack(LAYOUT, {"a": a, "b": b, "last": last})
    for i in (0, 17, 49):
        const = LAYOUT.const({"a": [int(x) for x in a[i]], "b": int(b[i]), "last": int(last[i])})
        assert raws[i] == const.as_value().value
    back = unpack(LAYOUT, raws)
    assert np.array_equal(back["a"], a) and np.array_equal(back["b"], b) and np.array_equal(back["last"], last)


def test_field_summary_folds_arrays():
    rows = field_summary(LAYOUT)
    assert [(r["field"], r["offset"], r["width"], r["count"], r["signed"]) for r in rows] == [
        ("a", 0, 5, 3, True),
        ("b", 15, 7, 1, False),
        ("last", 22, 1, 1, False),
    ]
