"""Random operand generation shared by the blocks' stimulus generators."""

from __future__ import annotations

import numpy as np

from ..numtype import NumType

#: Fraction of random operands replaced by an edge value.
EDGE_FRACTION = 0.25


def biased(rng: np.random.Generator, t: NumType, shape) -> np.ndarray:
    """Uniform raw values of ``t`` (up to 62 bits), a quarter replaced by edge values (min, max, 0, ±1)."""
    vals = rng.integers(t.min, t.max, size=shape, endpoint=True, dtype=np.int64)
    edges = np.array(sorted({t.min, t.max, 0, min(1, t.max), max(-1, t.min)}), dtype=np.int64)
    return np.where(rng.random(shape) < EDGE_FRACTION, rng.choice(edges, size=shape), vals)
