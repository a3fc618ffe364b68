"""The decode-attention hardware: per KV stream a unit with rotating q and accumulator registers and a table
exponential; a combine of the units' states (the Lean Attention split); one divider.

Each of the ``units`` input streams (``i``, or ``i0``, ``i1``, ... for several)
carries one query's q and the KV entries of its range of the cache; its unit
runs, per stream (``g = head_dim / lanes`` beats per vector;
:func:`hwgen.intkernels.online_attention` gives the rule):

* **Q**: ``g`` beats of q shift into the query register (``lanes`` elements
  a beat); the first entry is flagged;
* **K**: ``g`` beats of a key: each multiplies the query register's head
  group (``lanes`` products, summed) into the dot product and rotates the
  register; the last beat registers the shifted score;
* **SCORE** (``SCORE_CYCLES`` = 2, the stream waits): cycle 1 compares the score
  with the running maximum, moves the maximum, and reads the table at
  ``|score − max|``; cycle 2 forms the rescale ``α`` and the weight ``p``
  (``2^F`` and ``E`` in the order the compare chose; ``α = 0`` for the first
  entry) and updates the running sum ``l = (l·α >> F) + p``;
* **V**: ``g`` beats of the value: each updates the accumulators' head group,
  ``acc = (acc·α >> F) + p·v``, and rotates them; then K, or DONE after the
  stream's ``last`` beat (it waits there, not ready, until the outputs left).

When every unit is done (from the cycle after the last of their ``last``
beats):

* **COMBINE** (several units only, ``COMBINE_CYCLES`` = 2): cycle 1 takes the
  largest maximum ``M`` and reads each unit's ``E(m_u − M)``; cycle 2 registers
  them and the sum ``L = Σ (l_u · E_u) >> F`` (:func:`~hwgen.intkernels.combine_partials`);
* **DIV**: ``R = floor(2^G / L)``, one quotient bit per cycle (``G + 1``);
* **OUT**: ``g`` output beats, ``clamp((acc·R + 2^(G−1)) >> G)`` per element
  with ``acc = Σ (acc_u · E_u) >> F`` from the units' head groups (rotating),
  through an output register that holds while the consumer is not ready;
  the first is valid the cycle after the phase starts, and the streams'
  next queries are taken from the cycle after the last output leaves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from amaranth.hdl import C, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..rowunit import restoring_divide

if TYPE_CHECKING:
    from .config import DecodeAttentionConfig

#: Cycles a stream waits after a key's last beat (compare and table read, then α, p and the sum).
SCORE_CYCLES = 2
#: Cycles of the combine phase with several units (the largest maximum and the table, then the sum).
COMBINE_CYCLES = 2
Q, K, SCORE1, SCORE2, V, DONE = range(6)  # a unit's phases
RUN, COMBINE1, COMBINE2, DIV, OUT = range(5)  # the unit-wide phases


def in_layout(cfg: DecodeAttentionConfig) -> data.StructLayout:
    return data.StructLayout({"x": data.ArrayLayout(cfg.act.shape, cfg.lanes), "last": 1})


def out_layout(cfg: DecodeAttentionConfig) -> data.StructLayout:
    return data.StructLayout({"y": data.ArrayLayout(cfg.out.shape, cfg.lanes), "last": 1})


def port_names(cfg: DecodeAttentionConfig) -> list[str]:
    """The input streams: ``i`` for one unit, else ``i0``, ``i1``, ..."""
    return ["i"] if cfg.units == 1 else [f"i{u}" for u in range(cfg.units)]


@dataclass
class KVUnit:
    """One stream's datapath (see the module docstring): its phase, running maximum and sum, accumulators,
    table read port, and ``finishing`` (its last beat is taken this cycle)."""

    state: Signal
    mx: Signal
    total: Signal
    accs: list[Signal]
    table: memory.ReadPort
    finishing: Value


class DecodeAttention(wiring.Component):
    """The decode-attention unit; see the module docstring. Ports: the input streams (``lanes`` elements of
    q, k or v, and ``last``) and ``o`` (``lanes`` outputs, and ``last``)."""

    def __init__(self, config: DecodeAttentionConfig):
        self.config = config
        ports = {name: In(stream.Signature(in_layout(config))) for name in port_names(config)}
        super().__init__(ports | {"o": Out(stream.Signature(out_layout(config)))})

    def elaborate(self, platform: object) -> Module:
        cfg = self.config
        m = Module()
        F, size = cfg.exp_bits, cfg.exp.size
        m.submodules.exp_table = table = memory.Memory(
            shape=unsigned(F + 1), depth=size + 1, init=[*cfg.exp.entries, 0]
        )
        phase = Signal(range(5), name="phase")
        prefix = (lambda u: "") if cfg.units == 1 else (lambda u: f"u{u}_")
        units = [
            self._unit(m, getattr(self, name), table.read_port(), prefix(u)) for u, name in enumerate(port_names(cfg))
        ]
        all_done = 1
        for un in units:
            all_done = all_done & ((un.state == DONE) | un.finishing)
        with m.If((phase == RUN) & all_done):
            m.d.sync += phase.eq(DIV if cfg.units == 1 else COMBINE1)
        if cfg.units == 1:
            total, scaled = units[0].total, [lambda v: v]
        else:
            total, scaled = self._combine(m, phase, units)
        self._normalize(m, phase, units, total, scaled)
        return m

    def _unit(self, m: Module, port: object, rd: memory.ReadPort, pre: str) -> KVUnit:
        """One stream's unit: Q, K, SCORE, V and DONE (module docstring)."""
        cfg = self.config
        g, L = cfg.beats, cfg.lanes
        state = Signal(range(6), name=f"{pre}state")
        beat = Signal(range(max(g, 2)), name=f"{pre}beat")  # beat within the current vector
        first = Signal(name=f"{pre}first")  # the current entry is the query's first
        fire = port.valid & port.ready
        m.d.comb += port.ready.eq((state == Q) | (state == K) | (state == V))
        x = port.payload.x
        end_of_vector = fire & (beat == g - 1)
        with m.If(fire):
            m.d.sync += beat.eq(Mux(beat == g - 1, 0, beat + 1))

        # ---- query register and accumulators: g groups of `lanes`, rotating by a group per beat
        qs = [Signal(data.ArrayLayout(cfg.act.shape, L), name=f"{pre}q{j}", reset_less=True) for j in range(g)]
        acc_shape = data.ArrayLayout(signed(cfg.acc_bits), L)
        accs = [Signal(acc_shape, name=f"{pre}acc{j}", reset_less=True) for j in range(g)]
        with m.If(fire & ((state == Q) | (state == K))):  # Q: shift in; K: rotate
            m.d.sync += [qs[j].eq(qs[j + 1]) for j in range(g - 1)] + [qs[-1].eq(Mux(state == Q, x, qs[0]))]
        with m.If(end_of_vector & (state == Q)):
            m.d.sync += [state.eq(K), first.eq(1)]

        # ---- K: the dot product, the shifted score at the key's last beat
        dot = Signal(signed(cfg.dot_bits), name=f"{pre}dot", reset_less=True)
        products = sum((qs[0][ln] * x[ln] for ln in range(L)), C(0, signed(cfg.dot_bits)))
        dot_new = Signal(signed(cfg.dot_bits), name=f"{pre}dot_new")
        m.d.comb += dot_new.eq(Mux(beat == 0, 0, dot) + products)
        score = Signal(signed(cfg.score_bits), name=f"{pre}score", reset_less=True)
        with m.If(fire & (state == K)):
            m.d.sync += dot.eq(dot_new)
            with m.If(beat == g - 1):
                m.d.sync += [score.eq(dot_new >> cfg.score_shift), state.eq(SCORE1)]

        mx, alpha, p, total = self._score(m, state, first, score, rd, pre)
        # ---- V: acc = (acc·α >> F) + p·v on the head group, rotating; K or DONE after the value's last beat
        head = accs[0]
        new = Signal(acc_shape, name=f"{pre}acc_new")
        for ln in range(L):
            m.d.comb += new[ln].eq(((head[ln] * alpha) >> cfg.exp_bits) + p * x[ln])
        with m.If(fire & (state == V)):
            m.d.sync += [accs[j].eq(accs[j + 1]) for j in range(g - 1)] + [accs[-1].eq(new)]
            with m.If(end_of_vector):
                m.d.sync += [state.eq(Mux(port.payload.last, DONE, K)), first.eq(0)]
        finishing = end_of_vector & (state == V) & port.payload.last
        return KVUnit(state, mx, total, accs, rd, finishing)

    def _score(
        self, m: Module, state: Signal, first: Signal, score: Signal, rd: memory.ReadPort, pre: str
    ) -> tuple[Signal, Signal, Signal, Signal]:
        """SCORE1: compare, move the maximum, read ``E(−|score − max|)``; SCORE2: ``α``, ``p`` and the running
        sum. Returns ``(max, α, p, sum)``; the table port's address is driven here for SCORE1 (the combine
        phase overrides it)."""
        cfg = self.config
        F, size = cfg.exp_bits, cfg.exp.size
        one = 1 << F
        mx = Signal(signed(cfg.score_bits), name=f"{pre}running_max", reset_less=True)
        diff = Signal(signed(cfg.score_bits + 1), name=f"{pre}score_diff")
        m.d.comb += diff.eq(score - mx)
        grows = Signal(name=f"{pre}max_grows")
        m.d.comb += grows.eq(first | (diff > 0))
        mag = Signal(unsigned(cfg.score_bits + 1), name=f"{pre}score_mag")
        m.d.comb += mag.eq(Mux(diff > 0, diff, -diff))
        m.d.comb += [rd.addr.eq(Mux(mag >= size, size, mag)), rd.en.eq(state == SCORE1)]
        grew = Signal(name=f"{pre}max_grew", reset_less=True)
        with m.If(state == SCORE1):
            m.d.sync += [grew.eq(grows), state.eq(SCORE2)]
            with m.If(grows):
                m.d.sync += mx.eq(score)
        alpha = Signal(unsigned(F + 1), name=f"{pre}alpha", reset_less=True)
        p = Signal(unsigned(F + 1), name=f"{pre}weight", reset_less=True)
        new_alpha = Signal(unsigned(F + 1), name=f"{pre}alpha_new")
        new_p = Signal(unsigned(F + 1), name=f"{pre}weight_new")
        m.d.comb += [
            new_alpha.eq(Mux(first, 0, Mux(grew, rd.data, one))),
            new_p.eq(Mux(grew, one, rd.data)),
        ]
        total = Signal(unsigned(cfg.sum_bits), name=f"{pre}running_sum", reset_less=True)
        with m.If(state == SCORE2):
            m.d.sync += [alpha.eq(new_alpha), p.eq(new_p), state.eq(V), total.eq(((total * new_alpha) >> F) + new_p)]
        return mx, alpha, p, total

    def _combine(self, m: Module, phase: Signal, units: list[KVUnit]) -> tuple[Signal, list]:
        """COMBINE1: the largest maximum and each unit's table read at ``M − m_u``; COMBINE2: ``E_u`` registered
        and ``L = Σ (l_u · E_u) >> F``. Returns ``L`` and per unit the rescale ``v ↦ (v · E_u) >> F``."""
        cfg = self.config
        F, size = cfg.exp_bits, cfg.exp.size
        top = units[0].mx
        for un in units[1:]:
            top = Mux(un.mx > top, un.mx, top)
        big = Signal(signed(cfg.score_bits), name="combine_max")
        m.d.comb += big.eq(top)
        factors, terms = [], []
        for u, un in enumerate(units):
            gap = Signal(unsigned(cfg.score_bits + 1), name=f"u{u}_combine_gap")
            m.d.comb += gap.eq(big - un.mx)
            with m.If(phase == COMBINE1):
                m.d.comb += [un.table.addr.eq(Mux(gap >= size, size, gap)), un.table.en.eq(1)]
            e = Signal(unsigned(F + 1), name=f"u{u}_combine_factor", reset_less=True)
            factors.append(e)
            terms.append((un.total * un.table.data) >> F)
        total = Signal(unsigned(cfg.sum_bits), name="combined_sum", reset_less=True)
        with m.If(phase == COMBINE1):
            m.d.sync += phase.eq(COMBINE2)
        with m.If(phase == COMBINE2):
            m.d.sync += [phase.eq(DIV), total.eq(sum(terms))] + [e.eq(un.table.data) for e, un in zip(factors, units)]
        return total, [lambda v, e=e: (v * e) >> F for e in factors]

    def _normalize(self, m: Module, phase: Signal, units: list[KVUnit], total: Signal, scaled: list) -> None:
        """DIV: the reciprocal of the sum; OUT: ``clamp((acc·R + 2^(G−1)) >> G)`` per element, the units'
        head groups rescaled and summed, rotating."""
        cfg = self.config
        G, g = cfg.recip_frac, cfg.beats
        recip = Signal(cfg.recip_bits, name="recip", reset_less=True)
        restoring_divide(m, phase, DIV, OUT, C(1 << G, G + 1), total, recip, "div")
        o = self.o
        out = Signal(out_layout(cfg), name="out", reset_less=True)
        m.d.comb += o.payload.eq(out)
        advance = ~o.valid | o.ready
        sent = Signal(range(g + 1), name="out_count")
        issue = (phase == OUT) & (sent < g) & advance
        with m.If(advance):
            m.d.sync += o.valid.eq(issue)
        lo, hi = cfg.out.min, cfg.out.max
        with m.If(issue):
            for ln in range(cfg.lanes):
                acc = sum(f(un.accs[0][ln]) for f, un in zip(scaled, units))
                y = (acc * recip + (1 << (G - 1))) >> G
                m.d.sync += out.y[ln].eq(Mux(y < lo, lo, Mux(y > hi, hi, y)))
            m.d.sync += [out.last.eq(sent == g - 1), sent.eq(sent + 1)]
            for un in units:
                m.d.sync += [un.accs[j].eq(un.accs[j + 1]) for j in range(g - 1)] + [un.accs[-1].eq(un.accs[0])]
        with m.If(o.valid & o.ready & out.last):
            m.d.sync += [phase.eq(RUN), sent.eq(0)] + [un.state.eq(Q) for un in units]
