"""Plain behavioural references of blocks, for the formal proofs of :mod:`hwgen.sim.formal`.

A reference is the obvious description of what a block computes — sums of
products written out, no pipelining, no sharing, no tricks — stepped once
per input transfer. The proof harness connects it beside the generated
design: every beat the design takes is also given to the reference, every
result the reference produces is queued, and every beat the design emits
must equal the head of that queue.

Interface (all combinational except the reference's own state):

* ``take[port]`` (in, 1 bit): the design takes a beat on ``port`` this cycle;
* ``beat[port]`` (in, the port's payload shape): that beat's payload;
* ``emit`` (out): how many results the steps of this cycle complete (0 or 1,
  up to ``emits`` for blocks that produce several beats at once);
* ``results`` (out, the output payload shape each; ``result`` is the first):
  those results, in output order;
* ``bounded`` (out, 1 bit): the beats on offer keep within the block's
  stated bounds (``max_len``, group sizes); the proof assumes it when a beat
  is taken, because outside them the block promises nothing;
* ``legal`` (out, 1 bit): taking the beats of this cycle is allowed in the
  reference's state (e.g. no activation before a weight tile is loaded);
  the proof asserts it.

Blocks subclass :class:`Reference` and write :meth:`Reference.logic`.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Const, Elaboratable, Module, Mux, Signal, Value, signed

from .numtype import NumType


class Reference(Elaboratable):
    """Base of a block's behavioural reference (see the module docstring)."""

    _MustUse__silence = True  # built also to count its results (hwgen.sim.formal.proof_bounds)

    def __init__(self, component: Any, emits: int = 1):
        component._MustUse__used = True  # built to read the port shapes only
        members = component.signature.members
        inputs = {p: m.signature.members["payload"].shape for p, m in members.items() if m.flow.name == "In"}
        (output,) = [m.signature.members["payload"].shape for m in members.values() if m.flow.name == "Out"]
        self.take = {p: Signal(name=f"take_{p}") for p in inputs}
        self.beat = {p: Signal(shape, name=f"beat_{p}") for p, shape in inputs.items()}
        self.emit = Signal(range(emits + 1))
        self.results = [Signal(output, name=f"result{j}") for j in range(emits)]
        self.result = self.results[0]
        self.bounded = Signal(init=1)
        self.legal = Signal(init=1)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        self.logic(m)
        return m

    def logic(self, m: Module) -> None:
        """Describe the block: drive ``emit``, ``result`` and, where needed, ``bounded`` and ``legal``."""
        raise NotImplementedError(type(self).__name__)


def dot(xs: list[Value], ys: list[Value]) -> Value:
    """``Σ x·y``, exact (Amaranth widens every product and sum)."""
    total: Value = Const(0, signed(2))
    for x, y in zip(xs, ys):
        total = total + x * y
    return total


def fold(value: Value, acc: NumType, rule: str) -> Value:
    """An exact integer brought into ``acc`` by an overflow rule: ``saturate`` clamps, otherwise the low bits."""
    if rule == "saturate":
        value = Mux(value < acc.min, acc.min, Mux(value > acc.max, acc.max, value))
    return value.as_signed()[: acc.width] if acc.signed else value[: acc.width]


class Accumulation:
    """``acc = fold(acc + x)`` per taken beat, the result emitted and ``acc`` cleared on ``last``; counts the
    beats so that the reference can bound accumulations to ``max_len``. With ``count`` > 1, that many
    accumulators side by side, whose values fill the elements of an array-shaped result."""

    def __init__(
        self, m: Module, ref: Reference, port: str, acc: NumType, max_len: int, rule: str = "wrap", count: int = 1
    ):
        self.m, self.ref, self.port, self.acc_type, self.rule = m, ref, port, acc, rule
        self.accs = [Signal(acc.shape, name="ref_acc" if count == 1 else f"ref_acc{j}") for j in range(count)]
        self.acc = self.accs[0]
        self.beats = Signal(range(max_len + 1), name="ref_beats")
        m.d.comb += ref.bounded.eq(self.beats < max_len)

    def step(self, x: Value | list[Value], last: Value) -> None:
        """Add ``x`` (one value per accumulator: a list when ``count`` > 1)."""
        m, ref, take = self.m, self.ref, self.ref.take[self.port]
        xs = x if isinstance(x, list) else [x]
        totals = [fold(acc + v, self.acc_type, self.rule) for acc, v in zip(self.accs, xs, strict=True)]
        m.d.comb += ref.emit.eq(take & last)
        if len(totals) == 1:
            m.d.comb += ref.result.eq(totals[0])
        else:
            m.d.comb += [ref.result[j].eq(t) for j, t in enumerate(totals)]
        with m.If(take):
            m.d.sync += [acc.eq(Mux(last, 0, t)) for acc, t in zip(self.accs, totals)]
            m.d.sync += self.beats.eq(Mux(last, 0, self.beats + 1))


def kept_row(m: Module, ref: Reference, port: str, field: str, shape: Any, max_len: int) -> tuple[list[Value], Value]:
    """The row a reference keeps until the ``last`` beat of ``port`` (field ``field`` of each beat): its values
    with this cycle's beat in place (unused ones past the row's end) and its size counting this beat. Drives
    ``bounded`` (rows of at most ``max_len``); the caller drives ``emit`` and the results."""
    take, b = ref.take[port], ref.beat[port]
    kept = [Signal(shape, name=f"kept{i}") for i in range(max_len)]
    n = Signal(range(max_len + 1), name="kept_n")  # beats kept before this one
    m.d.comb += ref.bounded.eq((n < max_len - 1) | ((n == max_len - 1) & b.last))
    with m.If(take):
        m.d.sync += n.eq(Mux(b.last, 0, n + 1))
        for i in range(max_len):
            with m.If(n == i):
                m.d.sync += kept[i].eq(b[field])
    return [Mux(n == i, b[field], kept[i]) for i in range(max_len)], n + 1
