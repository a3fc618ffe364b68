"""The bit-serial PE's behavioural reference for formal proofs: decoded weights as plain products."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Array, Const, Module, Mux, Signal

from ...reference import Reference, dot

if TYPE_CHECKING:
    from .config import BitSerialPEConfig


class BitSerialReference(Reference):
    """Per row: ``group += Σ a · value(code)`` with ``value`` looked up in the format's grid (a table, no
    digits), ``total += group · scale`` at the group's end, ``y = total`` at ``last``. Assumed: format ids
    name a configured format, codes fit their format, groups keep within ``max_group`` weights and outputs
    within ``max_groups`` groups."""

    def __init__(self, config: BitSerialPEConfig):
        super().__init__(config.component())
        self.config = config

    def logic(self, m: Module) -> None:
        cfg, b, take = self.config, self.beat["i"], self.take["i"]
        R, L = cfg.rows, cfg.lanes
        big = range(-(1 << 60), 1 << 60)
        grids = [Array(Const(int(v), 16) for v in dt.values) for dt in cfg.dts]
        per_group = max(1, cfg.max_group // L)  # max_group counts weights per row; a beat carries `lanes`
        beats = Signal(range(per_group + 1))
        groups = Signal(range(cfg.max_groups + 1))
        ends = b.group_last | b.last
        ok = (beats < per_group) & (groups < cfg.max_groups)
        m.d.comb += self.emit.eq(take & b.last)
        for r in range(R):
            group, total = Signal(big, name=f"group{r}"), Signal(big, name=f"total{r}")
            fmt = b.fmt[r]
            ok &= fmt < len(cfg.dts)
            value = []
            for k in range(L):
                code = b.code[r][k]
                v = Const(0, 16)
                for f, (dt, grid) in enumerate(zip(cfg.dts, grids)):
                    ok &= (fmt != f) | (code < (1 << dt.bits))
                    v = Mux(fmt == f, grid[code[: dt.bits]], v)
                value.append(v.as_signed())
            new_group = group + dot([b.a[k] for k in range(L)], value)
            new_total = Mux(ends, total + new_group * b.scale[r], total)
            m.d.comb += self.result[r].eq(new_total)
            with m.If(take):
                m.d.sync += [group.eq(Mux(ends, 0, new_group)), total.eq(Mux(b.last, 0, new_total))]
        m.d.comb += self.bounded.eq(ok)
        with m.If(take):
            m.d.sync += [
                beats.eq(Mux(ends, 0, beats + 1)),
                groups.eq(Mux(b.last, 0, Mux(ends, groups + 1, groups))),
            ]
