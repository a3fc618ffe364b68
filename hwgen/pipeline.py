"""Pipeline registers, delay lines and valid pipes shared by the blocks.

Every helper adds registers to ``m`` enabled by ``advance`` (a block's global
stall: the register holds while ``advance`` is low). Data registers have no
reset, so synthesis can absorb them into DSP blocks and shift-register LUTs;
valid bits (``reset=True``) clear on reset.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Cat, Module, Mux, Signal, Value, unsigned
from amaranth.lib.memory import Memory

#: Delay lines of at least this many cycles are a memory (:func:`ram_delay`) in :func:`long_delay`.
RAM_DELAY_MIN = 4


def register(m: Module, value: Value, advance: Value, name: str, *, reset: bool = False) -> Signal:
    """One register of ``value``'s shape, loaded when ``advance`` is high (reset-less unless ``reset``)."""
    reg = Signal(value.shape(), name=name, reset_less=not reset)
    with m.If(advance):
        m.d.sync += reg.eq(value)
    return reg


def delay(m: Module, value: Value, cycles: int, advance: Value, name: str) -> Value:
    """``value`` delayed by ``cycles`` advancing cycles: a reset-less shift register.

    A delay of two or more cycles is one signal ``name_sr`` of ``cycles × width`` bits shifting by ``width``
    each advancing cycle (newest at the low end): the same registers as a chain of ``cycles`` signals, but
    one assignment, so large arrays of delay lines elaborate and convert several times faster."""
    if cycles <= 1:
        return register(m, value, advance, f"{name}_d0") if cycles == 1 else value
    shape = value.shape()
    w = shape.width
    sr = Signal(w * cycles, name=f"{name}_sr", reset_less=True)
    with m.If(advance):
        m.d.sync += sr.eq(Cat(value.as_unsigned(), sr[: w * (cycles - 1)]))
    out = sr[w * (cycles - 1) :]
    return out.as_signed() if shape.signed else out


def ram_delay(m: Module, value: Value, cycles: int, advance: Value, name: str, *, read: str = "comb") -> Value:
    """``value`` delayed by ``cycles`` (≥ 2) advancing cycles through a memory, a circular buffer written
    every advancing cycle at a wrapping pointer and read at the same address before it is overwritten.
    Same timing as :func:`delay`, but synthesis maps the words to RAM instead of ``cycles`` flip-flops
    per bit. ``read="comb"``: ``cycles`` words read asynchronously (distributed RAM: LUTRAM on xc7/ECP5,
    no flip-flop); ``read="sync"``: ``cycles - 1`` words and the read port's output register (what block
    RAM needs: EBR on iCE40, which has no distributed RAM)."""
    assert cycles >= 2, "a delay of 0 or 1 cycles is a wire or a register"
    assert read in ("comb", "sync"), read
    shape = value.shape()
    depth = cycles if read == "comb" else cycles - 1
    mem = Memory(shape=unsigned(shape.width), depth=depth, init=[])
    m.submodules[f"{name}_ram"] = mem
    write = mem.write_port()
    read_port = mem.read_port(domain="comb") if read == "comb" else mem.read_port(transparent_for=())
    ptr = Signal(range(depth), name=f"{name}_ptr")
    with m.If(advance):
        m.d.sync += ptr.eq(Mux(ptr == depth - 1, 0, ptr + 1))
    m.d.comb += [
        write.addr.eq(ptr),
        write.data.eq(value.as_unsigned()),
        write.en.eq(advance),
        read_port.addr.eq(ptr),
    ]
    if read == "sync":
        m.d.comb += read_port.en.eq(advance)
    return read_port.data.as_signed() if shape.signed else read_port.data


def long_delay(m: Module, value: Value, cycles: int, advance: Value, name: str, *, read: str = "comb") -> Value:
    """:func:`delay`, through a memory (:func:`ram_delay` with ``read``) from :data:`RAM_DELAY_MIN` cycles on."""
    if cycles >= RAM_DELAY_MIN:
        return ram_delay(m, value, cycles, advance, name, read=read)
    return delay(m, value, cycles, advance, name)


def valid_delay(m: Module, valid: Value, cycles: int, advance: Value, name: str) -> Value:
    """A valid bit delayed by ``cycles`` advancing cycles; every stage clears on reset (one ``cycles``-bit
    shift register ``name_sr`` for two or more cycles)."""
    if cycles <= 1:
        return register(m, valid, advance, f"{name}_d0", reset=True) if cycles == 1 else valid
    sr = Signal(cycles, name=f"{name}_sr")
    with m.If(advance):
        m.d.sync += sr.eq(Cat(valid, sr[: cycles - 1]))
    return sr[cycles - 1]


def output_stage(m: Module, o: Any, *, registered: bool) -> tuple[Value, Value, Any]:
    """The global stall of a pipeline that ends in output stream ``o``: ``(advance, valid, payload)``.

    The caller registers its output valid bit into ``valid`` when ``advance`` and drives ``payload``
    (combinationally, from registers that also hold unless ``advance``). Unregistered:
    ``advance = ~o.valid | o.ready``, one LUT from the consumer's ready to every clock enable.
    ``registered``: ``advance`` is a register and a one-beat skid buffer catches the beat that leaves
    the pipeline in the cycle the consumer stops taking (the pipeline holds from the next cycle until the
    skid drains), so the enable net starts at a flip-flop. With the output always ready the skid stays
    empty and both have the same timing."""
    payload = Signal.like(o.payload, name="out_payload")
    if not registered:
        advance = Signal(name="advance")
        m.d.comb += [advance.eq(~o.valid | o.ready), o.payload.eq(payload)]
        return advance, o.valid, payload
    valid = Signal(name="out_valid")
    advance = Signal(name="advance", init=1)
    skid_valid = Signal(name="skid_valid")
    skid = Signal.like(o.payload, name="skid", reset_less=True)
    m.d.comb += [o.valid.eq(skid_valid | valid), o.payload.eq(Mux(skid_valid, skid, payload))]
    parked = advance & valid & ~o.ready  # advance implies an empty skid, so the main beat is on the output
    with m.If(skid_valid & o.ready):
        m.d.sync += skid_valid.eq(0)
    with m.If(parked):
        m.d.sync += [skid_valid.eq(1), skid.eq(payload)]
    m.d.sync += advance.eq(~((skid_valid & ~o.ready) | parked))
    return advance, valid, payload
