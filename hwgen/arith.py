"""Hardware arithmetic helpers shared by the blocks."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value

from .numtype import NumType


def to_accumulator(m: Module, acc: NumType, rule: str, value: Value, value_type: NumType, name: str,
                   full_name: str | None = None) -> Signal:
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
