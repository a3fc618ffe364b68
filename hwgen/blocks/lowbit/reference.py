"""Behavioural references of the low-bit units for formal proofs (see :mod:`hwgen.reference`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Array, Const, Module, Mux, Signal

from ...lowbit import olive_decode_nibble
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
    """``acc += Σ a·w`` with each weight looked up from its byte in a table of all 256 outlier-victim pairs
    (the decode written out as data, not logic), out on ``last``."""

    def __init__(self, config: OliveMACConfig):
        super().__init__(config.component())
        self.config = config

    def logic(self, m: Module) -> None:
        cfg, b = self.config, self.beat["i"]
        tables = []
        for k in range(2):  # even element: low nibble; odd: high nibble
            vals = []
            for byte in range(256):
                lo, hi = byte & 0xF, byte >> 4
                mant, sh = olive_decode_nibble(*((lo, hi) if k == 0 else (hi, lo)))
                vals.append(Const(mant << sh, 8))
            tables.append(Array(vals))
        weights = [tables[k % 2][b.pair[k // 2]].as_signed() for k in range(cfg.lanes)]
        acc = Accumulation(m, self, "i", cfg.acc, cfg.max_len)
        acc.step(dot([b.a[k] for k in range(cfg.lanes)], weights), b.last)


class MixPEReference(Reference):
    """``y = Σ_g scale_g · (Σ_{k∈g} q_k·a_k − zero_g · Σ_{k∈g} a_k)``, a group ends at ``group_last`` or
    ``last``, an output at ``last``; groups bounded to ``max_group`` beats and ``max_groups`` per output."""

    def __init__(self, config: MixPEConfig):
        super().__init__(config.component())
        self.config = config

    def logic(self, m: Module) -> None:
        cfg, b, take = self.config, self.beat["i"], self.take["i"]
        lanes = range(cfg.lanes)
        sqa, sa = Signal(range(-(1 << 40), 1 << 40)), Signal(range(-(1 << 40), 1 << 40))
        total = Signal(range(-(1 << 50), 1 << 50))
        beats = Signal(range(cfg.max_group + 1))
        groups = Signal(range(cfg.max_groups + 1))
        new_qa = sqa + dot([b.a[k] for k in lanes], [b.q[k] for k in lanes])
        new_a = sa + sum(b.a[k] for k in lanes)
        ends = b.group_last | b.last
        zero = b.zero if cfg.asymmetric else 0
        new_total = Mux(ends, total + b.scale * (new_qa - zero * new_a), total)
        m.d.comb += [
            self.emit.eq(take & b.last),
            self.result.eq(new_total),
            self.bounded.eq((beats < cfg.max_group) & (groups < cfg.max_groups)),
        ]
        with m.If(take):
            m.d.sync += [
                sqa.eq(Mux(ends, 0, new_qa)),
                sa.eq(Mux(ends, 0, new_a)),
                beats.eq(Mux(ends, 0, beats + 1)),
                total.eq(Mux(b.last, 0, new_total)),
                groups.eq(Mux(b.last, 0, Mux(ends, groups + 1, groups))),
            ]
