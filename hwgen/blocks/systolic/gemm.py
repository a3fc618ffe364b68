"""Host-side GEMM driver: tiles ``C = A · B`` of any shape onto the array's streams.

The tile loop lives on the host (this module, used by the cocotb bench and
``hwgen sim``); the array itself only knows tiles. Data order:

* weight-stationary: for each column tile ``n0`` (C columns of B), for each
  reduction tile ``k0`` (R rows of B): stream the weight tile
  ``B[k0:k0+R, n0:n0+C]`` row by row (``w``), then every row ``m`` of
  ``A[:, k0:k0+R]`` (``a``) with ``psum`` = the partial result of row ``m`` from
  the previous reduction tile (0 for the first), ``last`` on ``m = M-1``.
  The outputs of the final reduction tile are ``C[:, n0:n0+C]``.
* output-stationary: for each row tile ``m0`` (R rows of A), for each column
  tile ``n0``: stream ``K`` beats ``(A[m0:m0+R, k], B[k, n0:n0+C])``, ``last`` on
  ``k = K-1``; the ``R`` output rows are ``C[m0:m0+R, n0:n0+C]``.

Edges are zero-padded (zero weights / activations add nothing, so padded
outputs are 0 and are dropped on assembly). The partial sums fed back as
``psum`` are the golden model's tile results: identical to the hardware's
when it is correct, and any difference fails the check at that tile first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ...errors import ConfigError
from ...vectors import StreamVectors

if TYPE_CHECKING:
    from .config import SystolicArrayConfig


@dataclass
class Gemm:
    """One matrix product ``a [M,K] · b [K,N]`` of raw integers."""

    a: np.ndarray
    b: np.ndarray
    name: str = "gemm"

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.a.shape[0], self.a.shape[1], self.b.shape[1]


@dataclass
class GemmPlan:
    """Where each GEMM's results sit in the output stream."""

    gemms: list[Gemm]
    #: per GEMM: list of (first output beat, rows, row offset, col offset) of final result blocks
    blocks: list[list[tuple[int, int, int, int]]] = field(default_factory=list)
    tiles: list[int] = field(default_factory=list)  # cycle-model input (see SystolicArrayConfig.schedule)


def check_gemm(cfg: SystolicArrayConfig, a: np.ndarray, b: np.ndarray) -> None:
    """Shape and range checks with errors naming the problem."""
    if a.ndim != 2 or b.ndim != 2:
        raise ConfigError("gemm", f"A and B must be matrices, got {a.ndim}-D and {b.ndim}-D")
    if a.shape[1] != b.shape[0]:
        raise ConfigError(
            "gemm",
            f"A is {a.shape[0]}×{a.shape[1]} but B is {b.shape[0]}×{b.shape[1]}: A's columns must equal B's rows",
        )
    if 0 in a.shape or 0 in b.shape:
        raise ConfigError("gemm", f"empty matrix: A {a.shape}, B {b.shape}")
    if cfg.pe.overflow == "error" and a.shape[1] > cfg.pe.max_len:
        raise ConfigError(
            "gemm",
            f"K={a.shape[1]} exceeds pe.max_len={cfg.pe.max_len}, the reduction length "
            f"the accumulator {cfg.pe.acc} was proven for; raise max_len or use "
            f"overflow='wrap'",
        )
    if cfg.ws and not cfg.psum_input and a.shape[1] > cfg.rows:
        raise ConfigError(
            "gemm", f"K={a.shape[1]} > R={cfg.rows} needs several reduction tiles, which needs psum_input=True"
        )
    cfg.pe.act.array(a)
    cfg.pe.weight.array(b)


def golden_gemm(cfg: SystolicArrayConfig, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The GEMM golden model: ``C[i, j] = fold_k f(acc + A[i, k]·B[k, j])`` from 0."""
    acc0 = np.zeros((a.shape[0], b.shape[1]), dtype=np.int64)
    return cfg.model(acc0, a, b)


def _pad(x: np.ndarray, rows: int, cols: int) -> np.ndarray:
    out = np.zeros((rows, cols), dtype=object)
    out[: x.shape[0], : x.shape[1]] = x
    return out


def gemm_vectors(cfg: SystolicArrayConfig, gemms: list[Gemm]) -> StreamVectors:
    """Tile every GEMM for ``cfg`` into stream vectors with golden outputs and the cycle model."""
    R, C = cfg.rows, cfg.cols
    plan = GemmPlan(gemms=gemms)
    zero_acc = np.zeros((0, C), dtype=object)
    if cfg.ws:
        w_rows, a_rows, p_rows, last, outs = [], [], [], [], []
        for g in gemms:
            check_gemm(cfg, g.a, g.b)
            M, K, N = g.shape
            blocks = []
            for n0 in range(0, N, C):
                partial = np.zeros((M, C), dtype=object)
                for k0 in range(0, K, R):
                    wt = _pad(g.b[k0 : k0 + R, n0 : n0 + C], R, C)
                    at = _pad(g.a[:, k0 : k0 + R], M, R)
                    w_rows.append(wt)
                    a_rows.append(at)
                    p_rows.append(partial)
                    lf = np.zeros(M, dtype=np.int64)
                    lf[-1] = 1
                    last.append(lf)
                    partial = cfg.model(partial, at, wt)
                    outs.append(partial)
                    plan.tiles.append(M)
                blocks.append((sum(len(o) for o in outs) - M, M, 0, n0))
            plan.blocks.append(blocks)
        a_fields = {"a": np.concatenate(a_rows)}
        if cfg.psum_input:
            a_fields["psum"] = np.concatenate(p_rows)
        a_fields["last"] = np.concatenate(last)
        inputs = {"w": {"w": np.concatenate(w_rows)}, "a": a_fields}
        expected = {"o": np.concatenate(outs) if outs else zero_acc}
        triggers = {"o": ("a", np.arange(len(a_fields["last"])))}
    else:
        a_cols, w_rows, last, outs = [], [], [], []
        for g in gemms:
            check_gemm(cfg, g.a, g.b)
            M, K, N = g.shape
            blocks = []
            for m0 in range(0, M, R):
                for n0 in range(0, N, C):
                    at = _pad(g.a[m0 : m0 + R, :], R, K)
                    bt = _pad(g.b[:, n0 : n0 + C], K, C)
                    a_cols.append(at.T)
                    w_rows.append(bt)
                    lf = np.zeros(K, dtype=np.int64)
                    lf[-1] = 1
                    last.append(lf)
                    blocks.append((sum(len(o) for o in outs), R, m0, n0))
                    outs.append(cfg.model(np.zeros((R, C), dtype=object), at, bt))
                    plan.tiles.append(K)
            plan.blocks.append(blocks)
        inputs = {"i": {"a": np.concatenate(a_cols), "w": np.concatenate(w_rows), "last": np.concatenate(last)}}
        expected = {"o": np.concatenate(outs) if outs else zero_acc}
        ends = np.flatnonzero(inputs["i"]["last"])
        triggers = {"o": ("i", np.repeat(ends, R))}
    vec = StreamVectors(
        inputs=inputs,
        expected=expected,
        triggers=triggers,
        corners=[g.name for g in gemms if g.name != "random"],
    )
    vec.extra["plan"] = plan
    return vec


def assemble(cfg: SystolicArrayConfig, plan: GemmPlan, rows: np.ndarray) -> list[np.ndarray]:
    """Cut the output stream (``rows [beats, C]``) back into each GEMM's ``C`` matrix."""
    results = []
    for g, blocks in zip(plan.gemms, plan.blocks):
        M, _, N = g.shape
        out = np.zeros((M, N), dtype=object)
        for start, n_rows, r0, c0 in blocks:
            block = rows[start : start + n_rows]
            h = min(n_rows, M - r0)
            w = min(cfg.cols, N - c0)
            out[r0 : r0 + h, c0 : c0 + w] = block[:h, :w]
        results.append(out)
    return results


def gemm_cycles(cfg: SystolicArrayConfig, M: int, K: int, N: int) -> dict[str, float]:
    """Exact cycles (cycle model) and PE utilization of one tiled GEMM at full rate."""
    R, C = cfg.rows, cfg.cols
    if cfg.ws:
        tiles = [M] * (math.ceil(K / R) * math.ceil(N / C))
        util = K * N / (math.ceil(K / R) * R * math.ceil(N / C) * C)
    else:
        tiles = [K] * (math.ceil(M / R) * math.ceil(N / C))
        util = M * N / (math.ceil(M / R) * R * math.ceil(N / C) * C)
    accepts, outs = cfg.tile_cycles(tiles)
    first = min(a[0] for a in accepts if a)
    total = outs[-1] - first + 1
    macs = M * K * N
    return {
        "cycles": total,
        "tiles": len(tiles),
        "pe_utilization": util,
        "macs": macs,
        "macs_per_cycle": macs / total,
        "array_efficiency": macs / (total * R * C),
    }
