"""N:M structured sparsity: patterns, the compressed weight format, and a magnitude pruner.

In an N:M sparse matrix every block of ``M`` consecutive weights of a row
(columns ``b·M .. b·M + M - 1``) holds at most ``N`` non-zeros. The
compressed format stores, per block, exactly ``N`` values and their
``log2(M)``-bit in-block indices:

* non-zeros first, in ascending index order;
* a block with fewer than ``N`` non-zeros is padded with value 0 at the
  lowest in-block indices not used by a non-zero (ascending).

So ``values`` and ``indices`` are ``[rows, (K / M) · N]`` and
:meth:`CompressedMatrix.decompress` restores the matrix exactly. Dense is the
pattern ``1:1`` (``M = 1``, no index bits).

:func:`prune` keeps the ``N`` largest magnitudes of each block; ties go to
the lower index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .errors import ConfigError
from .values import integers, reals

#: The patterns the sparse DSP chain supports (plus dense).
SUPPORTED = ("dense", "1:2", "2:4", "1:4", "2:8", "4:8")


@dataclass(frozen=True)
class NMPattern:
    """At most ``n`` non-zeros in every block of ``m`` consecutive weights (``1:1`` = dense)."""

    n: int
    m: int

    def __post_init__(self) -> None:
        if self.m not in (1, 2, 4, 8, 16) or not 1 <= self.n <= self.m:
            raise ConfigError(
                "pattern", f"{self.n}:{self.m} is not an N:M pattern with M a power of two up to 16 and 1 <= N <= M"
            )

    @staticmethod
    def parse(text: str | NMPattern, where: str = "pattern") -> NMPattern:
        if isinstance(text, NMPattern):
            return text
        if isinstance(text, str) and text.strip().lower() == "dense":
            return NMPattern(1, 1)
        m = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", str(text))
        if not m:
            raise ConfigError(
                where,
                f"{text!r} is not a pattern; write 'dense' or N:M such as '2:4' (supported: {', '.join(SUPPORTED)})",
            )
        try:
            return NMPattern(int(m[1]), int(m[2]))
        except ConfigError as e:
            raise ConfigError(where, e.detail) from None

    @property
    def dense(self) -> bool:
        return self.m == 1

    @property
    def index_bits(self) -> int:
        """Bits of one in-block index (``log2 M``)."""
        return (self.m - 1).bit_length()

    @property
    def speedup(self) -> float:
        """Ideal speed-up over dense processing: ``M / N``."""
        return self.m / self.n

    def __str__(self) -> str:
        return "dense" if self.dense else f"{self.n}:{self.m}"


@dataclass(frozen=True)
class CompressedMatrix:
    """An N:M sparse matrix in compressed form (see the module docstring)."""

    pattern: NMPattern
    shape: tuple[int, int]
    values: np.ndarray  # [rows, K / M * N] raw integers
    indices: np.ndarray  # [rows, K / M * N] in-block indices, 0 .. M-1

    def decompress(self) -> np.ndarray:
        rows, k = self.shape
        p = self.pattern
        out = np.zeros((rows, k), dtype=self.values.dtype)
        blocks = k // p.m
        base = np.repeat(np.arange(blocks) * p.m, p.n)
        cols = base[None, :] + self.indices
        np.put_along_axis(out, cols, self.values, axis=1)  # padding zeros land on unused indices
        return out


def _matrix(w: ArrayLike, pattern: NMPattern, where: str) -> np.ndarray:
    """``w`` as a non-empty matrix of integers (kept exact) or finite reals, ``M`` dividing its columns."""
    arr = np.asarray(w)
    w = (
        integers(arr, where, ndim=2, nonempty=True)
        if arr.dtype.kind in "iuO"
        else reals(arr, where, ndim=2, nonempty=True)
    )
    if w.shape[1] % pattern.m:
        raise ConfigError(
            where,
            f"{w.shape[1]} columns is not a multiple of M={pattern.m} for pattern "
            f"{pattern}; pad the reduction dimension with zero columns",
        )
    return w


def compress(w: ArrayLike, pattern: NMPattern | str, *, where: str = "weights") -> CompressedMatrix:
    """Compress ``w [rows, K]`` to ``pattern``; raises :class:`ConfigError` naming the first offending block."""
    p = NMPattern.parse(pattern)
    w = _matrix(w, p, where)
    rows, k = w.shape
    blocks = w.reshape(rows, k // p.m, p.m)
    nnz = np.count_nonzero(blocks, axis=2)
    bad = np.argwhere(nnz > p.n)
    if bad.size:
        r, b = (int(x) for x in bad[0])
        cols = [int(b * p.m + i) for i in np.flatnonzero(blocks[r, b])]
        raise ConfigError(
            where,
            f"row {r}, columns {b * p.m}..{b * p.m + p.m - 1} (block {b}) has {nnz[r, b]} "
            f"non-zeros (at columns {cols}); pattern {p} allows {p.n} "
            f"({len(bad)} block(s) violate it; `hwgen.sparse.prune` enforces the pattern)",
        )
    # order each block: non-zeros by index, then zeros by index; keep the first n
    key = (blocks == 0).astype(np.int64) * p.m + np.arange(p.m)[None, None, :]
    order = np.argsort(key, axis=2, kind="stable")[:, :, : p.n]
    values = np.take_along_axis(blocks, order, axis=2).reshape(rows, -1)
    return CompressedMatrix(p, (rows, k), values, order.reshape(rows, -1).astype(np.int64))


def prune(w: ArrayLike, pattern: NMPattern | str, *, where: str = "weights") -> np.ndarray:
    """Zero all but the ``N`` largest-magnitude weights of every block of ``M`` (ties: lower index kept)."""
    p = NMPattern.parse(pattern)
    w = _matrix(w, p, where)
    rows, k = w.shape
    blocks = w.reshape(rows, k // p.m, p.m)
    # rank by (-|w|, index): stable argsort of -|w| keeps lower indices first among equals
    order = np.argsort(-np.abs(blocks.astype(np.float64)), axis=2, kind="stable")
    keep = np.zeros_like(blocks, dtype=bool)
    np.put_along_axis(keep, order[:, :, : p.n], True, axis=2)
    return np.where(keep, blocks, 0).reshape(rows, k)
