"""The integer softmax hardware: a row buffer, a pipelined i-exp, a restoring divider, a scaling multiplier.

Four phases per row, one after another (:mod:`hwgen.intkernels` gives the rule; :mod:`..rowunit` the
shared phases):

* **IN**: scores are taken one per cycle into the score buffer while the
  running maximum is kept; the ``last`` score ends the row (``n`` scores);
* **EXP**: the buffer is read back, one score per cycle; stage 1 registers
  ``d = x − max`` and ``z = floor(−d / q_ln2)`` (a multiply by a constant
  and a shift, exact over the score range); stage 2 forms
  ``e = ((p + q_b)² + q_c) >> z`` with ``p = d + z·q_ln2``, writes it to the
  exponential buffer and adds it to the row sum (``n + EXP_STAGES`` cycles);
* **DIV**: ``R = floor(2^F / Σ e)`` by restoring division, one quotient bit
  per cycle (``F + 1`` cycles);
* **OUT**: the exponentials are read back and each leaves as
  ``min(2^W − 1, (e · R) >> sum_bits)`` with ``last`` on the row's final one,
  through an output register that holds while the consumer is not ready;
  the first probability is valid ``OUT_STAGES`` cycles after the phase
  starts. The next row's scores are taken from the cycle after the last
  probability leaves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import C, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..rowunit import EMIT_STAGES, emit_row, read_pass, restoring_divide, take_row

if TYPE_CHECKING:
    from .config import SoftmaxConfig

#: Cycles from a score's read to its exponential's write (the EXP pipeline).
EXP_STAGES = 2
#: Cycles from the OUT phase's start to its first probability (read, output register).
OUT_STAGES = EMIT_STAGES
IN, EXP, DIV, OUT = range(4)


def in_layout(cfg: SoftmaxConfig) -> data.StructLayout:
    return data.StructLayout({"x": cfg.act.shape, "last": 1})


def out_layout(cfg: SoftmaxConfig) -> data.StructLayout:
    return data.StructLayout({"y": cfg.out.shape, "last": 1})


class Softmax(wiring.Component):
    """The integer softmax unit; see the module docstring. Ports: ``i`` (score, last), ``o`` (probability,
    last)."""

    def __init__(self, config: SoftmaxConfig):
        self.config = config
        super().__init__({"i": In(stream.Signature(in_layout(config))), "o": Out(stream.Signature(out_layout(config)))})

    def elaborate(self, platform: object) -> Module:
        cfg, ie = self.config, self.config.iexp
        m = Module()
        depth = max(cfg.max_len, 2)
        m.submodules.xbuf = xbuf = memory.Memory(shape=cfg.act.shape, depth=depth, init=[])
        m.submodules.ebuf = ebuf = memory.Memory(shape=unsigned(ie.l_bits), depth=depth, init=[])
        xw, xr, ew, er = xbuf.write_port(), xbuf.read_port(), ebuf.write_port(), ebuf.read_port()
        state = Signal(range(4), name="state")
        count = Signal(range(cfg.max_len + 1), name="count")  # scores in the row
        total = Signal(cfg.sum_bits, name="total")  # Σ e
        recip = Signal(cfg.recip_bits, name="recip")  # floor(2^F / Σ e)
        x = self.i.payload.x
        fire = take_row(m, self.i, state, IN, EXP, count, xw, x)
        mx = Signal(cfg.act.shape, name="row_max", reset_less=True)
        with m.If(fire):
            m.d.sync += mx.eq(Mux((count == 0) | (x > mx), x, mx))
        self._exponentials(m, state, count, mx, xr, ew, total)
        F = cfg.frac_bits
        restoring_divide(m, state, DIV, OUT, C(1 << F, F + 1), total, recip, "div")

        def probability(e: Value) -> dict[str, Value]:
            scaled = (e * recip) >> cfg.sum_bits
            return {"y": Mux(scaled > cfg.out.max, cfg.out.max, scaled)}

        emit_row(m, self.o, state, OUT, IN, count, er, probability, Signal(out_layout(cfg), reset_less=True))
        return m

    def _exponentials(
        self,
        m: Module,
        state: Signal,
        count: Signal,
        mx: Signal,
        xr: memory.ReadPort,
        ew: memory.WritePort,
        total: Signal,
    ) -> None:
        """EXP: read scores; stage 1 registers ``d`` and ``z``; stage 2 writes ``e`` and sums it."""
        cfg, ie = self.config, self.config.iexp
        zm, zs = ie.z_divider
        v1, k1 = read_pass(m, state, EXP, count, xr, "exp")
        # stage 1: d = x − max (≤ 0), z = floor(−d / q_ln2) = (−d · zm) >> zs
        d = Signal(signed(cfg.act.width + 1), name="exp_d")
        m.d.comb += d.eq(xr.data - mx)
        neg = (-d).as_unsigned()[: cfg.act.width + 1]
        d2 = Signal.like(d, name="exp_d2", reset_less=True)
        z2 = Signal(((cfg.act.max - cfg.act.min) // ie.q_ln2).bit_length() or 1, name="exp_z2", reset_less=True)
        v2, k2 = Signal(name="exp_v2"), Signal.like(k1, name="exp_k2")
        m.d.sync += [d2.eq(d), z2.eq((neg * zm) >> zs), v2.eq(v1), k2.eq(k1)]
        # stage 2: e = ((p + q_b)² + q_c) >> z, 0 once z reaches L's width
        p = Signal(signed(cfg.act.width + 2), name="exp_p")
        m.d.comb += p.eq(d2 + z2 * ie.q_ln2)
        base = Signal(unsigned(max(ie.q_b, 1).bit_length() + 1), name="exp_base")
        m.d.comb += base.eq(p + ie.q_b)
        big_l = Signal(ie.l_bits, name="exp_l")
        m.d.comb += big_l.eq(base * base + ie.q_c)
        e = Signal(ie.l_bits, name="exp_e")
        shift_bits = max(ie.l_bits - 1, 1).bit_length()
        m.d.comb += e.eq(Mux(z2 >= ie.l_bits, 0, big_l >> z2[:shift_bits]))
        m.d.comb += [ew.addr.eq(k2), ew.data.eq(e), ew.en.eq(v2)]
        with m.If(state == IN):
            m.d.sync += total.eq(0)
        with m.If(v2):
            m.d.sync += total.eq(total + e)
            with m.If(k2 == count - 1):
                m.d.sync += state.eq(DIV)
