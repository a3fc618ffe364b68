"""Hardware arithmetic helpers shared by the blocks."""

from __future__ import annotations

from amaranth.hdl import C, Module, Mux, Signal, Value

from .numtype import NumType


def to_accumulator(
    m: Module, acc: NumType, rule: str, value: Value, value_type: NumType, name: str, full_name: str | None = None
) -> Signal:
    """``value`` (an exact sum whose range is ``value_type``) brought into ``acc`` by the overflow rule.

    ``saturate`` clamps to ``[acc.min, acc.max]``, emitting only the comparisons the value's range can
    trip; ``wrap`` (and ``error``, where the config proved no overflow) keeps the low ``acc.width`` bits.
    """
    full = Signal(value_type.shape, name=full_name or f"{name}_full")
    m.d.comb += full.eq(value)
    new: Value = full
    if rule == "saturate":
        if value_type.min < acc.min:
            new = Mux(full < acc.min, acc.min, new)
        if value_type.max > acc.max:
            new = Mux(full > acc.max, acc.max, new)
    out = Signal(acc.shape, name=name)
    m.d.comb += out.eq(new)
    return out


def sum_type(acc: NumType, addend: NumType) -> NumType:
    """Exact type of ``(0 or an accumulator value) + addend``."""
    return NumType.fitting(min(acc.min, 0) + addend.min, max(acc.max, 0) + addend.max)


def kept_adder_tree(
    m: Module, name: str, values: list[Value], carries: list[Value] | None = None
) -> tuple[Value, Value]:
    """Balanced pairwise sum of ``values`` plus the 1-bit ``carries``, each carry folded into one
    addition as its carry-in (``x + y + c``); returns the tree and the one carry left over (add it
    where the tree is consumed). Without ``carries`` the leftover is a constant 0.

    Every partial sum is a kept wire: otherwise Yosys merges the whole tree into one multi-operand
    ``$macc`` and maps it to carry-save full adders in LUTs, which on xc7 costs ~1.6× the LUTs of
    one carry-chain adder per node (measured: 8 lanes of 11 bits, 168 vs 101 LUT)."""
    level, spare = list(values), list(carries) if carries else []
    spare = [None] * (len(level) - len(spare)) + spare  # None: no carry-in at that node
    n = 0
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            carry = spare.pop()
            total = level[i] + level[i + 1] if carry is None else level[i] + level[i + 1] + carry
            node = Signal(total.shape(), name=f"{name}_sum{n}", attrs={"keep": 1})
            m.d.comb += node.eq(total)
            nxt.append(node)
            n += 1
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    rest = [c for c in spare if c is not None]  # one left over (more only with a single value)
    extra: Value = C(0, 1)
    if rest:
        extra = rest[0]
        for c in rest[1:]:
            extra = extra + c
    return level[0], extra
