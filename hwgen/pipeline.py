"""Pipeline registers, delay lines and valid pipes shared by the blocks.

Every helper adds registers to ``m`` enabled by ``advance`` (a block's global
stall: the register holds while ``advance`` is low). Data registers have no
reset, so synthesis can absorb them into DSP blocks and shift-register LUTs;
valid bits (``reset=True``) clear on reset.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, Value


def register(m: Module, value: Value, advance: Value, name: str, *, reset: bool = False) -> Signal:
    """One register of ``value``'s shape, loaded when ``advance`` is high (reset-less unless ``reset``)."""
    reg = Signal(value.shape(), name=name, reset_less=not reset)
    with m.If(advance):
        m.d.sync += reg.eq(value)
    return reg


def delay(m: Module, value: Value, cycles: int, advance: Value, name: str) -> Value:
    """``value`` delayed by ``cycles`` advancing cycles: a reset-less shift register ``name_d0 ...``."""
    for k in range(cycles):
        value = register(m, value, advance, f"{name}_d{k}")
    return value


def valid_delay(m: Module, valid: Value, cycles: int, advance: Value, name: str) -> Value:
    """A valid bit delayed by ``cycles`` advancing cycles; every stage clears on reset."""
    for k in range(cycles):
        valid = register(m, valid, advance, f"{name}_d{k}", reset=True)
    return valid
