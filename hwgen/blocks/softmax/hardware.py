"""The integer softmax hardware: a row buffer, a pipelined i-exp, a restoring divider, a scaling multiplier.

Four phases per row, one after another (:mod:`hwgen.intkernels` gives the rule):

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

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

if TYPE_CHECKING:
    from .config import SoftmaxConfig

#: Cycles from a score's read to its exponential's write (the EXP pipeline).
EXP_STAGES = 2
#: Cycles from the OUT phase's start to its first probability (read, output register).
OUT_STAGES = 2
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
        mx = self._take_row(m, state, count, xw)
        self._exponentials(m, state, count, mx, xr, ew, total)
        self._reciprocal(m, state, total, recip)
        self._output(m, state, count, er, recip)
        return m

    def _take_row(self, m: Module, state: Signal, count: Signal, xw: memory.WritePort) -> Signal:
        """IN: scores into the buffer, the running maximum; ``last`` moves on to EXP."""
        cfg = self.config
        mx = Signal(cfg.act.shape, name="row_max", reset_less=True)
        x = self.i.payload.x
        m.d.comb += [self.i.ready.eq(state == IN), xw.addr.eq(count), xw.data.eq(x)]
        with m.If(self.i.valid & self.i.ready):
            m.d.comb += xw.en.eq(1)
            m.d.sync += [count.eq(count + 1), mx.eq(Mux((count == 0) | (x > mx), x, mx))]
            with m.If(self.i.payload.last):
                m.d.sync += state.eq(EXP)
        return mx

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
        k = Signal.like(count, name="exp_k")
        issue = (state == EXP) & (k < count)
        v1, k1 = Signal(name="exp_v1"), Signal.like(k, name="exp_k1")
        m.d.comb += xr.addr.eq(k)
        m.d.sync += [v1.eq(issue), k1.eq(k)]
        with m.If(issue):
            m.d.sync += k.eq(k + 1)
        # stage 1: d = x − max (≤ 0), z = floor(−d / q_ln2) = (−d · zm) >> zs
        d = Signal(signed(cfg.act.width + 1), name="exp_d")
        m.d.comb += d.eq(xr.data - mx)
        neg = (-d).as_unsigned()[: cfg.act.width + 1]
        d2 = Signal.like(d, name="exp_d2", reset_less=True)
        z2 = Signal(((cfg.act.max - cfg.act.min) // ie.q_ln2).bit_length() or 1, name="exp_z2", reset_less=True)
        v2, k2 = Signal(name="exp_v2"), Signal.like(k, name="exp_k2")
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
            m.d.sync += [total.eq(0), k.eq(0)]
        with m.If(v2):
            m.d.sync += total.eq(total + e)
            with m.If(k2 == count - 1):
                m.d.sync += state.eq(DIV)

    def _reciprocal(self, m: Module, state: Signal, total: Signal, recip: Signal) -> None:
        """DIV: ``recip = floor(2^F / total)``, restoring division over the dividend's ``F + 1`` bits, MSB first
        (the dividend is ``2^F``: a 1 in its first bit only)."""
        cfg = self.config
        F = cfg.frac_bits
        rem = Signal(cfg.sum_bits, name="div_rem")
        bit = Signal(range(F + 1), name="div_bit", init=F)
        trial = Signal(cfg.sum_bits + 1, name="div_trial")
        m.d.comb += trial.eq(Cat(bit == F, rem))  # 2·rem + the dividend's bit
        fits = trial >= total
        with m.If(state == DIV):
            m.d.sync += [
                rem.eq(Mux(fits, trial - total, trial)),
                recip.eq(Cat(fits, recip)[: len(recip)]),  # the quotient bit shifts in (R < 2^len(recip))
                bit.eq(bit - 1),
            ]
            with m.If(bit == 0):
                m.d.sync += [state.eq(OUT), bit.eq(F)]
        with m.Else():
            m.d.sync += rem.eq(0)

    def _output(self, m: Module, state: Signal, count: Signal, er: memory.ReadPort, recip: Signal) -> None:
        """OUT: read each exponential, scale by the reciprocal into the output register; leave for IN after
        the last probability is taken."""
        cfg = self.config
        advance = ~self.o.valid | self.o.ready
        j = Signal.like(count, name="out_j")
        issue = (state == OUT) & (j < count)
        v1, j1 = Signal(name="out_v1"), Signal.like(j, name="out_j1")
        m.d.comb += [er.addr.eq(j), er.en.eq(advance)]
        scaled = (er.data * recip) >> cfg.sum_bits
        out = Signal(out_layout(cfg), name="out_reg", reset_less=True)
        with m.If(advance):
            m.d.sync += [v1.eq(issue), j1.eq(j), self.o.valid.eq(v1)]
            m.d.sync += [out.y.eq(Mux(scaled > cfg.out.max, cfg.out.max, scaled)), out.last.eq(j1 == count - 1)]
            with m.If(issue):
                m.d.sync += j.eq(j + 1)
        m.d.comb += self.o.payload.eq(out)
        with m.If(self.o.valid & self.o.ready & self.o.payload.last):
            m.d.sync += [state.eq(IN), count.eq(0), j.eq(0)]
