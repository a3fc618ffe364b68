"""N:M patterns, the compressed weight format and the pruner."""

from __future__ import annotations

import re

import numpy as np
import pytest

from hwgen import ConfigError
from hwgen.sparse import SUPPORTED, NMPattern, compress, prune

PATTERNS = [NMPattern.parse(p) for p in SUPPORTED]


@pytest.mark.parametrize("p", PATTERNS, ids=str)
def test_prune_compress_decompress_round_trip(p):
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, (13, 8 * 5))
    pruned = prune(w, p)
    blocks = pruned.reshape(13, -1, p.m)
    assert (np.count_nonzero(blocks, axis=2) <= p.n).all()
    c = compress(pruned, p)
    assert c.values.shape == (13, 40 // p.m * p.n) and c.indices.max() < p.m
    assert np.array_equal(c.decompress(), pruned)


def test_prune_keeps_largest_magnitudes_ties_to_lower_index():
    w = np.array([[3, -7, 7, 1, 0, 0, 5, 0]])
    assert prune(w, "2:4").tolist() == [[0, -7, 7, 0, 0, 0, 5, 0]]
    assert prune(np.array([[2, -2, 2, 2]]), "2:4").tolist() == [[2, -2, 0, 0]]  # tie: lower index wins
    assert prune(w, "dense").tolist() == w.tolist()


def test_compressed_layout_is_as_documented():
    w = np.array([[0, 5, 0, 0, 6, 0, 0, 7]])  # block 0: one non-zero; block 1: two
    c = compress(w, "2:4")
    assert c.values.tolist() == [[5, 0, 6, 7]]  # non-zeros first, then padding
    assert c.indices.tolist() == [[1, 0, 0, 3]]  # padding at the lowest unused index


def test_violation_names_the_first_offending_block():
    w = np.zeros((4, 8), dtype=np.int64)
    w[2, 4:7] = [1, 2, 3]
    w[3, 0:4] = [1, 1, 1, 1]
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "weights: row 2, columns 4..7 (block 1) has 3 non-zeros (at columns [4, 5, 6]); pattern 2:4 allows 2 "
            "(2 block(s) violate it"
        ),
    ):
        compress(w, "2:4")


@pytest.mark.parametrize(
    "text,pattern",
    [
        ("3:4x", "is not a pattern"),
        ("2:3", "2:3 is not an N:M pattern"),
        ("5:4", "5:4 is not an N:M pattern"),
        ("sparse", "is not a pattern"),
    ],
)
def test_bad_patterns(text, pattern):
    with pytest.raises(ConfigError, match=pattern):
        NMPattern.parse(text)


def test_columns_must_be_whole_blocks():
    with pytest.raises(ConfigError, match="10 columns is not a multiple of M=4"):
        compress(np.zeros((2, 10)), "1:4")
