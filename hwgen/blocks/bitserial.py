"""BitMoD bit-serial PE: mixed low-bit weight formats as shift-add terms, one term per cycle.

``rows`` PEs share one stream of activation beats (an array of PEs for a
matrix-vector product); each has ``lanes`` lanes. A beat carries ``lanes``
activations, and for every row ``lanes`` weight codes, the row's group
format (an index into ``formats``) and its 8-bit group scale. Every weight
is processed as its format's base-4 digits (:meth:`hwgen.lowbit.Datatype.digits`),
one per cycle, most significant first: radix-4 Booth digits for ``INT{b}``
(``ceil(b/2)`` cycles), two digits for FP4/FP3/FLINT4 and their special
values, one for ternary. The format is decoded per group at run time, so
switching formats between groups costs nothing.

Datapath per row and cycle: every lane turns its digit ``d ∈ {0, ±1, ±2, ±4}``
into ``a·|d|`` (a 3:1 mux of ``a``, ``a<<1``, ``a<<2``) and, for ``d < 0``,
inverts it; the ``+1`` of each negation enters the adder tree as a carry-in.
The lane sums are combined by Horner's rule, ``beat = 4·beat + Σ_lanes d·a``,
so the shift by ``4^k`` is one wire shift shared by all lanes, and the beat
sum is added to the group accumulator on the beat's last digit.

Semantics (exact integers, no truncation anywhere)::

    group_sum[r] = Σ_beats Σ_lanes a · value(code)              # Σ of terms, exactly
    total[r]    += group_sum[r] · scale[r]                      # on the group's last beat
    y[r]         = total[r]                                     # on the row's last beat, then 0

``y`` is in units of the per-channel scale ``s_ch`` of the second-level
scale quantization (``weight ≈ value · scale_q · s_ch``).

Timing: a beat takes ``T = max over rows of cycles(format)`` cycles; the next
beat is taken in the cycle the current one applies its last term. At a
group's last beat the group sum is handed to the dequantizer — bit-serial
over the 8 scale bits (LSB first, straight into the total:
``total += bit_i ? sum·2^i : 0``, 8 cycles) or one multiplier (1 cycle) —
and a group may end only when the dequantizer is free. ``y`` is valid ``D + 1`` cycles after the
hand-off (``D`` = 8 or 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..arith import kept_adder_tree
from ..config import BlockConfig, Timing, check_range, param
from ..errors import ConfigError
from ..lowbit import BITMOD_FP4, DATATYPES, Datatype
from ..numtype import Int, NumType
from ..sim.stimuli import biased
from ..sim.vectors import StreamVectors

Dequant = Literal["serial", "multiplier"]


@dataclass(frozen=True, kw_only=True)
class BitSerialPEConfig(BlockConfig):
    """Parameters of the BitMoD bit-serial PE (array)."""

    block_name: ClassVar[str] = "bitserial_pe"
    summary: ClassVar[str] = (
        "BitMoD bit-serial PE: weights of mixed low-bit formats (FP4/FP3 with special "
        "values, INT2-8 by Booth, FLINT4) as shift-add terms, group dequantization"
    )

    lanes: int = param(4, "weights per row per beat", "1..16")
    rows: int = param(1, "PEs (output rows) sharing each activation beat", "1..16")
    formats: tuple[str, ...] = param(
        BITMOD_FP4, "weight formats selectable per group (format id = index)", "1..4 of " + ", ".join(DATATYPES)
    )
    act: NumType = param(Int(8), "activation type", "Int/UInt of 2..16 bits")
    scale_bits: int = param(8, "bits of the quantized group scale", "1..16")
    dequant: Dequant = param(
        "serial", "group dequantizer: bit-serial over the scale or one multiplier", "serial | multiplier"
    )
    max_group: int = param(128, "most weights per row in one group (sizes the group accumulator)", "1..65536")
    max_groups: int = param(64, "most groups per output (sizes the total)", "1..65536")

    @property
    def dts(self) -> list[Datatype]:
        return [DATATYPES[f.upper()] for f in self.formats]

    @property
    def code_bits(self) -> int:
        return max(d.bits for d in self.dts)

    @property
    def fmt_bits(self) -> int:
        return max(1, (len(self.formats) - 1).bit_length())

    @property
    def max_shift(self) -> int:
        return max(sh for d in self.dts for c in range(1 << d.bits) for _, sh in d.terms(c))

    @property
    def beat_type(self) -> NumType:
        """The per-beat Horner sum ``Σ_k 4^k·Σ_lanes d_k·a``: bounded by ``lanes·max|a|·max Σ_k|d_k|·4^k``."""
        amax = max(abs(self.act.min), abs(self.act.max))
        dmax = max(sum(abs(x) * 4**k for k, x in enumerate(d.digits(c))) for d in self.dts for c in range(1 << d.bits))
        return NumType.fitting(-self.lanes * amax * dmax, self.lanes * amax * dmax)

    @property
    def group_type(self) -> NumType:
        vmax = max(int(np.abs(d.grid).max()) for d in self.dts)
        amax = max(abs(self.act.min), abs(self.act.max))
        return NumType.fitting(-self.max_group * amax * vmax, self.max_group * amax * vmax)

    @property
    def total_type(self) -> NumType:
        g = self.group_type
        top = (1 << self.scale_bits) - 1
        return NumType.fitting(g.min * top * self.max_groups, g.max * top * self.max_groups)

    @property
    def dequant_cycles(self) -> int:
        return self.scale_bits if self.dequant == "serial" else 1

    def cycles_per_beat(self, fmt_ids) -> int:
        return max(self.dts[f].cycles for f in fmt_ids)

    def validate(self) -> None:
        check_range(self.where("lanes"), self.lanes, 1, 16)
        check_range(self.where("rows"), self.rows, 1, 16)
        check_range(self.where("scale_bits"), self.scale_bits, 1, 16)
        check_range(self.where("max_group"), self.max_group, 1, 1 << 16)
        check_range(self.where("max_groups"), self.max_groups, 1, 1 << 16)
        if not 1 <= len(self.formats) <= 4:
            raise ConfigError(
                self.where("formats"), f"{len(self.formats)} formats; a group's format id is 2 bits, so 1..4 formats"
            )
        for f in self.formats:
            if f.upper() not in DATATYPES:
                raise ConfigError(self.where("formats"), f"unknown datatype {f!r}; known: {', '.join(DATATYPES)}")
        if self.act.frac or not 2 <= self.act.width <= 16:
            raise ConfigError(self.where("act"), f"{self.act}: integers of 2..16 bits")

    def component(self) -> BitSerialPE:
        return BitSerialPE(self)

    def timing(self) -> Timing:
        c = [d.cycles for d in self.dts]
        return Timing(
            latency=self.dequant_cycles + 1,
            ii=min(c),
            ops_per_beat=self.lanes * self.rows,
            notes="cycles per beat by format: "
            + ", ".join(f"{d.name} {d.cycles}" for d in self.dts)
            + f"; dequantizer {self.dequant_cycles} cycle(s); y valid {self.dequant_cycles + 1} "
            f"cycles after the last group's last term",
        )

    # ------------------------------------------------------------- models
    def model(self, a, code, fmt, scale, group_last, last) -> np.ndarray:
        """Golden model: ``y [outputs, rows]`` (see the module docstring)."""
        R, L = self.rows, self.lanes
        a = self.act.array(a).reshape(-1, L)
        code = np.asarray(code, dtype=np.int64).reshape(-1, R, L)
        fmt = np.asarray(fmt, dtype=np.int64).reshape(-1, R)
        scale = np.asarray(scale, dtype=np.int64).reshape(-1, R)
        gl = np.asarray(group_last).astype(bool).reshape(-1)
        la = np.asarray(last).astype(bool).reshape(-1)
        if (fmt >= len(self.dts)).any() or (fmt < 0).any():
            raise ConfigError("fmt", f"format id {int(fmt.max())} selects none of {list(self.formats)}")
        if (scale < 0).any() or (scale >= 1 << self.scale_bits).any():
            raise ConfigError("scale", f"group scales are {self.scale_bits}-bit, 0..{(1 << self.scale_bits) - 1}")
        out, group, total = [], [0] * R, [0] * R
        for b in range(len(a)):
            for r in range(R):
                dt = self.dts[fmt[b, r]]
                if (code[b, r] >= 1 << dt.bits).any():
                    raise ConfigError(
                        "code", f"beat {b}, row {r}: code {int(code[b, r].max())} is not a {dt.bits}-bit {dt.name} code"
                    )
                group[r] += int((a[b].astype(object) * dt.decode(code[b, r]).astype(object)).sum())
                if gl[b] or la[b]:
                    total[r] += group[r] * int(scale[b, r])
                    group[r] = 0
            if la[b]:
                out.append(total)
                total = [0] * R
        return np.array(out, dtype=self.total_type.dtype()).reshape(-1, R)

    def schedule(self, fmt, group_last, last) -> tuple[list[int], list[int]]:
        """Cycle model: the cycle each beat is taken and each output becomes valid, at full rate."""
        D = self.dequant_cycles
        accepts, outs = [], []
        c, free_at = 0, 0
        fmt = np.asarray(fmt).reshape(len(last), -1)
        for b in range(len(last)):
            accepts.append(c)
            finish = c + self.cycles_per_beat(fmt[b])
            if group_last[b] or last[b]:
                finish = max(finish, free_at)
                free_at = finish + D
                if last[b]:
                    outs.append(finish + D + 1)
            c = finish
        return accepts, outs

    # ----------------------------------------------------------- stimulus
    def stimulus(self, rng: np.random.Generator, n: int = 1000, *, corners: bool = True) -> StreamVectors:
        """≥ ``n`` random groups (random formats, codes, scales, group sizes), plus corners: every
        code of every format, extreme activations, the special codes, scale 0 and all-ones."""
        R, L = self.rows, self.lanes
        rows: dict[str, list] = {k: [] for k in ("a", "code", "fmt", "scale", "group_last", "last")}
        names = []

        def group(nbeats: int, fmt_r, codes=None, act=None, scale=None, is_last=False):
            for b in range(nbeats):
                av = act if act is not None else biased(rng, self.act, L)
                rows["a"].append(np.broadcast_to(av, (L,)).copy())
                cs = []
                for r in range(R):
                    dt = self.dts[fmt_r[r]]
                    cs.append(codes[r][b] if codes is not None else rng.integers(0, 1 << dt.bits, L))
                rows["code"].append(np.array(cs))
                rows["fmt"].append(np.array(fmt_r))
                sc = scale if scale is not None else rng.integers(0, 1 << self.scale_bits, R)
                rows["scale"].append(np.broadcast_to(sc, (R,)).copy())
                rows["group_last"].append(int(b == nbeats - 1))
                rows["last"].append(int(is_last and b == nbeats - 1))

        if corners:
            top = (1 << self.scale_bits) - 1
            for f, dt in enumerate(self.dts):
                allc = np.arange(1 << dt.bits)
                nb = -(-allc.size // L)
                padded = np.resize(allc, nb * L).reshape(nb, L)
                for av, label in ((self.act.max, "max"), (self.act.min, "min")):
                    group(nb, [f] * R, codes=[padded] * R, act=np.full(L, av), scale=np.full(R, top), is_last=True)
                    names.append(f"{dt.name}: every code × {label} activation, scale {top}")
            group(1, [0] * R, scale=np.zeros(R, dtype=np.int64), is_last=True)
            names.append("scale 0")
        groups = 0
        max_beats = max(1, self.max_group // L)
        while groups < n:
            for _g in range(int(rng.integers(1, 4))):
                fmt_r = rng.integers(0, len(self.dts), R)
                group(int(rng.integers(1, min(max_beats, 6) + 1)), fmt_r, is_last=False)
                groups += 1
            rows["last"][-1] = 1
        names.append("random formats switching between groups")
        arr = {k: np.array(v) for k, v in rows.items()}
        y = self.model(arr["a"], arr["code"], arr["fmt"], arr["scale"], arr["group_last"], arr["last"])
        accepts, outs = self.schedule(arr["fmt"], arr["group_last"], arr["last"])
        return StreamVectors(
            inputs={"i": arr},
            expected={"o": y},
            corners=names,
            schedule={"i": accepts, "o": outs},
            triggers={"o": ("i", np.flatnonzero(arr["last"]))},
        )


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

    def elaborate(self, platform) -> Module:
        cfg = self.config
        R, L, D = cfg.rows, cfg.lanes, cfg.dequant_cycles
        m = Module()
        advance = Signal()
        m.d.comb += advance.eq(~self.o.valid | self.o.ready)

        # ---- the beat being processed and its digit counter (counts down: digit t has weight 4^t)
        cur = Signal(self.i.p.shape(), reset_less=True)
        cur_valid = Signal()
        t = Signal(range(max(d.cycles for d in cfg.dts)), name="digit")
        on_last_term = cur_valid & (t == 0)
        ends_group = cur.group_last | cur.last

        # ---- dequantizer state (shared control, one datapath per row)
        dq_busy = Signal(range(D + 1))
        dq_free = (dq_busy == 0) | (dq_busy == 1)  # free, or finishing this cycle
        step = cur_valid & advance & ~(on_last_term & ends_group & ~dq_free)
        finish = step & on_last_term
        handoff = finish & ends_group
        m.d.comb += self.i.ready.eq(advance & (~cur_valid | finish))
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [cur.eq(self.i.p), cur_valid.eq(1), t.eq(self._beat_cycles(m, self.i.p.fmt) - 1)]
        with m.Elif(finish):
            m.d.sync += cur_valid.eq(0)
        with m.Elif(step):
            m.d.sync += t.eq(t - 1)

        # ---- per row: lane digits -> adder tree -> Horner beat sum -> group accumulator
        dq_last = Signal()  # the group being dequantized ends the output row
        emit = Signal()
        results = []
        for r in range(R):
            terms, negs = [], []
            for ln in range(L):
                mult, neg = self._lane_digit(m, f"r{r}_l{ln}", t, cur.code[r][ln], cur.fmt[r])
                a = cur.a[ln]
                mag = Signal(signed(cfg.act.width + 3), name=f"mag_r{r}_l{ln}")
                m.d.comb += mag.eq(Mux(mult[1], Mux(mult[0], a << 2, a << 1), Mux(mult[0], a, 0)))
                terms.append(Mux(neg, ~mag, mag))  # ~mag = -mag - 1: the 1 comes back as a carry
                negs.append(neg)
            tree, carry = kept_adder_tree(m, f"tree_r{r}", terms, negs)
            beat_acc = Signal(cfg.beat_type.shape, name=f"beat_r{r}", reset_less=True)
            beat_new = Signal(cfg.beat_type.shape, name=f"beat_new_r{r}")
            m.d.comb += beat_new.eq((beat_acc << 2) + tree + carry)
            with m.If(step):
                m.d.sync += beat_acc.eq(Mux(on_last_term, 0, beat_new))
            beat_sum = beat_new
            group_acc = Signal(cfg.group_type.shape, name=f"group_r{r}", reset_less=True)
            group_new = Signal(cfg.group_type.shape, name=f"group_new_r{r}")
            m.d.comb += group_new.eq(group_acc + beat_sum)
            with m.If(finish):
                m.d.sync += group_acc.eq(Mux(handoff, 0, group_new))
            # dequantizer: total += group_sum * scale
            total = Signal(cfg.total_type.shape, name=f"total_r{r}", reset_less=True)
            dq_scale = Signal(cfg.scale_bits, name=f"dq_scale_r{r}", reset_less=True)
            new_total = Signal(cfg.total_type.shape, name=f"total_new_r{r}")
            if cfg.dequant == "serial":
                # LSB first, straight into the total: cycle i adds (scale bit i) · group_sum · 2^i
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
                m.d.sync += [dq_sum.eq(group_new), dq_scale.eq(cur.scale[r])]
            results.append(new_total)

        with m.If(handoff):
            m.d.sync += [dq_busy.eq(D), dq_last.eq(cur.last)]
        with m.Elif(advance & (dq_busy > 0)):
            m.d.sync += dq_busy.eq(dq_busy - 1)
        # ---- output
        m.d.comb += emit.eq(advance & (dq_busy == 1) & dq_last)
        out = Signal(self.o.p.shape(), reset_less=True)
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(emit):
            m.d.sync += [self.o.valid.eq(1)] + [out[r].eq(results[r]) for r in range(R)]
        m.d.comb += self.o.payload.eq(out)
        return m

    def _beat_cycles(self, m: Module, fmts) -> Value:
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
