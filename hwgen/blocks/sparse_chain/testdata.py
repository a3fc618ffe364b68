"""Sparse-chain test data: random N:M matrices × vectors in every mode, extremes, and the configuration table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...numtype import Int, UInt
from ...sparse import compress, prune
from ...vectors import StreamVectors, biased

if TYPE_CHECKING:
    from .config import SparseChainConfig


def configs(C: type[SparseChainConfig]) -> dict[str, SparseChainConfig]:
    """The configuration table every verification level runs."""

    return {
        "s8_int8_all_patterns": C(stages=8),
        "s16_int4w_sat": C(stages=16, weight=Int(4), acc=Int(14), overflow="saturate"),
        "s8_pack_int8": C(stages=8, pack_int8=True, overflow="wrap", acc=Int(24)),
        "s16_dense_24_14": C(stages=16, patterns=("dense", "2:4", "1:4")),
        "s4_u8": C(stages=4, act=UInt(8), patterns=("dense", "1:2", "2:4", "1:4")),
        "s8_pipe2_mult18": C(stages=8, pipeline=2, dsp_cells="mult18x18d"),
        "s8_pack_pipe1_sat": C(stages=8, pack_int8=True, overflow="saturate", acc=Int(20), pipeline=1),
    }


def formal_configs(C: type[SparseChainConfig]) -> dict[str, SparseChainConfig]:
    """Small configurations for ``hwgen prove``: dense and N:M modes switching between accumulations."""
    return {
        "s4_dense_24_12": C(
            stages=4, patterns=("dense", "2:4", "1:2"), act=Int(2), weight=Int(2), acc=Int(7), max_len=2
        ),
        "s4_dense_12_pipe2": C(
            stages=4, patterns=("dense", "1:2"), act=Int(2), weight=Int(2), acc=Int(7), max_len=2, pipeline=2
        ),
        "s4_u2_14_sat": C(
            stages=4, patterns=("dense", "1:4"), act=UInt(2), weight=Int(2), acc=Int(4), overflow="saturate", max_len=2
        ),
    }


def stimulus(cfg: SparseChainConfig, rng: np.random.Generator, n: int, corners: bool) -> StreamVectors:
    """Random N:M matrices (pruned, compressed) × vectors in every mode, mode switches, extremes."""
    S, pats = cfg.stages, cfg.nm
    beats: dict[str, list] = {k: [] for k in ("x", "x1", "w", "idx", "mode", "last")}
    names: list[str] = []

    def rowset(mode: int, nb: int, wfill: int | None = None, xfill: int | None = None) -> int:
        p = pats[mode]
        rows = S // cfg.group_len(p)
        K = S * nb
        if wfill is None:
            W = prune(biased(rng, cfg.weight, (rows, K)), p)
        else:
            W = prune(np.full((rows, K), wfill, dtype=np.int64), p)
        c = compress(W, p)
        g = cfg.group_len(p)
        for b in range(nb):
            xv = biased(rng, cfg.act, S) if xfill is None else np.full(S, xfill)
            x1 = biased(rng, cfg.act, S) if xfill is None else np.full(S, xfill)
            beats["x"].append(xv)
            beats["x1"].append(x1)
            beats["w"].append(np.concatenate([c.values[q, b * g : (b + 1) * g] for q in range(rows)]))
            beats["idx"].append(np.concatenate([c.indices[q, b * g : (b + 1) * g] for q in range(rows)]))
            beats["mode"].append(mode)
            beats["last"].append(int(b == nb - 1))
        return rows

    if corners:
        for mode, p in enumerate(pats):
            A, Wt = cfg.act, cfg.weight
            for name, wv, xv in (
                ("min×min", Wt.min, A.min),
                ("max×max", Wt.max, A.max),
                ("min×max", Wt.min, A.max),
                ("zeros", 0, 0),
            ):
                rowset(mode, min(2, cfg.max_len), wv, xv)
                names.append(f"{p} {name}")
        nb = min(cfg.max_len, 64)
        rowset(0, nb, cfg.weight.min, cfg.act.min)
        names.append(f"{pats[0]} min×min over {nb} beats")
    produced = 0
    while produced < n:
        mode = int(rng.integers(len(pats)))
        produced += rowset(mode, int(rng.integers(1, min(6, cfg.max_len) + 1)))
    names.append("random modes switching between accumulations")
    arr = {k: np.array(v) for k, v in beats.items()}
    y, y1 = cfg.model(arr["x"], arr["w"], arr["idx"], arr["mode"], arr["last"], arr["x1"] if cfg.pack_int8 else None)
    inputs = {"x": arr["x"], "w": arr["w"], "idx": arr["idx"], "mode": arr["mode"], "last": arr["last"]}
    if cfg.pack_int8:
        inputs["x1"] = arr["x1"]
    expected = {"y": y} | ({"y1": y1} if cfg.pack_int8 else {})
    ends = np.flatnonzero(arr["last"])
    return StreamVectors(inputs={"i": inputs}, expected={"o": expected}, triggers={"o": ("i", ends)}, corners=names)
