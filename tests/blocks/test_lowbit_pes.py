"""MixPE, OliVe MAC and ternary PE (hwgen/blocks/lowbit): golden models and stream errors."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen import ConfigError
from hwgen.blocks import MixPEConfig, OliveMACConfig, TernaryPEConfig
from hwgen.lowbit import olive_decode, olive_encode


def test_mixpe_zero_point_needs_asymmetric_weights():
    with pytest.raises(ConfigError, match=r"zero: symmetric \(signed\) weights have zero point 0"):
        MixPEConfig(lanes=1).model([[1]], [[1]], [1], [3], [1], [1])


def test_mixpe_model():
    cfg = MixPEConfig(lanes=2, asymmetric=True, weight_bits=4)
    a = np.array([[10, -20], [3, 4]])
    q = np.array([[15, 0], [7, 8]])
    y = cfg.model(a, q, [5, 5], [8, 8], [0, 1], [0, 1])
    assert y.tolist() == [5 * ((10 * 15 + 3 * 7 + 4 * 8) - 8 * (10 - 20 + 3 + 4))]


def test_olive_model_uses_the_pair_decoder():
    cfg = OliveMACConfig(pairs=2)
    q = np.array([[50, 3, -7, 2]])
    pairs = olive_encode(q).reshape(1, 2)
    a = np.array([[2, 100, 3, 4]])
    assert cfg.model(a, pairs, [1]).tolist() == [int((a * olive_decode(pairs)).sum())]


def test_ternary_model():
    assert TernaryPEConfig(lanes=3).model([[5, 6, 7]], [[1, 3, 0]], [1]).tolist() == [5 - 6]
