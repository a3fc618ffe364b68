"""MAC PE hardware: operand and product registers, an exact adder tree, the accumulator (see the package doc)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...arith import sum_type, to_accumulator
from ...primitives import registered_multiply

if TYPE_CHECKING:
    from .config import MacPEConfig


class MacPE(wiring.Component):
    """The MAC PE hardware; see the module docstring for interface and timing.

    Ports: ``i`` (``{a: act[lanes], w: weight[lanes], last}``), ``o``
    (``acc``), plus the implicit ``clk``/``rst`` of the ``sync`` domain.
    """

    def __init__(self, config: MacPEConfig):
        self.config = config
        in_layout = data.StructLayout(
            {
                "a": data.ArrayLayout(config.act.shape, config.lanes),
                "w": data.ArrayLayout(config.weight.shape, config.lanes),
                "last": 1,
            }
        )
        super().__init__(
            {
                "i": In(stream.Signature(in_layout)),
                "o": Out(stream.Signature(config.acc.shape)),
            }
        )

    def elaborate(self, platform: object) -> Module:
        cfg = self.config
        m = Module()
        advance = Signal()  # the whole pipeline moves this cycle

        def stage(name: str, valid: Value, last: Value, values: list[Value]) -> tuple[Signal, Signal, list[Signal]]:
            """One register stage: reset valid bit, reset-less data, enabled by ``advance``."""
            v = Signal(name=f"{name}_valid")
            l = Signal(name=f"{name}_last", reset_less=True)
            regs = [Signal(x.shape(), name=f"{name}{k}", reset_less=True) for k, x in enumerate(values)]
            with m.If(advance):
                m.d.sync += [v.eq(valid), l.eq(last)] + [r.eq(x) for r, x in zip(regs, values)]
            return v, l, regs

        valid, last = self.i.valid, self.i.p.last
        a = [self.i.p.a[k] for k in range(cfg.lanes)]
        w = [self.i.p.w[k] for k in range(cfg.lanes)]
        if cfg.dsp_cells != "inferred":  # the operand (pipeline >= 2) and product (>= 1) registers in the cell
            regs = "abp" if cfg.pipeline >= 2 else "p" if cfg.pipeline == 1 else ""
            prods = [
                registered_multiply(
                    m, x, y, a_enable=advance, b_enable=advance, p_enable=advance, name=f"prod{k}",
                    cell=cfg.dsp_cells, platform=platform, registers=regs,
                )
                for k, (x, y) in enumerate(zip(a, w))
            ]  # fmt: skip
            for name in (["opnd"] if cfg.pipeline >= 2 else []) + (["prod"] if cfg.pipeline >= 1 else []):
                valid, last, _ = stage(name, valid, last, [])
        else:
            if cfg.pipeline >= 2:
                valid, last, regs = stage("opnd", valid, last, a + w)
                a, w = regs[: cfg.lanes], regs[cfg.lanes :]
            prods = [x * y for x, y in zip(a, w)]
            if cfg.pipeline >= 1:
                valid, last, prods = stage("prod", valid, last, prods)
        if cfg.pipeline >= 4:
            valid, last, prods = stage("prod2", valid, last, prods)
        if cfg.pipeline >= 5:  # the first half of the tree's levels, registered
            valid, last, prods = stage("tree_mid", valid, last, tree_levels(prods, tree_split(cfg.lanes)))
        total = adder_tree(prods)
        if cfg.pipeline >= 3:
            valid, last, (total,) = stage("tree", valid, last, [total])

        first = Signal(init=1)  # next beat starts a new accumulation
        acc = Signal(cfg.acc.shape, reset_less=True)
        result = Signal(cfg.acc.shape, reset_less=True)
        # exact sum of the (cleared) accumulator and this beat's tree sum, brought into acc by the rule
        nxt = to_accumulator(
            m,
            cfg.acc,
            cfg.overflow,
            Mux(first, 0, acc) + total,
            sum_type(cfg.acc, cfg.tree_type),
            "nxt",
            full_name="full",
        )

        stall = valid & last & self.o.valid & ~self.o.ready
        m.d.comb += [advance.eq(~stall), self.i.ready.eq(advance), self.o.payload.eq(result)]
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(advance & valid):
            m.d.sync += [acc.eq(nxt), first.eq(last)]
            with m.If(last):
                m.d.sync += [result.eq(nxt), self.o.valid.eq(1)]
        return m


def tree_levels(values: list[Value], levels: int) -> list[Value]:
    """``levels`` levels of a balanced pairwise sum: each level adds neighbours (an odd one out passes);
    every addition is exact (Amaranth widens by one bit)."""
    level = list(values)
    for _ in range(levels):
        if len(level) == 1:
            break
        nxt = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level


def tree_split(lanes: int) -> int:
    """Levels of the adder tree before its middle register (``pipeline = 5``): half of them, rounded up."""
    return (math.ceil(math.log2(lanes)) + 1) // 2 if lanes > 1 else 0


def adder_tree(values: list[Value]) -> Value:
    """Balanced pairwise sum (:func:`tree_levels` down to one value)."""
    return tree_levels(values, len(values))[0]
