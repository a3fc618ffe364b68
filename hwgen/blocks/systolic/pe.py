"""Processing elements of the systolic array (combinational datapaths + their own state).

Both PEs compute one multiply-accumulate per cycle with the MAC PE's number
types and overflow rule (:class:`~hwgen.blocks.mac_pe.MacPEConfig`); the
registers *between* PEs belong to the mesh, so a tile can chain PEs
combinationally.

* :class:`WeightStationaryPE`: holds one weight (loaded from the column's
  weight bus when ``load`` is high); ``psum_out = f(psum_in + a * w)``
  combinationally.
* :class:`OutputStationaryPE`: holds one accumulator;
  ``acc <= f((first ? 0 : acc) + a * w)`` when ``en``; ``done`` is high in
  the cycle after the ``last`` product, while ``acc`` holds the result.

``f`` wraps (two's complement at ``acc.width``) or saturates per step.
Data registers are reset-less so Yosys can absorb them into DSP blocks.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ...arith import sum_type, to_accumulator
from ..mac_pe import MacPEConfig


def accumulate(m: Module, pe: MacPEConfig, base: Value, product: Value, name: str) -> Signal:
    """``f(base + product)`` as a signal of the accumulator type (wrap or saturate)."""
    return to_accumulator(
        m, pe.acc, pe.overflow, base + product, sum_type(pe.acc, pe.product_type), name, full_name=f"{name}_sum"
    )


class WeightStationaryPE(wiring.Component):
    """One weight-stationary MAC.

    Ports: ``a`` (act), ``psum_in`` (acc), ``w_bus`` (weight), ``load`` (1)
    in; ``psum_out`` (acc) out. ``w`` is the stationary weight register.
    Latency: 0 (combinational); the weight updates the cycle after ``load``.
    """

    def __init__(self, pe: MacPEConfig):
        self.pe = pe
        super().__init__(
            {
                "a": In(pe.act.shape),
                "psum_in": In(pe.acc.shape),
                "w_bus": In(pe.weight.shape),
                "load": In(1),
                "psum_out": Out(pe.acc.shape),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        w = Signal(self.pe.weight.shape, reset_less=True)
        with m.If(self.load):
            m.d.sync += w.eq(self.w_bus)
        m.d.comb += self.psum_out.eq(accumulate(m, self.pe, self.psum_in, self.a * w, "psum"))
        return m


class OutputStationaryPE(wiring.Component):
    """One output-stationary MAC.

    Ports: ``a`` (act), ``w`` (weight), ``en``, ``first``, ``last`` in;
    ``acc`` (accumulator register) and ``done`` out. When ``en``:
    ``acc <= f((first ? 0 : acc) + a * w)`` and ``done <= last``; both hold
    while ``en`` is low. So ``done`` is high exactly while ``acc`` holds a
    finished result (latency 1). Bubbles must arrive as ``a = 0`` with both
    flags low (they then add nothing).
    """

    def __init__(self, pe: MacPEConfig):
        self.pe = pe
        super().__init__(
            {
                "a": In(pe.act.shape),
                "w": In(pe.weight.shape),
                "en": In(1),
                "first": In(1),
                "last": In(1),
                "acc": Out(pe.acc.shape),
                "done": Out(1),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        acc = Signal(self.pe.acc.shape, reset_less=True)
        done = Signal()
        nxt = accumulate(m, self.pe, Mux(self.first, 0, acc), self.a * self.w, "acc_next")
        with m.If(self.en):  # done holds through stalls, so a stalled read-out is not lost
            m.d.sync += [acc.eq(nxt), done.eq(self.last)]
        m.d.comb += [self.acc.eq(acc), self.done.eq(done)]
        return m
