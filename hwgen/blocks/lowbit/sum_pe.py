"""The datapath the single-cycle low-bit PEs share, and their golden accumulation.

Input register -> lane values -> exact adder trees -> accumulate until
``last`` -> output register: one beat per cycle (II = 1), the result valid
``latency + pipeline`` cycles after the ``last`` beat is taken (input
register, accumulator, output register, plus a PE's own back-end stages).

``pipeline`` adds registers at the PE's cut points (:attr:`SumPE.stages`, in
that order): every PE has ``lanes`` (after the lane values) and ``sums``
(after the adder trees); a PE may add its own inside its lanes or its back
end. A cut registers the values crossing it, the beat fields the back end
still reads and the valid bit; every register holds with the PE's stall. A
full output register nobody takes stalls the PE. Subclasses give the beat
layout, :meth:`SumPE.terms` and, for group-level work, :meth:`SumPE.accumulate`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...arith import kept_adder_tree
from ...config import param
from ...numtype import NumType
from ...pipeline import register
from ...structure import TimingPath

LATENCY = 2
#: Values: a single value or a list of them (one adder tree's inputs), by name.
Values = dict[str, Value | list[Value]]


def pipeline_param(stages: int = 2) -> Any:
    """The ``pipeline`` parameter of a low-bit PE with ``stages`` cut points (an auto timing parameter)."""
    return param(
        None,
        f"register stages (0..{stages}) at the PE's cut points, in the order its docs give; each adds a cycle of "
        "latency, none of throughput; left out, hwgen picks the fewest that meet the design's clock (0 outside "
        "a design)",
        f"0..{stages}",
    )


class Cuts:
    """The cut points of one PE instance: ``cuts(point, values)`` returns ``values`` registered when ``point``
    is ``active`` (the carried beat fields :attr:`side` and the :attr:`valid` bit too), else as they are."""

    def __init__(self, m: Module, advance: Value, active: Collection[str], valid: Value, side: dict[str, Value]):
        self.m, self.advance, self.active = m, advance, active
        self.valid, self.side = valid, side

    def __call__(self, point: str, values: Values) -> Values:
        if point not in self.active:
            return values

        def reg(v: Value, name: str) -> Signal:
            return register(self.m, v, self.advance, f"{name}_{point}")

        out: Values = {
            k: [reg(x, f"{k}{i}") for i, x in enumerate(v)] if isinstance(v, list) else reg(v, k)
            for k, v in values.items()
        }
        self.side = {k: reg(v, k) for k, v in self.side.items()}
        self.valid = register(self.m, self.valid, self.advance, f"valid_{point}", reset=True)
        return out


class SumPE(wiring.Component):
    """Shared datapath: input register -> terms -> (cut) -> adder trees -> (cut) -> accumulate.

    ``side`` names the beat fields the back end reads; ``stages`` the cut points ``pipeline`` activates, in order.
    """

    side: tuple[str, ...] = ("last",)
    stages: tuple[str, ...] = ("lanes", "sums")

    def __init__(self, config: Any, beat: data.StructLayout, out_shape: Any):
        self.config = config
        super().__init__({"i": In(stream.Signature(beat)), "o": Out(stream.Signature(out_shape))})

    def lane_values(self, m: Module, beat: Value, cuts: Cuts) -> list[Value]:
        raise NotImplementedError

    def terms(self, m: Module, beat: Value, cuts: Cuts) -> dict[str, list[Value]]:
        """Named lists of values, each summed by one adder tree; default: the lane values."""
        return {"lanes": self.lane_values(m, beat, cuts)}

    def accumulate(self, m: Module, sums: Values, cuts: Cuts, advance: Value) -> tuple[Value, Value]:
        """Default: ``acc = (first ? 0 : acc) + Σ lanes``; returns ``(result value, result valid)``."""
        acc_t = self.config.acc
        acc = Signal(acc_t.shape, reset_less=True)
        first = Signal(init=1)
        new = Signal(acc_t.shape)
        last, valid = cuts.side["last"], cuts.valid
        m.d.comb += new.eq(Mux(first, 0, acc) + sums["lanes"])
        with m.If(advance & valid):
            m.d.sync += [acc.eq(new), first.eq(last)]
        return new, valid & last

    def elaborate(self, platform: object) -> Module:
        m = Module()
        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance)]
        beat = Signal(self.i.p.shape(), reset_less=True)
        valid = Signal()
        with m.If(advance):
            m.d.sync += [beat.eq(self.i.p), valid.eq(self.i.valid)]
        side = {f: Value.cast(beat[f]) for f in self.side}
        cuts = Cuts(m, advance, self.stages[: self.config.pipeline], valid, side)
        terms = cuts("lanes", self.terms(m, beat, cuts))
        sums = cuts("sums", {k: kept_adder_tree(m, k, vs)[0] for k, vs in terms.items()})
        value, done = self.accumulate(m, sums, cuts, advance)
        out = Signal(self.o.p.shape(), reset_less=True)
        with m.If(advance):
            m.d.sync += [self.o.valid.eq(done), out.eq(value)]
        m.d.comb += self.o.payload.eq(out)
        return m


def accumulate_path(acc_bits: int) -> dict[str, int]:
    """A plain accumulate: the first-beat mux and one adder into the accumulator."""
    return {"adders": 1, "carry_bits": acc_bits, "luts": 1}


def stall_path(size: int) -> TimingPath:
    """The stall enable: one LUT from the output's ready to every register (``size`` bits)."""
    return TimingPath("stall enable", luts=1, fanout=size, size=size)


def accumulate(sums: np.ndarray, last: np.ndarray, acc: NumType) -> np.ndarray:
    """Golden: the running sum of ``sums`` (exact), one result per ``last`` flag, then cleared."""
    out, s = [], 0
    for v, end in zip(sums, np.asarray(last).astype(bool)):
        s += int(v)
        if end:
            out.append(s)
            s = 0
    return np.array(out, dtype=acc.dtype())
