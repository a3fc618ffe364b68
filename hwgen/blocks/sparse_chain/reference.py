"""The sparse chain's behavioural reference for formal proofs: each row's dot product written out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Const, Module, Mux, Signal, Value

from ...reference import Reference, fold

if TYPE_CHECKING:
    from .config import SparseChainConfig


class SparseChainReference(Reference):
    """Per beat in pattern ``p = patterns[mode]`` (N:M, group length ``g = S·N/M``): row ``q`` adds
    ``Σ_j w[q·g+j] · x[(j // N)·M + idx[q·g+j]]`` (dense: ``idx`` = 0) to its accumulator by the overflow
    rule; on ``last`` the rows are the result (``y[q] = 0`` for rows the pattern does not use) and the
    accumulators clear. Assumed: ``mode`` names a pattern and stays the same within an accumulation,
    indices fit the pattern, accumulations keep within ``max_len`` beats."""

    def __init__(self, config: SparseChainConfig):
        super().__init__(config.component())
        self.config = config

    def logic(self, m: Module) -> None:
        cfg, b, take = self.config, self.beat["i"], self.take["i"]
        S, G, pats = cfg.stages, cfg.taps, cfg.nm
        rule = "wrap" if cfg.overflow == "error" else cfg.overflow
        beats = Signal(range(cfg.max_len + 1))
        mode = Signal(range(len(pats)))
        ok = (beats < cfg.max_len) & (b.mode < len(pats)) & ((beats == 0) | (b.mode == mode))
        for p_i, p in enumerate(pats):
            if not p.dense:
                for s in range(S):
                    ok &= (b.mode != p_i) | (b.idx[s] < p.m)
        vectors = [("y", b.x)] + ([("y1", b.x1)] if cfg.pack_int8 else [])
        m.d.comb += [self.emit.eq(take & b.last), self.bounded.eq(ok)]
        for out, x in vectors:
            for q in range(G):
                acc = Signal(cfg.acc.shape, name=f"acc_{out}{q}")
                new: Value = acc
                for p_i, p in enumerate(pats):
                    g = cfg.group_len(p)
                    if q >= S // g:
                        continue
                    total: Value = Const(0, 2)
                    for j in range(g):
                        s = q * g + j
                        base = (j // p.n) * p.m
                        xv = x[base] if p.dense else _select(x, base, p.m, b.idx[s])
                        total = total + b.w[s] * xv
                    new = Mux(b.mode == p_i, fold(acc + total, cfg.acc, rule), new)
                used = [p_i for p_i, p in enumerate(pats) if q < S // cfg.group_len(p)]
                in_use = Const(0, 1)
                for p_i in used:
                    in_use = in_use | (b.mode == p_i)
                m.d.comb += getattr(self.result, out)[q].eq(Mux(in_use, new, 0))
                with m.If(take):
                    m.d.sync += acc.eq(Mux(b.last, 0, Mux(in_use, new, acc)))
        with m.If(take):
            m.d.sync += [beats.eq(Mux(b.last, 0, beats + 1)), mode.eq(b.mode)]


def _select(x: Value, base: int, m: int, index: Value) -> Value:
    """``x[base + index]`` for an index below ``m``."""
    out: Value = x[base]
    for k in range(1, m):
        out = Mux(index == k, x[base + k], out)
    return out
