"""The integer softmax's behavioural reference for formal proofs: the rule written out per row."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Module, Mux, Signal

from ...reference import Reference, kept_row

if TYPE_CHECKING:
    from .config import SoftmaxConfig


class SoftmaxReference(Reference):
    """Keeps the row's scores; at the ``last`` one emits every probability of the row, each computed from
    :mod:`hwgen.intkernels`'s definitions with plain division (no multiply-shift divider, no reciprocal
    register, no buffers). Assumed: rows keep within ``max_len``."""

    def __init__(self, config: SoftmaxConfig):
        super().__init__(config.component(), emits=config.max_len)
        self.config = config

    def logic(self, m: Module) -> None:
        cfg, ie = self.config, self.config.iexp
        take, b = self.take["i"], self.beat["i"]
        N = cfg.max_len
        wide = range(-(1 << 40), 1 << 40)
        row, size = kept_row(m, self, "i", "x", cfg.act.shape, N)
        mx = row[0]
        for i in range(1, N):
            mx = Mux((i < size) & (row[i] > mx), row[i], mx)
        es = []
        for i in range(N):
            d = Signal(wide, name=f"d{i}")
            m.d.comb += d.eq(row[i] - mx)
            z = (-d) // ie.q_ln2
            p = d + z * ie.q_ln2
            big_l = (p + ie.q_b) * (p + ie.q_b) + ie.q_c
            e = Signal(wide, name=f"e{i}")
            m.d.comb += e.eq(Mux((i >= size) | (z >= ie.l_bits), 0, big_l >> z[:6]))
            es.append(e)
        total = Signal(wide, name="total")
        m.d.comb += total.eq(sum(es))
        recip = Signal(wide, name="recip")
        m.d.comb += recip.eq((1 << cfg.frac_bits) // total)
        for j in range(N):
            y = (es[j] * recip) >> cfg.sum_bits
            m.d.comb += [
                self.results[j].y.eq(Mux(y > cfg.out.max, cfg.out.max, y)),
                self.results[j].last.eq(j == size - 1),
            ]
        m.d.comb += self.emit.eq(Mux(take & b.last, size, 0))
