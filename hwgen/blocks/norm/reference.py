"""The norm unit's behavioural reference for formal proofs: the rule per row, the root by a plain search."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Module, Mux, Signal

from ...reference import Reference, kept_row

if TYPE_CHECKING:
    from .config import NormConfig


class NormReference(Reference):
    """Keeps the row; at its last element emits every result: ``d``, ``D``, the quotient by division, the
    root as the largest ``r`` with ``r² ≤ q`` (every candidate tried), the scaled, clamped ``d · r``.
    Assumed: rows keep within ``max_len``."""

    def __init__(self, config: NormConfig):
        super().__init__(config.component(), emits=config.max_len)
        self.config = config

    def logic(self, m: Module) -> None:
        cfg, take, b = self.config, self.take["i"], self.beat["i"]
        N, P, F = cfg.max_len, cfg.guard_shift, cfg.out_frac
        wide = range(-(1 << 60), 1 << 60)
        row, size = kept_row(m, self, "i", "x", cfg.act.shape, N)
        total = sum(Mux(i < size, row[i], 0) for i in range(N))
        ds = []
        for i in range(N):
            d = Signal(wide, name=f"d{i}")
            m.d.comb += d.eq(Mux(i < size, row[i] * size - total if cfg.mode == "layernorm" else row[i], 0))
            ds.append(d)
        big_d = Signal(wide, name="big_d")
        m.d.comb += big_d.eq(sum(d * d for d in ds))
        q = Signal(wide, name="q")
        m.d.comb += q.eq(Mux(big_d == 0, 0, (size << (2 * P)) // big_d))
        r = Signal(range(1 << cfg.root_bits), name="r")
        root = 0
        for cand in range(1, 1 << cfg.root_bits):
            root = Mux(cand * cand <= q, cand, root)
        m.d.comb += r.eq(root)
        for j in range(N):
            y = (ds[j] * r) >> (P - F)
            m.d.comb += [
                self.results[j].y.eq(Mux(y > cfg.out.max, cfg.out.max, Mux(y < cfg.out.min, cfg.out.min, y))),
                self.results[j].last.eq(j == size - 1),
            ]
        m.d.comb += self.emit.eq(Mux(take & b.last, size, 0))
