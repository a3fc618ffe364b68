"""BitMoD bit-serial PE hardware: digit decoders, lane muxes, Horner beat sums, group dequantizers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...arith import kept_adder_tree
from ...pipeline import delay, register, valid_delay

if TYPE_CHECKING:
    from .config import BitSerialPEConfig


class BitSerialPE(wiring.Component):
    """The bit-serial PE array hardware; see the module docstring."""

    def __init__(self, config: BitSerialPEConfig):
        self.config = cfg = config
        R, L = cfg.rows, cfg.lanes
        beat = data.StructLayout(
            {
                "a": data.ArrayLayout(cfg.act.shape, L),
                "code": data.ArrayLayout(data.ArrayLayout(cfg.code_bits, L), R),
                "fmt": data.ArrayLayout(cfg.fmt_bits, R),
                "scale": data.ArrayLayout(cfg.scale_bits, R),
                "group_last": 1,
                "last": 1,
            }
        )
        super().__init__(
            {"i": In(stream.Signature(beat)), "o": Out(stream.Signature(data.ArrayLayout(cfg.total_type.shape, R)))}
        )

    def elaborate(self, platform: object) -> Module:
        cfg = self.config
        R, D, P = cfg.rows, cfg.dequant_cycles, cfg.pipeline
        m = Module()
        advance = Signal()
        m.d.comb += advance.eq(~self.o.valid | self.o.ready)

        # ---- the beat being processed and its digit counter (counts down: digit t has weight 4^t)
        cur = Signal(self.i.p.shape(), reset_less=True)
        cur_valid = Signal()
        t = Signal(range(max(d.cycles for d in cfg.dts)), name="digit")
        on_last_term = cur_valid & (t == 0)
        ends_group = cur.group_last | cur.last

        # ---- the front's dequantizer counter decides when a group may end (the back end's is the same,
        # ``P`` advancing cycles later)
        dq_busy, dq_last_front = Signal(range(D + 1), name="dq_busy"), Signal(name="dq_last")
        dq_free = (dq_busy == 0) | (dq_busy == 1)  # free, or finishing this cycle
        moves = cur_valid & ~(on_last_term & ends_group & ~dq_free)  # a term is applied (when advancing)
        step = moves & advance
        finish = step & on_last_term
        handoff = finish & ends_group
        m.d.comb += self.i.ready.eq(advance & (~cur_valid | finish))
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [cur.eq(self.i.p), cur_valid.eq(1), t.eq(self._beat_cycles(m, self.i.p.fmt) - 1)]
        with m.Elif(finish):
            m.d.sync += cur_valid.eq(0)
        with m.Elif(step):
            m.d.sync += t.eq(t - 1)
        self._count_dequant(m, dq_busy, dq_last_front, handoff, cur.last, advance)

        # ---- the back end (adder trees on, accumulators, dequantizers, output) sees the front's control
        # P advancing cycles later, through the same registers as the lane terms and tree sums
        late = lambda v, name: delay(m, v, P, advance, name)  # noqa: E731
        b_step = valid_delay(m, moves, P, advance, "step_p") & advance
        b_last_term = late(on_last_term, "last_term_p")
        b_finish = b_step & b_last_term
        b_handoff = b_finish & late(ends_group, "ends_group_p")
        if P:
            b_busy, b_last = Signal(range(D + 1), name="dq_busy_p"), Signal(name="dq_last_p")
            self._count_dequant(m, b_busy, b_last, b_handoff, late(cur.last, "row_last_p"), advance)
        else:
            b_busy, b_last = dq_busy, dq_last_front
        back = (b_step, b_finish, b_handoff, b_last_term)
        results = []
        for r in range(R):
            group_new = self._group_sum(m, r, cur, t, back, advance)
            dq = (b_busy, b_last, b_handoff, advance)
            results.append(self._dequantizer(m, r, group_new, late(cur.scale[r], f"scale_r{r}_p"), dq))

        # ---- output
        emit = advance & (b_busy == 1) & b_last
        out = Signal(self.o.p.shape(), reset_less=True)
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(emit):
            m.d.sync += [self.o.valid.eq(1)] + [out[r].eq(results[r]) for r in range(R)]
        m.d.comb += self.o.payload.eq(out)
        return m

    def _count_dequant(
        self, m: Module, busy: Signal, last: Signal, handoff: Value, row_last: Value, advance: Value
    ) -> None:
        """``busy``: the dequantizer's cycles left (``D`` from a hand-off); ``last``: its group ends the output row."""
        with m.If(handoff):
            m.d.sync += [busy.eq(self.config.dequant_cycles), last.eq(row_last)]
        with m.Elif(advance & (busy > 0)):
            m.d.sync += busy.eq(busy - 1)

    def _group_sum(self, m: Module, r: int, cur: Value, t: Value, back: tuple, advance: Value) -> Signal:
        """Row ``r``: lane digits -> adder tree -> Horner beat sum -> group accumulator; returns the group
        sum including this beat (``group_new_r<r>``). ``pipeline`` ≥ 1 registers the lane terms, 2 also the
        tree's sum; ``back`` is the back end's (step, finish, handoff, on_last_term), delayed to match."""
        cfg = self.config
        step, finish, handoff, on_last_term = back
        terms, negs = [], []
        for ln in range(cfg.lanes):
            mult, neg = self._lane_digit(m, f"r{r}_l{ln}", t, cur.code[r][ln], cur.fmt[r])
            a = cur.a[ln]
            mag = Signal(signed(cfg.act.width + 3), name=f"mag_r{r}_l{ln}")
            m.d.comb += mag.eq(Mux(mult[1], Mux(mult[0], a << 2, a << 1), Mux(mult[0], a, 0)))
            term = Mux(neg, ~mag, mag)  # ~mag = -mag - 1: the 1 comes back as a carry
            terms.append(delay(m, term, min(cfg.pipeline, 1), advance, f"term_r{r}_l{ln}"))
            negs.append(delay(m, neg, min(cfg.pipeline, 1), advance, f"neg_r{r}_l{ln}"))
        tree, carry = kept_adder_tree(m, f"tree_r{r}", terms, negs)
        if cfg.pipeline >= 2:
            tree, carry = register(m, tree + carry, advance, f"tree_sum_r{r}"), 0
        beat_acc = Signal(cfg.beat_type.shape, name=f"beat_r{r}", reset_less=True)
        beat_new = Signal(cfg.beat_type.shape, name=f"beat_new_r{r}")
        m.d.comb += beat_new.eq((beat_acc << 2) + tree + carry)
        with m.If(step):
            m.d.sync += beat_acc.eq(Mux(on_last_term, 0, beat_new))
        group_acc = Signal(cfg.group_type.shape, name=f"group_r{r}", reset_less=True)
        group_new = Signal(cfg.group_type.shape, name=f"group_new_r{r}")
        m.d.comb += group_new.eq(group_acc + beat_new)
        with m.If(finish):
            m.d.sync += group_acc.eq(Mux(handoff, 0, group_new))
        return group_new

    def _dequantizer(self, m: Module, r: int, group_new: Value, scale: Value, dq: tuple) -> Signal:
        """Row ``r``'s dequantizer, ``total += group_sum · scale``: bit-serial over the scale (LSB first,
        straight into the total) or one multiplier; returns the next total (``total_new_r<r>``)."""
        cfg = self.config
        dq_busy, dq_last, handoff, advance = dq
        total = Signal(cfg.total_type.shape, name=f"total_r{r}", reset_less=True)
        dq_scale = Signal(cfg.scale_bits, name=f"dq_scale_r{r}", reset_less=True)
        new_total = Signal(cfg.total_type.shape, name=f"total_new_r{r}")
        if cfg.dequant == "serial":
            # cycle i adds (scale bit i) · group_sum · 2^i
            dq_sum = Signal(signed(cfg.group_type.width + cfg.scale_bits), name=f"dq_sum_r{r}", reset_less=True)
            m.d.comb += new_total.eq(total + Mux(dq_scale[0], dq_sum, 0))
            with m.If(advance & (dq_busy > 0)):
                m.d.sync += [
                    dq_sum.eq(dq_sum << 1),
                    dq_scale.eq(dq_scale >> 1),
                    total.eq(Mux(dq_last & (dq_busy == 1), 0, new_total)),
                ]
        else:
            dq_sum = Signal(cfg.group_type.shape, name=f"dq_sum_r{r}", reset_less=True)
            m.d.comb += new_total.eq(total + dq_sum * dq_scale)
            with m.If(advance & (dq_busy == 1)):
                m.d.sync += total.eq(Mux(dq_last, 0, new_total))
        with m.If(handoff):
            m.d.sync += [dq_sum.eq(group_new), dq_scale.eq(scale)]
        return new_total

    def _beat_cycles(self, m: Module, fmts: Value) -> Value:
        """Cycles of a beat whose rows have formats ``fmts``: the most over its rows."""
        cfg = self.config
        per_row = []
        for r in range(cfg.rows):
            c = Signal(range(max(d.cycles for d in cfg.dts) + 1), name=f"cycles_in_r{r}")
            with m.Switch(fmts[r]):
                for f, dt in enumerate(cfg.dts):
                    with m.Case(f):
                        m.d.comb += c.eq(dt.cycles)
                with m.Default():
                    m.d.comb += c.eq(cfg.dts[0].cycles)
            per_row.append(c)
        mx: Value = per_row[0]
        for c in per_row[1:]:
            mx = Mux(c > mx, c, mx)
        return mx

    def _lane_digit(self, m: Module, name: str, t: Value, code: Value, fmt: Value) -> tuple[Signal, Signal]:
        """Digit ``t`` of one weight (:meth:`hwgen.lowbit.Datatype.digits`) as a multiple (0: none, 1: ×1,
        2: ×2, 3: ×4) and a sign; codes outside a format's width and digits past its cycles are 0."""
        cfg = self.config
        mult = Signal(2, name=f"mult_{name}")
        neg = Signal(name=f"neg_{name}")
        with m.Switch(Cat(t, code, fmt)):
            for f, dt in enumerate(cfg.dts):
                for c in range(1 << dt.bits):
                    for k, d in enumerate(dt.digits(c)):
                        if d:
                            key = k | (c << len(t)) | (f << (len(t) + cfg.code_bits))
                            with m.Case(key):
                                m.d.comb += [mult.eq({1: 1, 2: 2, 4: 3}[abs(d)]), neg.eq(d < 0)]
            with m.Default():
                m.d.comb += [mult.eq(0), neg.eq(0)]
        return mult, neg
