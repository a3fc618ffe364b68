"""Integer softmax test data: random rows of several score distributions, the corners, and the tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...numtype import Int, UInt
from ...vectors import StreamVectors

if TYPE_CHECKING:
    from .config import SoftmaxConfig


def configs(C: type[SoftmaxConfig]) -> dict[str, SoftmaxConfig]:
    """The configuration table every verification level runs."""
    return {
        "l16_int8": C(max_len=16),
        "l64_default": C(),
        "l5_int6_u4": C(max_len=5, act=Int(6), scale=0.125, out=UInt(4)),
        "l32_int10_u12": C(max_len=32, act=Int(10), scale=1 / 64, out=UInt(12)),
        "l1": C(max_len=1),
    }


def formal_configs(C: type[SoftmaxConfig]) -> dict[str, SoftmaxConfig]:
    """Small configurations for ``hwgen prove``: rows of up to 2 three-bit scores."""
    return {"l2_int3": C(max_len=2, act=Int(3), scale=0.5, out=UInt(2))}


def _row(cfg: SoftmaxConfig, rng: np.random.Generator, n: int) -> np.ndarray:
    """One row of ``n`` scores: uniform over the type, attention-like (Gaussian), or a few near the top."""
    t = cfg.act
    kind = rng.integers(0, 3)
    if kind == 0:
        row = rng.integers(t.min, t.max + 1, n)
    elif kind == 1:
        row = np.rint(rng.normal(0, (t.max - t.min) / 8, n))
    else:
        row = t.max - rng.integers(0, max(2, (t.max - t.min) // 16), n)
    return np.clip(row, t.min, t.max).astype(np.int64)


def stimulus(cfg: SoftmaxConfig, rng: np.random.Generator, n: int, corners: bool) -> StreamVectors:
    """``n`` random rows (lengths 1..max_len) plus the corners: all-equal scores, one huge score over
    most-negative ones, all most-negative, a row of one score and one of ``max_len``."""
    t, L = cfg.act, cfg.max_len
    rows, names = [], []
    if corners:
        rows += [
            np.full(L, 3 % (t.max + 1)),
            np.array([t.max] + [t.min] * (L - 1)),
            np.full(L, t.min),
            np.array([t.min]),
            _row(cfg, rng, L),
            np.array([t.min, t.max] * (L // 2) + [0] * (L % 2)),
        ]
        names = ["all-equal scores", "one huge score", "all most-negative", "length 1", "max_len row", "extremes"]
    rows += [_row(cfg, rng, int(rng.integers(1, L + 1))) for _ in range(n)]
    x = np.concatenate(rows).astype(np.int64)
    last = np.concatenate([np.arange(len(r)) == len(r) - 1 for r in rows]).astype(np.int64)
    ends = np.repeat(np.flatnonzero(last), [len(r) for r in rows])
    return StreamVectors(
        inputs={"i": {"x": x, "last": last}},
        expected={"o": cfg.model(x, last)},
        triggers={"o": ("i", ends)},
        corners=names,
    )
