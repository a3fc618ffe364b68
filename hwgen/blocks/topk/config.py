"""The top-k engine's configuration: parameters, golden model, cycle model, estimator features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from ...config import Arrivals, BlockConfig, CycleModel, Timing, check_range, param
from ...errors import ConfigError
from ...numtype import Int, NumType, UInt
from ...structure import Features, TimingPath, add
from ...vectors import StreamVectors
from .hardware import TopK
from .reference import TopKReference


@dataclass(frozen=True, kw_only=True)
class TopKConfig(BlockConfig):
    """Parameters of the top-k engine."""

    block_name: ClassVar[str] = "topk"
    summary: ClassVar[str] = (
        "SpAtten top-k engine: the k largest of a streamed row (run-time k), one score per cycle, "
        "indices in descending score order, ties to the lower index"
    )

    max_n: int = param(256, "longest row (scores per row)", "1..65536")
    max_k: int = param(16, "largest k (the sorted array's entries)", "1..64")
    score: NumType = param(Int(16), "score type", "Int/UInt of 2..32 bits")

    def validate(self) -> None:
        check_range(self.where("max_n"), self.max_n, 1, 1 << 16)
        check_range(self.where("max_k"), self.max_k, 1, 64)
        if self.score.frac or not 2 <= self.score.width <= 32:
            raise ConfigError(self.where("score"), f"{self.score}: integers of 2..32 bits")

    def component(self) -> TopK:
        return TopK(self)

    def timing(self) -> Timing:
        return Timing(
            latency=1,
            ii=1,
            ops_per_beat=self.max_k,
            notes=f"one score per cycle ({self.max_k} comparisons each); a row's min(k, n) indices leave one per "
            "cycle from the cycle after its last score, while the next row streams in",
        )

    def model(self, score: ArrayLike, k: ArrayLike, last: ArrayLike) -> dict[str, np.ndarray]:
        """Golden model: per row (ended by ``last``; ``k`` read at the row's first beat), the indices of its
        ``min(k, n)`` largest scores in descending score order, ties to the lower index (a stable
        ``argsort`` of the negated scores), with their scores; ``last`` on each row's final one."""
        score = self.score.array(score).astype(np.int64)
        k, last = np.asarray(k, dtype=np.int64), np.asarray(last).astype(bool)
        idx, sc, lasts, start = [], [], [], 0
        for end in np.flatnonzero(last):
            row = score[start : end + 1]
            if len(row) > self.max_n or not 1 <= k[start] <= self.max_k:
                raise ConfigError("i", f"a row of {len(row)} with k = {k[start]}; rows of 1..{self.max_n}, "
                                  f"k of 1..{self.max_k}")  # fmt: skip
            best = np.argsort(-row, kind="stable")[: min(int(k[start]), len(row))]
            idx.append(best)
            sc.append(row[best])
            lasts.append(np.arange(len(best)) == len(best) - 1)
            start = end + 1
        cat = lambda parts: np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)  # noqa: E731
        return {"index": cat(idx), "score": cat(sc), "last": cat(lasts)}

    def cycle_model(self, vectors: StreamVectors, *, arrivals: Arrivals | None = None) -> CycleModel:
        """Scores are taken one per cycle once offered; a row's last score also waits for the output register
        to be free (the cycle the previous row's last index leaves); a row whose last score is taken at ``t``
        gives its ``min(k, n)`` indices at ``t + 1 + j``."""
        last = vectors.field("i", "last").astype(bool)
        ks = vectors.field("i", "k")
        offered = (arrivals or {}).get("i")
        accepts, outs = [], []
        t, free, start = 0, 0, 0
        for b in range(len(last)):
            t = max(t, offered[b]) if offered is not None else t
            if last[b]:
                t = max(t, free)
                c = min(int(ks[start]), b - start + 1)
                outs += [t + 1 + j for j in range(c)]
                free, start = t + c, b + 1
            accepts.append(t)
            t += 1
        return {"i": accepts, "o": outs}

    def stimulus(self, rng: np.random.Generator, n: int = 200, *, corners: bool = True) -> StreamVectors:
        """``n`` random rows (random lengths and k, scores spread or full of ties), plus the corners: all-equal
        scores (every tie), one huge score, all most-negative, length 1, ``max_n`` long, k = 1 and
        ``max_k``, ``k > n``."""
        t, N, K = self.score, self.max_n, self.max_k
        rows: list[tuple[np.ndarray, int]] = []
        names = []
        if corners:
            rows += [
                (np.full(N, 7 % (t.max + 1)), K),
                (np.array([t.min] * (N - 1) + [t.max]), 1),
                (np.full(N, t.min), K),
                (np.array([t.max]), K),
                (rng.integers(t.min, t.max + 1, N), K),
                (rng.integers(t.min, t.max + 1, max(1, min(N, K) - 1)), K),
            ]
            names = ["all-equal scores", "one huge score last, k = 1", "all most-negative", "length 1",
                     "max_n row", "k > n"]  # fmt: skip
        for _ in range(n):
            length = int(rng.integers(1, N + 1))
            spread = rng.integers(t.min, t.max + 1, length) if rng.random() < 0.5 else rng.integers(0, 4, length)
            rows.append((np.clip(spread, t.min, t.max), int(rng.integers(1, K + 1))))
        score = np.concatenate([r for r, _ in rows]).astype(np.int64)
        k = np.concatenate([np.full(len(r), kk) for r, kk in rows]).astype(np.int64)
        last = np.concatenate([np.arange(len(r)) == len(r) - 1 for r, _ in rows]).astype(np.int64)
        expected = self.model(score, k, last)
        ends = np.flatnonzero(last)
        trig = np.concatenate([np.full(min(kk, len(r)), e) for (r, kk), e in zip(rows, ends)]).astype(np.int64)
        return StreamVectors(
            inputs={"i": {"score": score, "k": k, "last": last}},
            expected={"o": expected},
            triggers={"o": ("i", trig)},
            corners=names,
        )

    @classmethod
    def test_configs(cls) -> dict[str, BlockConfig]:
        return {
            "n64_k8": cls(max_n=64, max_k=8),
            "n256_k16_default": cls(),
            "n9_k4_u6": cls(max_n=9, max_k=4, score=UInt(6)),
            "n1_k1": cls(max_n=1, max_k=1),
            "n32_k32": cls(max_n=32, max_k=32, score=Int(8)),
        }

    def reference(self) -> TopKReference:
        return TopKReference(self)

    @classmethod
    def formal_configs(cls) -> dict[str, BlockConfig]:
        return {"n3_k2_int3": cls(max_n=3, max_k=2, score=Int(3))}

    def result_wait(self) -> int:
        """A row's last index leaves ``min(k, n)`` cycles after its last score."""
        return self.max_k

    def timing_paths(self, family: str) -> list[TimingPath]:
        """The compare of the new score with every entry, then the insertion mux (the compare of the entry
        above selects), the stall enable (the output register's state into ``ready``, every entry)."""
        size = 2 * self.max_k * (self.score.width + max(self.max_n, 2).bit_length() + 1)
        insert = {"adders": 1, "carry_bits": self.score.width, "luts": 3, "fanout": self.max_k}
        return [TimingPath("compare and insert", size=size, **insert),
                TimingPath("stall enable", luts=3, fanout=size // 2, size=size)]  # fmt: skip

    def features(self, family: str) -> Features:
        K, w, iw = self.max_k, self.score.width, max(self.max_n, 2).bit_length()
        feat: Features = {}
        add(feat, "sorted array", acc_add_bits=K * w, mux_bits=K * (w + iw + 1), reg_bits=K * (w + iw + 1))
        add(feat, "output register", mux_bits=K * (w + iw), reg_bits=K * (w + iw + 1))
        add(feat, "control", ctrl=3, reg_bits=iw + K.bit_length() * 2)
        return feat
