"""The integer LayerNorm / RMSNorm hardware (see the package docstring): take, square-sum, divide, root, emit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..rowunit import EMIT_STAGES, emit_row, integer_sqrt, read_pass, restoring_divide, take_row

if TYPE_CHECKING:
    from .config import NormConfig

#: Cycles from an element's read to its square's addition (the SQ pipeline).
SQ_STAGES = 2
OUT_STAGES = EMIT_STAGES
IN, SQ, DIV, ROOT, OUT = range(5)


def in_layout(cfg: NormConfig) -> data.StructLayout:
    return data.StructLayout({"x": cfg.act.shape, "last": 1})


def out_layout(cfg: NormConfig) -> data.StructLayout:
    return data.StructLayout({"y": cfg.out.shape, "last": 1})


class Norm(wiring.Component):
    """The LayerNorm / RMSNorm unit. Ports: ``i`` (x, last), ``o`` (y, last)."""

    def __init__(self, config: NormConfig):
        self.config = config
        super().__init__({"i": In(stream.Signature(in_layout(config))), "o": Out(stream.Signature(out_layout(config)))})

    def elaborate(self, platform: object) -> Module:
        cfg = self.config
        m = Module()
        m.submodules.xbuf = xbuf = memory.Memory(shape=cfg.act.shape, depth=max(cfg.max_len, 2), init=[])
        xw, xr_sq, xr_out = xbuf.write_port(), xbuf.read_port(), xbuf.read_port()
        state = Signal(range(5), name="state")
        count = Signal(range(cfg.max_len + 1), name="count")
        s1 = Signal(signed(cfg.act.width + cfg.max_len.bit_length()), name="row_sum")
        x = self.i.payload.x
        fire = take_row(m, self.i, state, IN, SQ, count, xw, x)
        with m.If(fire):
            m.d.sync += s1.eq(Mux(count == 0, x, s1 + x))
        total = Signal(cfg.square_sum_bits, name="square_sum")  # D = Σ d²
        self._square_sum(m, state, count, s1, xr_sq, total)
        t = Signal(cfg.quotient_bits, name="quotient")  # floor(n · 2^(2P) / D)
        dividend = Cat(Const(0, 2 * cfg.guard_shift), count)
        restoring_divide(m, state, DIV, ROOT, dividend, total, t, "div")
        r = Signal(cfg.root_bits, name="root")  # isqrt(t)
        integer_sqrt(m, state, ROOT, OUT, t, r, "root")

        def normalized(xv: Value) -> dict[str, Value]:
            y = (self._deviation(xv, count, s1) * r) >> (cfg.guard_shift - cfg.out_frac)
            return {"y": Mux(y > cfg.out.max, cfg.out.max, Mux(y < cfg.out.min, cfg.out.min, y))}

        emit_row(m, self.o, state, OUT, IN, count, xr_out, normalized, Signal(out_layout(cfg), reset_less=True))
        return m

    def _deviation(self, x: Value, count: Value, s1: Value) -> Value:
        """``d``: ``n·x − Σx`` (LayerNorm) or ``x`` (RMSNorm)."""
        return x * count - s1 if self.config.mode == "layernorm" else x

    def _square_sum(
        self, m: Module, state: Signal, count: Signal, s1: Signal, read: memory.ReadPort, total: Signal
    ) -> None:
        """SQ: read the row; stage 1 registers ``d``, stage 2 adds ``d²`` to ``D``."""
        cfg = self.config
        v1, k1 = read_pass(m, state, SQ, count, read, "sq")
        d2 = Signal(signed(cfg.deviation_bits), name="sq_d", reset_less=True)
        v2, k2 = Signal(name="sq_v2"), Signal.like(k1, name="sq_k2")
        m.d.sync += [d2.eq(self._deviation(read.data, count, s1)), v2.eq(v1), k2.eq(k1)]
        with m.If(state == IN):
            m.d.sync += total.eq(0)
        with m.If(v2):
            m.d.sync += total.eq(total + d2 * d2)
            with m.If(k2 == count - 1):
                m.d.sync += state.eq(DIV)
