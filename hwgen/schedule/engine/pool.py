"""The pooling unit: per output pixel, the max or the requantized sum of each channel over its window.

It takes a window's ``P·C`` values one per cycle in im2col order (position,
then channel; from the engine's sliding-window reader) into ``C`` running
maxima or sums, then emits one result per channel, channel 0 first, one per
cycle while ``o`` is ready (``i`` is not ready meanwhile). A sum leaves as
``clamp(zp + round_shift((Σ x − P·zx) · M, n))`` (:func:`hwgen.arith.requantize`),
a maximum as it is. Timing: the last value taken in cycle ``t``, the
results are valid in cycles ``t + 1 .. t + C``.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ...arith import requantize
from ...numtype import NumType


class PoolUnit(wiring.Component):
    """Ports: ``i`` (one input value a beat), ``o`` (one result a beat)."""

    def __init__(self, params: dict[str, Any], act: NumType, out: NumType):
        self.params, self.act, self.out = params, act, out
        super().__init__({"i": In(stream.Signature(act.shape)), "o": Out(stream.Signature(out.shape))})

    def elaborate(self, platform: object) -> Module:
        m = Module()
        p, w = self.params, self.params["window"]
        positions, channels = w.kh * w.kw, w.channels
        total = signed(NumType.fitting(positions * self.act.min, positions * self.act.max, signed=True).width)
        shape = total if p["mode"] == "avg" else self.act.shape
        acc = Array(Signal(shape, name=f"pool_acc{k}") for k in range(channels))
        c = Signal(range(max(channels, 2)), name="pool_c")
        pos = Signal(range(max(positions, 2)), name="pool_pos")
        emit = Signal(name="pool_emit")
        m.d.comb += self.i.ready.eq(~emit)
        with m.If(self.i.valid & self.i.ready):
            x, kept = self.i.payload, acc[c]
            update = kept + x if p["mode"] == "avg" else Mux(x > kept, x, kept)
            m.d.sync += [kept.eq(Mux(pos == 0, x, update)), c.eq(Mux(c == channels - 1, 0, c + 1))]
            with m.If(c == channels - 1):
                m.d.sync += pos.eq(Mux(pos == positions - 1, 0, pos + 1))
                with m.If(pos == positions - 1):
                    m.d.sync += emit.eq(1)
        m.d.comb += self.o.valid.eq(emit)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += c.eq(Mux(c == channels - 1, 0, c + 1))
            with m.If(c == channels - 1):
                m.d.sync += emit.eq(0)
        if p["mode"] == "avg":
            width = total.width + p["zero_in"].bit_length() + positions.bit_length() + 2
            centred = Signal(signed(width), name="pool_centred")
            m.d.comb += centred.eq(acc[c] - positions * p["zero_in"])
            even = p["rounding"] == "half_even"
            result = requantize(m, centred, width, p["multiplier"], p["shift"], p["zero_point"], self.out.min,
                                self.out.max, even)  # fmt: skip
        else:
            result = acc[c]
        m.d.comb += self.o.payload.eq(result)
        return m
