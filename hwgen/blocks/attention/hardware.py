"""The decode-attention hardware: rotating q and accumulator registers, a table exponential, one divider.

One query at a time, in phases named by ``state`` (``g = head_dim / lanes``
beats per vector; :func:`hwgen.intkernels.online_attention` gives the rule):

* **Q**: ``g`` beats of q shift into the query register (``lanes`` elements
  a beat); the first entry is flagged;
* **K**: ``g`` beats of a key: each multiplies the query register's head
  group (``lanes`` products, summed) into the dot product and rotates the
  register; the last beat registers the shifted score;
* **SCORE** (``SCORE_CYCLES`` = 2, the input waits): cycle 1 compares the score
  with the running maximum, moves the maximum, and reads the table at
  ``|score − max|``; cycle 2 forms the rescale ``α`` and the weight ``p``
  (``2^F`` and ``E`` in the order the compare chose; ``α = 0`` for the first
  entry) and updates the running sum ``l = (l·α >> F) + p``;
* **V**: ``g`` beats of the value: each updates the accumulators' head group,
  ``acc = (acc·α >> F) + p·v``, and rotates them; the next phase is K, or DIV
  after the query's ``last`` beat;
* **DIV**: ``R = floor(2^G / l)``, one quotient bit per cycle (``G + 1``);
* **OUT**: ``g`` output beats, ``clamp((acc·R + 2^(G−1)) >> G)`` per element
  from the accumulators' head group (rotating), through an output register
  that holds while the consumer is not ready; the first is valid the cycle
  after the phase starts, and the next query's beats are taken from the
  cycle after the last output leaves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import C, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..rowunit import restoring_divide

if TYPE_CHECKING:
    from .config import DecodeAttentionConfig

#: Cycles the input waits after a key's last beat (compare and table read, then α, p and the sum).
SCORE_CYCLES = 2
Q, K, SCORE1, SCORE2, V, DIV, OUT = range(7)


def in_layout(cfg: DecodeAttentionConfig) -> data.StructLayout:
    return data.StructLayout({"x": data.ArrayLayout(cfg.act.shape, cfg.lanes), "last": 1})


def out_layout(cfg: DecodeAttentionConfig) -> data.StructLayout:
    return data.StructLayout({"y": data.ArrayLayout(cfg.out.shape, cfg.lanes), "last": 1})


class DecodeAttention(wiring.Component):
    """The decode-attention unit; see the module docstring. Ports: ``i`` (``lanes`` elements of q, k or v,
    and ``last``), ``o`` (``lanes`` outputs, and ``last``)."""

    def __init__(self, config: DecodeAttentionConfig):
        self.config = config
        super().__init__({"i": In(stream.Signature(in_layout(config))), "o": Out(stream.Signature(out_layout(config)))})

    def elaborate(self, platform: object) -> Module:
        cfg = self.config
        m = Module()
        g, L = cfg.beats, cfg.lanes
        state = Signal(range(7), name="state")
        beat = Signal(range(max(g, 2)), name="beat")  # beat within the current vector
        first = Signal(name="first")  # the current entry is the query's first
        fire = self.i.valid & self.i.ready
        m.d.comb += self.i.ready.eq((state == Q) | (state == K) | (state == V))
        x = self.i.payload.x
        end_of_vector = fire & (beat == g - 1)
        with m.If(fire):
            m.d.sync += beat.eq(Mux(beat == g - 1, 0, beat + 1))

        # ---- query register and accumulators: g groups of `lanes`, rotating by a group per beat
        qs = [Signal(data.ArrayLayout(cfg.act.shape, L), name=f"q{j}", reset_less=True) for j in range(g)]
        accs = [Signal(data.ArrayLayout(signed(cfg.acc_bits), L), name=f"acc{j}", reset_less=True) for j in range(g)]
        with m.If(fire & ((state == Q) | (state == K))):  # Q: shift in; K: rotate
            m.d.sync += [qs[j].eq(qs[j + 1]) for j in range(g - 1)] + [qs[-1].eq(Mux(state == Q, x, qs[0]))]
        with m.If(end_of_vector & (state == Q)):
            m.d.sync += [state.eq(K), first.eq(1)]

        # ---- K: the dot product, the shifted score at the key's last beat
        dot = Signal(signed(cfg.dot_bits), name="dot", reset_less=True)
        products = sum((qs[0][ln] * x[ln] for ln in range(L)), C(0, signed(cfg.dot_bits)))
        dot_new = Signal(signed(cfg.dot_bits), name="dot_new")
        m.d.comb += dot_new.eq(Mux(beat == 0, 0, dot) + products)
        score = Signal(signed(cfg.score_bits), name="score", reset_less=True)
        with m.If(fire & (state == K)):
            m.d.sync += dot.eq(dot_new)
            with m.If(beat == g - 1):
                m.d.sync += [score.eq(dot_new >> cfg.score_shift), state.eq(SCORE1)]

        alpha, p, total = self._score(m, state, first, score)
        self._values(m, state, fire, x, accs, alpha, p, end_of_vector, first)
        self._normalize(m, state, accs, total)
        return m

    def _score(self, m: Module, state: Signal, first: Signal, score: Signal) -> tuple[Signal, Signal, Signal]:
        """SCORE1: compare, move the maximum, read ``E(−|score − max|)``; SCORE2: ``α``, ``p`` and the running
        sum. Returns ``(α, p, sum)``."""
        cfg = self.config
        F, size = cfg.exp_bits, cfg.exp.size
        one = 1 << F
        m.submodules.exp_table = table = memory.Memory(
            shape=unsigned(F + 1), depth=size + 1, init=[*cfg.exp.entries, 0]
        )
        rd = table.read_port()
        mx = Signal(signed(cfg.score_bits), name="running_max", reset_less=True)
        diff = Signal(signed(cfg.score_bits + 1), name="score_diff")
        m.d.comb += diff.eq(score - mx)
        grows = Signal(name="max_grows")
        m.d.comb += grows.eq(first | (diff > 0))
        mag = Signal(unsigned(cfg.score_bits + 1), name="score_mag")
        m.d.comb += mag.eq(Mux(diff > 0, diff, -diff))
        m.d.comb += [rd.addr.eq(Mux(mag >= size, size, mag)), rd.en.eq(state == SCORE1)]
        grew = Signal(name="max_grew", reset_less=True)
        with m.If(state == SCORE1):
            m.d.sync += [grew.eq(grows), state.eq(SCORE2)]
            with m.If(grows):
                m.d.sync += mx.eq(score)
        alpha = Signal(unsigned(F + 1), name="alpha", reset_less=True)
        p = Signal(unsigned(F + 1), name="weight", reset_less=True)
        new_alpha = Signal(unsigned(F + 1), name="alpha_new")
        new_p = Signal(unsigned(F + 1), name="weight_new")
        m.d.comb += [
            new_alpha.eq(Mux(first, 0, Mux(grew, rd.data, one))),
            new_p.eq(Mux(grew, one, rd.data)),
        ]
        total = Signal(unsigned(cfg.sum_bits), name="running_sum", reset_less=True)
        with m.If(state == SCORE2):
            m.d.sync += [alpha.eq(new_alpha), p.eq(new_p), state.eq(V), total.eq(((total * new_alpha) >> F) + new_p)]
        return alpha, p, total

    def _values(
        self,
        m: Module,
        state: Signal,
        fire: Value,
        x: Value,
        accs: list[Signal],
        alpha: Signal,
        p: Signal,
        end_of_vector: Value,
        first: Signal,
    ) -> None:
        """V: ``acc = (acc·α >> F) + p·v`` on the head group, rotating; K or DIV after the value's last beat."""
        cfg = self.config
        F = cfg.exp_bits
        head = accs[0]
        new = Signal(data.ArrayLayout(signed(cfg.acc_bits), cfg.lanes), name="acc_new")
        for ln in range(cfg.lanes):
            m.d.comb += new[ln].eq(((head[ln] * alpha) >> F) + p * x[ln])
        with m.If(fire & (state == V)):
            m.d.sync += [accs[j].eq(accs[j + 1]) for j in range(len(accs) - 1)] + [accs[-1].eq(new)]
            with m.If(end_of_vector):
                m.d.sync += [state.eq(Mux(self.i.payload.last, DIV, K)), first.eq(0)]

    def _normalize(self, m: Module, state: Signal, accs: list[Signal], total: Signal) -> None:
        """DIV: the reciprocal of the sum; OUT: ``clamp((acc·R + 2^(G−1)) >> G)`` per element, rotating."""
        cfg = self.config
        G, g = cfg.recip_frac, cfg.beats
        recip = Signal(cfg.recip_bits, name="recip", reset_less=True)
        restoring_divide(m, state, DIV, OUT, C(1 << G, G + 1), total, recip, "div")
        o = self.o
        out = Signal(out_layout(cfg), name="out", reset_less=True)
        m.d.comb += o.payload.eq(out)
        advance = ~o.valid | o.ready
        sent = Signal(range(g + 1), name="out_count")
        issue = (state == OUT) & (sent < g) & advance
        with m.If(advance):
            m.d.sync += o.valid.eq(issue)
        lo, hi = cfg.out.min, cfg.out.max
        with m.If(issue):
            for ln in range(cfg.lanes):
                y = (accs[0][ln] * recip + (1 << (G - 1))) >> G
                m.d.sync += out.y[ln].eq(Mux(y < lo, lo, Mux(y > hi, hi, y)))
            m.d.sync += [out.last.eq(sent == g - 1), sent.eq(sent + 1)]
            m.d.sync += [accs[j].eq(accs[j + 1]) for j in range(g - 1)] + [accs[-1].eq(accs[0])]
        with m.If(o.valid & o.ready & out.last):
            m.d.sync += [state.eq(Q), sent.eq(0)]
