"""Decode-attention test data: random queries over KV caches of random length, the corners, the tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...numtype import Int
from ...vectors import StreamVectors

if TYPE_CHECKING:
    from .config import DecodeAttentionConfig


def configs(C: type[DecodeAttentionConfig]) -> dict[str, DecodeAttentionConfig]:
    """The configuration table every verification level runs."""
    return {
        "d16_l4_default": C(max_kv=32),
        "d8_l8_kv4": C(head_dim=8, lanes=8, max_kv=4, score_shift=4, scale=0.125),
        "d6_l1_int5_out6": C(
            head_dim=6, lanes=1, max_kv=12, act=Int(5), score_shift=0, scale=0.25, exp_bits=10, out=Int(6)
        ),  # fmt: skip
        "d32_l16_fine": C(head_dim=32, lanes=16, max_kv=64, score_shift=8, scale=1 / 128, exp_bits=12),
        "d2_l2_kv1": C(head_dim=2, lanes=2, max_kv=1),
    }


def formal_configs(C: type[DecodeAttentionConfig]) -> dict[str, DecodeAttentionConfig]:
    """Small configurations for ``hwgen prove``: 3-bit vectors of 2 elements, up to 2 KV entries."""
    small = {"act": Int(3), "out": Int(3), "score_shift": 0, "scale": 0.5, "exp_bits": 4}
    return {"d2_l2_kv2_int3": C(head_dim=2, lanes=2, max_kv=2, **small)}


def _query(cfg: DecodeAttentionConfig, rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    """One query's vectors ``[q, k0, v0, k1, v1, ...]`` (rows of ``head_dim``) for ``n`` entries."""
    t, d = cfg.act, cfg.head_dim
    q = rng.integers(t.min, t.max + 1, d)
    k = rng.integers(t.min, t.max + 1, (n, d))
    v = rng.integers(t.min, t.max + 1, (n, d))
    if kind == "equal":
        k[:] = k[0]
    elif kind == "huge":  # one key along q, the rest against it
        k[:] = -np.sign(q) * (t.max // 2)
        k[rng.integers(0, n)] = np.where(q >= 0, t.max, t.min)
    elif kind == "rising":  # every entry's score above the last: a rescale at each
        k = np.outer(np.linspace(-1, 1, n), np.where(q >= 0, t.max, t.min)).round().astype(np.int64)
        k = np.clip(k, t.min, t.max)
    elif kind == "negative":
        q[:], k[:], v[:] = t.min, t.min, t.min
    elif kind == "peaked":  # scores near each other: many entries weigh in
        k = np.clip(k // 8, t.min, t.max)
    rows = [q]
    for j in range(n):
        rows += [k[j], v[j]]
    return np.array(rows, dtype=np.int64)


def stimulus(cfg: DecodeAttentionConfig, rng: np.random.Generator, n: int, corners: bool) -> StreamVectors:
    """``n`` random queries (1..min(max_kv, 24) entries, spread or peaked scores) plus the corners: equal
    scores, one huge score, rising scores, all most-negative, one entry and ``max_kv`` entries."""
    queries, names = [], []
    cap = min(cfg.max_kv, 24)
    if corners:
        longest = min(cfg.max_kv, 512)
        for kind, count, name in (
            ("equal", cap, "equal scores"),
            ("huge", cap, "one huge score"),
            ("rising", cap, "rising scores (a rescale at every entry)"),
            ("negative", cap, "all most-negative"),
            ("random", 1, "one KV entry"),
            ("random", longest, f"{longest} KV entries" + (" (max_kv)" if longest == cfg.max_kv else "")),
        ):
            queries.append(_query(cfg, rng, count, kind))
            names.append(name)
    for _ in range(n):
        kind = ["random", "peaked"][int(rng.integers(0, 2))]
        queries.append(_query(cfg, rng, int(rng.integers(1, cap + 1)), kind))
    beats = [qv.reshape(-1, cfg.lanes) for qv in queries]
    x = np.concatenate(beats)
    last = np.concatenate([np.arange(len(b)) == len(b) - 1 for b in beats]).astype(np.int64)
    ends = np.repeat(np.flatnonzero(last), cfg.beats)
    return StreamVectors(
        inputs={"i": {"x": x, "last": last}},
        expected={"o": cfg.model(x, last)},
        triggers={"o": ("i", ends)},
        corners=names,
    )
