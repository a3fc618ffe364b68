"""The phases the row units share (softmax, layer norm): take a row, read it back, divide, root, emit.

A row unit works on one row at a time in phases named by a ``state``
register: it takes the row's elements one per cycle into a buffer
(:func:`take_row`), reads the buffer back one element per cycle
(:func:`read_pass`), computes its per-row scalars with multi-cycle
arithmetic (:func:`restoring_divide`, :func:`integer_sqrt`, one result bit
per cycle) and emits one result per element through an output register that
holds while the consumer is not ready (:func:`emit_row`). Each helper adds
its registers to the unit's module and moves ``state`` on when its phase is
done; the cycle counts are in their docstrings (the units' cycle models sum
them).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import memory

from ..config import CycleModel


def take_row(
    m: Module, i: object, state: Signal, phase: int, after: int, count: Signal, write: memory.WritePort, value: Value
) -> Value:
    """Phase ``phase``: each element offered on stream ``i`` is taken in its cycle and written to
    ``write`` at ``count`` (which counts the row); the ``last`` one moves ``state`` to ``after``. Returns the
    take (``fire``) for the unit's own per-element sums."""
    fire = i.valid & i.ready
    m.d.comb += [i.ready.eq(state == phase), write.addr.eq(count), write.data.eq(value), write.en.eq(fire)]
    with m.If(fire):
        m.d.sync += count.eq(count + 1)
        with m.If(i.payload.last):
            m.d.sync += state.eq(after)
    return fire


def read_pass(m: Module, state: Signal, phase: int, count: Signal, read: memory.ReadPort, name: str) -> tuple:
    """Phase ``phase``: read the ``count`` buffered elements, one per cycle from the phase's first cycle.
    Returns ``(valid, index)``, registered to line up with ``read.data`` (a cycle after each read)."""
    k = Signal.like(count, name=f"{name}_k")
    issue = (state == phase) & (k < count)
    valid, index = Signal(name=f"{name}_valid"), Signal.like(k, name=f"{name}_index")
    m.d.comb += read.addr.eq(k)
    m.d.sync += [valid.eq(issue), index.eq(k)]
    with m.If(issue):
        m.d.sync += k.eq(k + 1)
    with m.If(state != phase):
        m.d.sync += k.eq(0)
    return valid, index


def restoring_divide(
    m: Module, state: Signal, phase: int, after: int, dividend: Value, divisor: Value, quotient: Signal, name: str
) -> int:
    """Phase ``phase``: ``quotient = floor(dividend / divisor)`` by restoring division, one quotient bit per
    cycle, MSB first over the dividend's ``len(dividend)`` bits, then ``state`` moves to ``after``. The
    quotient keeps its low ``len(quotient)`` bits (enough when the caller knows the bound; every one is
    shifted in). ``dividend`` and ``divisor`` must hold during the phase. Returns the phase's cycles."""
    bits = len(dividend)
    assert len(quotient) <= bits, "every quotient bit is shifted in"
    rem = Signal(len(divisor), name=f"{name}_rem")
    bit = Signal(range(bits), name=f"{name}_bit", init=bits - 1)
    trial = Signal(len(divisor) + 1, name=f"{name}_trial")
    m.d.comb += trial.eq(Cat(dividend.bit_select(bit, 1), rem))  # 2·rem + the dividend's next bit
    fits = trial >= divisor
    with m.If(state == phase):
        m.d.sync += [
            rem.eq(Mux(fits, trial - divisor, trial)),
            quotient.eq(Cat(fits, quotient)[: len(quotient)]),
            bit.eq(bit - 1),
        ]
        with m.If(bit == 0):
            m.d.sync += [state.eq(after), bit.eq(bits - 1)]
    with m.Else():
        m.d.sync += rem.eq(0)
    return bits


def integer_sqrt(m: Module, state: Signal, phase: int, after: int, value: Value, root: Signal, name: str) -> int:
    """Phase ``phase``: ``root = floor(sqrt(value))`` digit by digit, one root bit per cycle over ``value``'s
    bit pairs, MSB first, then ``state`` moves to ``after`` (``root`` of at most that many bits, every one
    shifted in). ``value`` must hold during the phase. Returns the phase's cycles."""
    assert len(root) <= (len(value) + 1) // 2, "the root has one bit per pair of the value's bits"
    pairs = (len(value) + 1) // 2
    padded = Cat(value, 0) if len(value) % 2 else value
    rem = Signal(pairs + 2, name=f"{name}_rem")  # ≤ 2·root < 2^(pairs + 1)
    step = Signal(range(pairs), name=f"{name}_step", init=pairs - 1)
    trial_rem = Signal(pairs + 4, name=f"{name}_trial_rem")
    trial_sub = Signal(pairs + 4, name=f"{name}_trial_sub")
    so_far = Mux(step == pairs - 1, 0, root)  # the root's bits found so far (none at the first step)
    m.d.comb += [
        trial_rem.eq(Cat(padded.word_select(step, 2), rem)),  # 4·rem + the next bit pair
        trial_sub.eq(Cat(1, 0, so_far)),  # 4·root + 1
    ]
    fits = trial_rem >= trial_sub
    with m.If(state == phase):
        m.d.sync += [
            rem.eq(Mux(fits, trial_rem - trial_sub, trial_rem)),
            root.eq(Cat(fits, so_far)[: len(root)]),
            step.eq(step - 1),
        ]
        with m.If(step == 0):
            m.d.sync += [state.eq(after), step.eq(pairs - 1)]
    with m.Else():
        m.d.sync += rem.eq(0)
    return pairs


#: Cycles from the emit phase's first cycle to its first result (the read, the output register).
EMIT_STAGES = 2


def emit_row(
    m: Module,
    o: object,
    state: Signal,
    phase: int,
    after: int,
    count: Signal,
    read: memory.ReadPort,
    result: Callable[[Value], dict[str, Value]],
    out: Signal,
) -> None:
    """Phase ``phase``: read the ``count`` buffered elements again and emit ``result(read data)`` (the output
    payload's fields but ``last``) for each, ``last`` on the final one, through the output register ``out``
    (the payload of stream ``o``); the first is valid ``EMIT_STAGES`` cycles into the phase, the rest one per
    cycle while ``o`` is ready. ``state`` moves to ``after`` (and ``count`` to 0) once the last is taken."""
    advance = ~o.valid | o.ready
    j = Signal.like(count, name="emit_j")
    issue = (state == phase) & (j < count)
    valid, index = Signal(name="emit_valid"), Signal.like(j, name="emit_index")
    m.d.comb += [read.addr.eq(j), read.en.eq(advance), o.payload.eq(out)]
    with m.If(advance):
        m.d.sync += [valid.eq(issue), index.eq(j), o.valid.eq(valid), out.last.eq(index == count - 1)]
        m.d.sync += [getattr(out, k).eq(v) for k, v in result(read.data).items()]
        with m.If(issue):
            m.d.sync += j.eq(j + 1)
    with m.If(o.valid & o.ready & o.payload.last):
        m.d.sync += [state.eq(after), count.eq(0), j.eq(0)]


def row_cycle_model(last: np.ndarray, offered: list[int] | None, row_latency: Callable[[int], int]) -> CycleModel:
    """A row unit's exact cycles: elements are taken one per cycle once offered (``offered[b]``, else at
    once); a row of ``n`` whose last element is taken at ``t`` gives its ``n`` results at
    ``t + row_latency(n) + j``, and the next row's first element is taken from the cycle after the last."""
    accepts, outs = [], []
    free, start = 0, 0
    for b, end in enumerate(np.asarray(last).astype(bool)):
        t = max(free, offered[b]) if offered is not None else free
        accepts.append(t)
        free = t + 1
        if end:
            n = b - start + 1
            first = t + row_latency(n)
            outs += [first + j for j in range(n)]
            free, start = first + n, b + 1
    return {"i": accepts, "o": outs}
