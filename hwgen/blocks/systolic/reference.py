"""The systolic array's behavioural reference for formal proofs: a matrix product written out, no mesh."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Module, Mux, Signal, Value

from ...reference import Reference, fold

if TYPE_CHECKING:
    from .config import SystolicArrayConfig


class SystolicReference(Reference):
    """WS: ``rows`` weight beats load ``W [K][N]``; then each activation row gives
    ``y[n] = fold(... fold(psum[n] + a[0]·W[0][n]) ... + a[K-1]·W[K-1][n])`` (k order, the PE's rule); the
    row with ``last`` ends the tile and the next weights follow. OS: every beat folds ``a[r]·w[n]`` into
    ``acc[r][n]``; on ``last`` the ``rows`` result rows are emitted in order and the accumulators clear.
    Legal (asserted): WS takes weights only while loading and activations only after a full tile. Assumed:
    OS tiles keep within the PE's ``max_len`` beats."""

    def __init__(self, config: SystolicArrayConfig):
        super().__init__(config.component(), emits=1 if config.ws else config.rows)
        self.config = config

    def logic(self, m: Module) -> None:
        if self.config.ws:
            self._weight_stationary(m)
        else:
            self._output_stationary(m)

    def _weight_stationary(self, m: Module) -> None:
        cfg, pe = self.config, self.config.pe
        R, C = cfg.rows, cfg.cols
        rule = "wrap" if pe.overflow == "error" else pe.overflow
        w, a = self.beat["w"], self.beat["a"]
        weights = [[Signal(pe.weight.shape, name=f"w{k}_{n}") for n in range(C)] for k in range(R)]
        loaded = Signal(range(R + 1))
        m.d.comb += self.legal.eq((~self.take["w"] | (loaded < R)) & (~self.take["a"] | (loaded == R)))
        with m.If(self.take["w"]):
            m.d.sync += loaded.eq(loaded + 1)
            for k in range(R):
                with m.If(loaded == k):
                    m.d.sync += [weights[k][n].eq(w.w[n]) for n in range(C)]
        with m.If(self.take["a"] & a.last):
            m.d.sync += loaded.eq(0)
        m.d.comb += self.emit.eq(self.take["a"])
        for n in range(C):
            acc: Value = a.psum[n] if cfg.psum_input else Signal(pe.acc.shape, name=f"zero{n}")
            for k in range(R):
                acc = fold(acc + a.a[k] * weights[k][n], pe.acc, rule)
                nxt = Signal(pe.acc.shape, name=f"y{n}_{k}")
                m.d.comb += nxt.eq(acc)
                acc = nxt
            m.d.comb += self.result[n].eq(acc)

    def _output_stationary(self, m: Module) -> None:
        cfg, pe, b, take = self.config, self.config.pe, self.beat["i"], self.take["i"]
        R, C = cfg.rows, cfg.cols
        rule = "wrap" if pe.overflow == "error" else pe.overflow
        beats = Signal(range(pe.max_len + 1))
        m.d.comb += [self.bounded.eq(beats < pe.max_len), self.emit.eq(Mux(take & b.last, R, 0))]
        for r in range(R):
            for n in range(C):
                acc = Signal(pe.acc.shape, name=f"acc{r}_{n}")
                new = fold(acc + b.a[r] * b.w[n], pe.acc, rule)
                m.d.comb += self.results[r][n].eq(new)
                with m.If(take):
                    m.d.sync += acc.eq(Mux(b.last, 0, new))
        with m.If(take):
            m.d.sync += beats.eq(Mux(b.last, 0, beats + 1))
