"""The datapath the single-cycle low-bit PEs share, and their golden accumulation.

Input register -> lane values -> exact adder tree -> accumulate until ``last``
-> output register: one beat per cycle (II = 1), the result valid
:data:`LATENCY` cycles after the ``last`` beat is taken (input register,
accumulator, output register). A full output register nobody takes stalls
the PE. Subclasses give the beat layout and :meth:`SumPE.lane_values`;
group-level work (MixPE) overrides :meth:`SumPE.accumulate`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...arith import kept_adder_tree
from ...numtype import NumType

LATENCY = 2


class SumPE(wiring.Component):
    """Shared datapath: input register -> lane values -> adder tree -> accumulate until ``last``.

    Subclasses give the beat layout and :meth:`lane_values` (exact lane products
    from the registered beat). Group-level work (MixPE) hooks :meth:`accumulate`.
    """

    def __init__(self, config: Any, beat: data.StructLayout, out_shape: Any):
        self.config = config
        super().__init__({"i": In(stream.Signature(beat)), "o": Out(stream.Signature(out_shape))})

    def lane_values(self, m: Module, beat: Value) -> list[Value]:
        raise NotImplementedError

    def accumulate(self, m: Module, beat: Value, valid: Value, advance: Value) -> tuple[Value, Value]:
        """Default: ``acc = (first ? 0 : acc) + Σ lanes``; returns ``(result value, result valid)``."""
        total, _ = kept_adder_tree(m, "lanes", self.lane_values(m, beat))
        acc_t = self.config.acc
        acc = Signal(acc_t.shape, reset_less=True)
        first = Signal(init=1)
        new = Signal(acc_t.shape)
        m.d.comb += new.eq(Mux(first, 0, acc) + total)
        with m.If(advance & valid):
            m.d.sync += [acc.eq(new), first.eq(beat.last)]
        return new, valid & beat.last

    def elaborate(self, platform: object) -> Module:
        m = Module()
        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance)]
        beat = Signal(self.i.p.shape(), reset_less=True)
        valid = Signal()
        with m.If(advance):
            m.d.sync += [beat.eq(self.i.p), valid.eq(self.i.valid)]
        value, done = self.accumulate(m, beat, valid, advance)
        out = Signal(self.o.p.shape(), reset_less=True)
        with m.If(advance):
            m.d.sync += [self.o.valid.eq(done), out.eq(value)]
        m.d.comb += self.o.payload.eq(out)
        return m


def accumulate(sums: np.ndarray, last: np.ndarray, acc: NumType) -> np.ndarray:
    """Golden: the running sum of ``sums`` (exact), one result per ``last`` flag, then cleared."""
    out, s = [], 0
    for v, end in zip(sums, np.asarray(last).astype(bool)):
        s += int(v)
        if end:
            out.append(s)
            s = 0
    return np.array(out, dtype=acc.dtype())
