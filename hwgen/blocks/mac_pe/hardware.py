"""MAC PE hardware: operand and product registers, an exact adder tree, the accumulator (see the package doc)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...arith import pack_negated_pair, sum_type, to_accumulator, unpack_negated_pair
from ...primitives import registered_multiply

if TYPE_CHECKING:
    from .config import MacPEConfig


class MacPE(wiring.Component):
    """The MAC PE hardware; see the module docstring for interface and timing.

    Ports: ``i`` (``{a: act[lanes], w: weight[outputs · lanes], last}``), ``o``
    (``acc``, or ``acc[outputs]`` when ``outputs`` > 1), plus the implicit ``clk``/``rst`` of the ``sync``
    domain.
    """

    def __init__(self, config: MacPEConfig):
        self.config = config
        in_layout = data.StructLayout(
            {
                "a": data.ArrayLayout(config.act.shape, config.lanes),
                "w": data.ArrayLayout(config.weight.shape, config.outputs * config.lanes),
                "last": 1,
            }
        )
        out = config.acc.shape if config.outputs == 1 else data.ArrayLayout(config.acc.shape, config.outputs)
        super().__init__({"i": In(stream.Signature(in_layout)), "o": Out(stream.Signature(out))})

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

        L, O = cfg.lanes, cfg.outputs
        valid, last = self.i.valid, self.i.p.last
        a = [self.i.p.a[k] for k in range(L)]
        w = [self.i.p.w[k] for k in range(O * L)]  # output-major
        if cfg.dsp_cells != "inferred":  # the operand (pipeline >= 2) and product (>= 1) registers in the cell
            regs = "abp" if cfg.pipeline >= 2 else "p" if cfg.pipeline == 1 else ""
            prods = [
                registered_multiply(
                    m, a[n % L], w[n], a_enable=advance, b_enable=advance, p_enable=advance, name=f"prod{n}",
                    cell=cfg.dsp_cells, platform=platform, registers=regs,
                )
                for n in range(O * L)
            ]  # fmt: skip
            for name in (["opnd"] if cfg.pipeline >= 2 else []) + (["prod"] if cfg.pipeline >= 1 else []):
                valid, last, _ = stage(name, valid, last, [])
        else:
            if cfg.pipeline >= 2:
                valid, last, regs = stage("opnd", valid, last, a + w)
                a, w = regs[:L], regs[L:]
            if cfg.pack_int8:  # pair j: w[2j+1]·2^18 − w[2j], one multiplier per lane
                w = [
                    pack_negated_pair(w[(2 * j + 1) * L + k], w[2 * j * L + k]) for j in range(O // 2) for k in range(L)
                ]
            prods = [a[n % L] * wn for n, wn in enumerate(w)]
            if cfg.pipeline >= 1:
                valid, last, prods = stage("prod", valid, last, prods)
        if cfg.pipeline >= 4:
            valid, last, prods = stage("prod2", valid, last, prods)
        rows = [prods[r * L : (r + 1) * L] for r in range(len(prods) // L)]
        if cfg.pack_int8:
            totals, negated = _packed_totals(m, rows, cfg.pack_groups), set(range(0, O, 2))
        else:
            if cfg.pipeline >= 5:  # the first half of the tree's levels, registered
                split = [tree_levels(row, tree_split(L)) for row in rows]
                valid, last, flat = stage("tree_mid", valid, last, [v for part in split for v in part])
                n = len(split[0])
                rows = [flat[r * n : (r + 1) * n] for r in range(O)]
            totals, negated = [adder_tree(row) for row in rows], set()
        if cfg.pipeline >= 3:
            valid, last, totals = stage("tree", valid, last, totals)

        first = Signal(init=1)  # next beat starts a new accumulation
        exact = sum_type(cfg.acc, cfg.tree_type)
        accs, nxts, results = [], [], []
        for j, total in enumerate(totals):
            nm = f"{j}" if O > 1 else ""
            acc = Signal(cfg.acc.shape, reset_less=True, name=f"acc{nm}")
            # exact sum of the (cleared) accumulator and this beat's tree sum, brought into acc by the rule
            # (a packed pair's even output arrives negated: subtracted)
            start = Mux(first, 0, acc)
            nxt = to_accumulator(
                m, cfg.acc, cfg.overflow, start - total if j in negated else start + total, exact,
                f"nxt{nm}", full_name=f"full{nm}",
            )  # fmt: skip
            accs.append(acc)
            nxts.append(nxt)
            results.append(Signal(cfg.acc.shape, reset_less=True, name=f"result{nm}"))

        stall = valid & last & self.o.valid & ~self.o.ready
        m.d.comb += [advance.eq(~stall), self.i.ready.eq(advance), self.o.payload.eq(Cat(*results))]
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(advance & valid):
            m.d.sync += [acc.eq(nxt) for acc, nxt in zip(accs, nxts)] + [first.eq(last)]
            with m.If(last):
                m.d.sync += [r.eq(nxt) for r, nxt in zip(results, nxts)] + [self.o.valid.eq(1)]
        return m


def _packed_totals(m: Module, rows: list[list[Value]], groups: list[tuple[int, int]]) -> list[Value]:
    """Per output, the beat's dot product from packed pair rows (row ``j``: lane products with
    ``w[2j+1]·2^18 − w[2j]``): each group's packed sum is unpacked
    (:func:`hwgen.int8pack.unpack_negated`) into ``−Σ a·w[2j]`` (the signed low 18 bits, so output ``2j``
    comes out negated) and ``Σ a·w[2j+1]`` (the high bits plus the low field's borrow); the groups' fields
    are then summed per output."""
    totals: list[Value] = []
    for j, row in enumerate(rows):
        lows, highs = [], []
        for g0, g1 in groups:
            low, high = unpack_negated_pair(m, adder_tree(row[g0:g1]), f"pair{j}_g{g0}")
            lows.append(low)
            highs.append(high)
        totals += [adder_tree(lows), adder_tree(highs)]
    return totals


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
