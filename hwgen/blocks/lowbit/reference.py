"""Behavioural references of the low-bit units for formal proofs (see :mod:`hwgen.reference`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Array, Const, Module, Mux, Signal, signed

from ...lowbit import OLIVE_ID
from ...reference import Accumulation, Reference, dot

if TYPE_CHECKING:
    from .mixpe import MixPEConfig
    from .olive import OliveMACConfig
    from .ternary import TernaryPEConfig


class TernaryReference(Reference):
    """``acc += Σ a·value(w)``, codes 00 → 0, 01 → +1, 11 → −1, 10 → 0, out on ``last``."""

    def __init__(self, config: TernaryPEConfig):
        super().__init__(config.component())
        self.config = config

    def logic(self, m: Module) -> None:
        cfg, b = self.config, self.beat["i"]
        values = Array(Const(v, 2) for v in (0, 1, 0, -1))
        vals = [values[b.w[k]].as_signed() for k in range(cfg.lanes)]
        acc = Accumulation(m, self, "i", cfg.acc, cfg.max_len)
        acc.step(dot([b.a[k] for k in range(cfg.lanes)], vals), b.last)


class OliveReference(Reference):
    """``acc += Σ a·w``, out on ``last``, each weight decoded from its nibble and its pair partner's as OliVe
    defines it: the victim (its nibble is the outlier identifier) is 0; its partner, the outlier, is the
    abfloat ``±(2 + m) << (e + 2)`` (sign, 2-bit exponent, 1-bit mantissa); otherwise the nibble is INT4."""

    def __init__(self, config: OliveMACConfig):
        super().__init__(config.component())
        self.config = config

    def logic(self, m: Module) -> None:
        cfg, b = self.config, self.beat["i"]
        weights = []
        for k in range(cfg.lanes):
            pair = b.pair[k // 2]
            nib, other = (pair[:4], pair[4:]) if k % 2 == 0 else (pair[4:], pair[:4])
            magnitude = (2 + nib[0]) << (nib[1:3] + 2)
            outlier = Mux(nib[3], -magnitude, magnitude)
            w = Signal(signed(8), name=f"w{k}")
            m.d.comb += w.eq(Mux(nib == OLIVE_ID, 0, Mux(other == OLIVE_ID, outlier, nib.as_signed())))
            weights.append(w)
        acc = Accumulation(m, self, "i", cfg.acc, cfg.max_len)
        acc.step(dot([b.a[k] for k in range(cfg.lanes)], weights), b.last)


class MixPEReference(Reference):
    """``y = Σ_g scale_g · (Σ_{k∈g} q_k·a_k − zero_g · Σ_{k∈g} a_k)``, a group ends at ``group_last`` or
    ``last``, an output at ``last``; groups bounded to ``max_group`` weights and ``max_groups`` per output,
    zero points 0 for signed weights (the golden model rejects others)."""

    def __init__(self, config: MixPEConfig):
        super().__init__(config.component())
        self.config = config

    def logic(self, m: Module) -> None:
        cfg, b, take = self.config, self.beat["i"], self.take["i"]
        lanes = range(cfg.lanes)
        sqa, sa = Signal(range(-(1 << 40), 1 << 40)), Signal(range(-(1 << 40), 1 << 40))
        total = Signal(range(-(1 << 50), 1 << 50))
        per_group = max(1, cfg.max_group // cfg.lanes)  # max_group counts weights; a beat carries `lanes`
        beats = Signal(range(per_group + 1))
        groups = Signal(range(cfg.max_groups + 1))
        new_qa = sqa + dot([b.a[k] for k in lanes], [b.q[k] for k in lanes])
        new_a = sa + sum(b.a[k] for k in lanes)
        ends = b.group_last | b.last
        zero = b.zero if cfg.asymmetric else 0
        new_total = Mux(ends, total + b.scale * (new_qa - zero * new_a), total)
        m.d.comb += [
            self.emit.eq(take & b.last),
            self.result.eq(new_total),
            self.bounded.eq((beats < per_group) & (groups < cfg.max_groups) & (cfg.asymmetric | (b.zero == 0))),
        ]
        with m.If(take):
            m.d.sync += [
                sqa.eq(Mux(ends, 0, new_qa)),
                sa.eq(Mux(ends, 0, new_a)),
                beats.eq(Mux(ends, 0, beats + 1)),
                total.eq(Mux(b.last, 0, new_total)),
                groups.eq(Mux(b.last, 0, Mux(ends, groups + 1, groups))),
            ]
