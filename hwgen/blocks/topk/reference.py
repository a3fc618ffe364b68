"""The top-k engine's behavioural reference for formal proofs: every score of the row ranked at its end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Module, Mux, Signal

from ...reference import Reference

if TYPE_CHECKING:
    from .config import TopKConfig


class TopKReference(Reference):
    """Keeps the row's scores; at its last beat the score of rank ``r`` (the number of scores greater, or
    equal and earlier) is result ``r`` for ``r < min(k, n)``. Assumed: rows of 1..max_n, k of 1..max_k."""

    def __init__(self, config: TopKConfig):
        super().__init__(config.component(), emits=config.max_k)
        self.config = config

    def logic(self, m: Module) -> None:
        cfg, take, b = self.config, self.take["i"], self.beat["i"]
        N = cfg.max_n
        kept = [Signal(cfg.score.shape, name=f"s{i}") for i in range(N)]
        n = Signal(range(N + 1), name="n")  # scores kept before this beat
        row_k = Signal(range(cfg.max_k + 1), name="row_k")
        k = Mux(n == 0, b.k, row_k)
        row = [Mux(n == i, b.score, kept[i]) for i in range(N)]
        size = n + 1
        ranks = []
        for i in range(N):
            r = 0
            for j in range(N):
                if j != i:
                    ahead = (row[j] > row[i]) | ((row[j] == row[i]) & (j < i))
                    r = r + Mux((j < size) & ahead, 1, 0)
            ranks.append(r)
        count = Mux(size < k, size, k)
        for r in range(cfg.max_k):
            res = self.results[r]
            idx, sc = 0, 0
            for i in range(N):
                hit = (i < size) & (ranks[i] == r)
                idx, sc = Mux(hit, i, idx), Mux(hit, row[i], sc)
            m.d.comb += [res.index.eq(idx), res.score.eq(sc), res.last.eq(r == count - 1)]
        m.d.comb += [
            self.emit.eq(Mux(take & b.last, count, 0)),
            self.bounded.eq(((n < N - 1) | ((n == N - 1) & b.last)) & (k >= 1) & (k <= cfg.max_k)),
        ]
        with m.If(take):
            m.d.sync += n.eq(Mux(b.last, 0, n + 1))
            with m.If(n == 0):
                m.d.sync += row_k.eq(b.k)
            for i in range(N):
                with m.If(n == i):
                    m.d.sync += kept[i].eq(b.score)
