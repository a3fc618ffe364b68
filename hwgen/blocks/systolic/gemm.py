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

import numpy as np

from ...errors import ConfigError
from ...sim.stimuli import biased
from ...sim.vectors import StreamVectors
from .config import SystolicArrayConfig, mac_fold


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
    return mac_fold(cfg.pe, acc0, a, b)


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
                    partial = cfg.fold(partial, at, wt)
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
        accepts, out_cycles = cfg.schedule(plan.tiles)
        schedule = {"w": accepts[0], "a": accepts[1], "o": out_cycles}
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
                    outs.append(cfg.fold(np.zeros((R, C), dtype=object), at, bt))
                    plan.tiles.append(K)
            plan.blocks.append(blocks)
        inputs = {"i": {"a": np.concatenate(a_cols), "w": np.concatenate(w_rows), "last": np.concatenate(last)}}
        expected = {"o": np.concatenate(outs) if outs else zero_acc}
        accepts, out_cycles = cfg.schedule(plan.tiles)
        schedule = {"i": accepts[0], "o": out_cycles}
        ends = np.flatnonzero(inputs["i"]["last"])
        triggers = {"o": ("i", np.repeat(ends, R))}
    vec = StreamVectors(
        inputs=inputs,
        expected=expected,
        schedule=schedule,
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


def random_gemms(
    cfg: SystolicArrayConfig,
    rng: np.random.Generator,
    n: int,
    *,
    corners: bool = True,
) -> list[Gemm]:
    """Random GEMMs totalling at least ``n`` result elements, plus corner GEMMs.

    Shapes: K and N (and M for output-stationary) are chosen not to be
    multiples of the array's R and C when the array is wider than 1; values
    are uniform with a quarter replaced by edge values (min, max, 0, ±1).
    """
    R, C, pe = cfg.rows, cfg.cols, cfg.pe
    kmax = pe.max_len if pe.overflow == "error" else 10**9
    if cfg.ws and not cfg.psum_input:
        kmax = min(kmax, R)

    def odd(base: int, limit: int) -> int:
        """A size in 1..~2.5·base that is not a multiple of base (when base > 1)."""
        v = int(rng.integers(1, max(2, int(2.5 * base) + 2)))
        if base > 1 and v % base == 0:
            v += 1
        return max(1, min(v, limit))

    gemms: list[Gemm] = []
    if corners:
        A, W = pe.act, pe.weight
        k = min(kmax, 2 * R + 1)
        m, nn = min(R + 1, 2 * R + 1), C + 1 if C > 1 else 1
        for name, av, wv in (
            ("zeros", 0, 0),
            ("min×min (most negative squared)", A.min, W.min),
            ("max×max", A.max, W.max),
            ("min×max", A.min, W.max),
            ("all-ones bits", -1 if A.signed else A.max, -1 if W.signed else W.max),
        ):
            gemms.append(Gemm(np.full((m, k), av, dtype=np.int64), np.full((k, nn), wv, dtype=np.int64), name))
        kk = min(kmax, 4096)
        gemms.append(
            Gemm(
                np.full((2, kk), A.min, dtype=np.int64),
                np.full((kk, max(1, C - 1)), W.min, dtype=np.int64),
                f"min×min over K={kk} (accumulator bound)",
            )
        )
    total = 0
    while total < n:
        M = odd(R, 4 * R + 3) if not cfg.ws else int(rng.integers(1, 2 * R + 4))
        K = odd(R, kmax)
        N = odd(C, 4 * C + 3)
        a = biased(rng, pe.act, (M, K))
        b = biased(rng, pe.weight, (K, N))
        gemms.append(Gemm(a, b, "random"))
        total += M * N
    return gemms


def gemm_cycles(cfg: SystolicArrayConfig, M: int, K: int, N: int) -> dict[str, float]:
    """Exact cycles (cycle model) and PE utilization of one tiled GEMM at full rate."""
    R, C = cfg.rows, cfg.cols
    if cfg.ws:
        tiles = [M] * (math.ceil(K / R) * math.ceil(N / C))
        util = K * N / (math.ceil(K / R) * R * math.ceil(N / C) * C)
    else:
        tiles = [K] * (math.ceil(M / R) * math.ceil(N / C))
        util = M * N / (math.ceil(M / R) * R * math.ceil(N / C) * C)
    accepts, outs = cfg.schedule(tiles)
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
