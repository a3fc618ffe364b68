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
        "d8_l4_units3": C(head_dim=8, lanes=4, max_kv=8, units=3, score_shift=4, scale=0.125),
        "d16_l8_units2_int6": C(head_dim=16, lanes=8, max_kv=16, units=2, act=Int(6), out=Int(6), score_shift=2),
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
    """``n`` random queries (1..min(max_kv, 24) entries per stream, spread or peaked scores) plus the corners:
    equal scores, one huge score, rising scores, all most-negative, one entry and ``max_kv`` entries per
    stream. With several units each query's cache is split into contiguous ranges, the first ranges one
    entry longer when it does not divide (Lean Attention), every stream starting with the same q."""
    U = cfg.units
    queries, names = [], []
    cap = min(cfg.max_kv, 24)
    if corners:
        longest = min(cfg.max_kv, 512)
        for kind, count, name in (
            ("equal", cap, "equal scores"),
            ("huge", cap, "one huge score"),
            ("rising", cap, "rising scores (a rescale at every entry)"),
            ("negative", cap, "all most-negative"),
            ("random", 1, "one KV entry per stream"),
            ("random", longest, f"{longest} KV entries per stream" + (" (max_kv)" if longest == cfg.max_kv else "")),
        ):
            queries.append(_query(cfg, rng, count * U, kind))
            names.append(name)
    for _ in range(n):
        kind = ["random", "peaked"][int(rng.integers(0, 2))]
        queries.append(_query(cfg, rng, int(rng.integers(U, cap * U + 1)), kind))
    streams: list[list[np.ndarray]] = [[] for _ in range(U)]
    for qv in queries:
        for u, part in enumerate(_split(qv, U)):
            streams[u].append(part.reshape(-1, cfg.lanes))
    inputs, arrays = {}, []
    for port, beats in zip(cfg.ports, streams):
        x = np.concatenate(beats)
        last = np.concatenate([np.arange(len(b)) == len(b) - 1 for b in beats]).astype(np.int64)
        inputs[port] = {"x": x, "last": last}
        arrays += [x, last]
    ends = np.repeat(np.flatnonzero(inputs[cfg.ports[0]]["last"]), cfg.beats)
    return StreamVectors(
        inputs=inputs,
        expected={"o": cfg.model(*arrays)},
        triggers={"o": (cfg.ports[0], ends)},  # the first stream's range is the longest
        corners=names,
    )


def _split(vectors: np.ndarray, units: int) -> list[np.ndarray]:
    """A query's ``[q, k0, v0, ...]`` as ``units`` streams ``[q, k, v, ...]`` over contiguous ranges of the
    entries, the first ones an entry longer when ``units`` does not divide their number."""
    q, entries = vectors[0], vectors[1:].reshape(-1, 2, vectors.shape[1])
    sizes = [len(entries) // units + (u < len(entries) % units) for u in range(units)]
    bounds = np.cumsum([0, *sizes])
    return [np.concatenate([q[None], entries[a:b].reshape(-1, vectors.shape[1])]) for a, b in zip(bounds, bounds[1:])]
