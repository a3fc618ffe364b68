"""The decode-attention unit's behavioural reference for formal proofs: the rule written out per query."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Array, Const, Module, Mux, Signal, Value

from ...errors import ConfigError
from ...reference import Reference, kept_row

if TYPE_CHECKING:
    from .config import DecodeAttentionConfig


class DecodeAttentionReference(Reference):
    """Keeps the query's beats; at its ``last`` beat emits every output beat, computed from the rule of
    :func:`hwgen.intkernels.online_attention` entry by entry with plain arithmetic: the table looked up
    directly, the rescales as written, the normalization by a plain division's reciprocal (no rotating
    registers, no multi-cycle divider). Assumed: queries are well formed (``last`` only after a value's final
    beat) and keep within ``max_kv`` entries."""

    def __init__(self, config: DecodeAttentionConfig):
        if config.units != 1:
            raise ConfigError("decode_attention.units", f"{config.units}: the formal reference covers one stream")
        super().__init__(config.component(), emits=config.beats)
        self.config = config

    def logic(self, m: Module) -> None:
        cfg = self.config
        g, d, L, F = cfg.beats, cfg.head_dim, cfg.lanes, cfg.exp_bits
        take, b = self.take["i"], self.beat["i"]
        size = g * (1 + 2 * cfg.max_kv)
        kept, n = kept_row(m, self, "i", "x", b.x.shape(), size)
        beats = [b.x.shape()(v) for v in kept]  # the lanes of each kept beat
        pos = n - 1  # this beat's index in the query
        well_formed = (pos + 1 >= 3 * g) & ((pos + 1 - g) % (2 * g) == 0)
        m.d.comb += self.bounded.eq((pos < size - 1) & ~b.last | well_formed & b.last)
        elems = [beats[j // L][j % L] for j in range(size * L)]
        q = elems[:d]
        table = Array(Const(e, F + 1) for e in (*cfg.exp.entries, 0))

        def exp(t: Value) -> Value:  # E(t), t ≤ 0
            return table[Mux(-t >= cfg.exp.size, cfg.exp.size, -t)]

        one = 1 << F
        mx, total = Const(0), Const(0)
        acc: list[Value] = [Const(0)] * d
        entries = Signal(range(cfg.max_kv + 1), name="entries")
        m.d.comb += entries.eq((n - g) // (2 * g))
        for j in range(cfg.max_kv):
            base = d * (1 + 2 * j)
            key, val = elems[base : base + d], elems[base + d : base + 2 * d]
            s = sum((a * k for a, k in zip(q, key)), Const(0)) >> cfg.score_shift
            grows = (j == 0) | (s > mx)
            alpha = Const(0) if j == 0 else Mux(grows, exp(mx - s), one)
            p = Mux(grows, one, exp(s - mx))
            live = j < entries  # entries past the query's end change nothing
            total = Mux(live, ((total * alpha) >> F) + p, total)
            acc = [Mux(live, ((a * alpha) >> F) + p * v, a) for a, v in zip(acc, val)]
            mx = Mux(live & grows, s, mx)
        G = cfg.recip_frac
        recip = Signal(range(1 << (G + 1)), name="recip")
        m.d.comb += recip.eq((1 << G) // Mux(total == 0, 1, total))
        lo, hi = cfg.out.min, cfg.out.max
        ys = [(a * recip + (1 << (G - 1))) >> G for a in acc]
        ys = [Mux(y < lo, lo, Mux(y > hi, hi, y)) for y in ys]
        for j in range(g):
            for ln in range(L):
                m.d.comb += self.results[j].y[ln].eq(ys[j * L + ln])
            m.d.comb += self.results[j].last.eq(j == g - 1)
        m.d.comb += self.emit.eq(Mux(take & b.last, g, 0))
