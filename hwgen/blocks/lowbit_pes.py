"""Single-cycle low-bit PEs without general multipliers: ternary, OliVe outlier-victim, MixPE.

All three take one beat of ``lanes`` activations per cycle (II = 1), sum the
lane products through an exact adder tree and accumulate until ``last``;
the result is valid ``latency`` cycles after the ``last`` beat is taken
(input register, accumulator, output register). A full output register that
nobody takes stalls the PE.

* :class:`TernaryPEConfig` — weights in {−1, 0, +1} (2-bit codes ``00`` 0,
  ``01`` +1, ``11`` −1, ``10`` 0): add, subtract or skip. ``y = Σ a·w``.
* :class:`OliveMACConfig` — weights in OliVe outlier-victim pairs (one byte
  per pair of lanes): each nibble decodes to ``(mantissa, shift)``; the MAC
  accumulates ``(a · mantissa) << shift``. ``y = Σ a·w`` with ``w`` decoded.
* :class:`MixPEConfig` — 2..4-bit weights times 8/16-bit activations by
  shift-and-add, exact group sums, dequantization once per group:
  ``y = Σ_g s_g · (Σ_{k∈g} q_k·a_k − z_g · Σ_{k∈g} a_k)`` with an 8-bit scale
  ``s_g`` and, for asymmetric (unsigned) weights, a zero point ``z_g``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..arith import kept_adder_tree
from ..config import BlockConfig, Timing, check_range, param
from ..errors import ConfigError
from ..lowbit import OLIVE_ID, olive_decode_nibble, olive_encode
from ..numtype import Int, NumType, UInt
from ..sim.stimuli import biased
from ..sim.vectors import StreamVectors

LATENCY = 2


def _ends(last) -> np.ndarray:
    return np.flatnonzero(np.asarray(last))


class _SumPE(wiring.Component):
    """Shared datapath: input register -> lane values -> adder tree -> accumulate until ``last``.

    Subclasses give the beat layout and :meth:`lane_values` (exact lane products
    from the registered beat). Group-level work (MixPE) hooks :meth:`accumulate`.
    """

    def __init__(self, config, beat: data.StructLayout, out_shape):
        self.config = config
        super().__init__({"i": In(stream.Signature(beat)), "o": Out(stream.Signature(out_shape))})

    def lane_values(self, m: Module, beat) -> list[Value]:
        raise NotImplementedError

    def accumulate(self, m: Module, beat, valid: Value, advance: Value) -> tuple[Value, Value]:
        """Default: ``acc = (first ? 0 : acc) + Σ lanes``; returns ``(result value, result valid)``."""
        total, _ = kept_adder_tree(m, "lanes", self.lane_values(m, beat))
        acc_t = self.config.acc
        acc = Signal(acc_t.shape, reset_less=True)
        first = Signal(init=1)
        new = Signal(acc_t.shape)
        m.d.comb += new.eq(Mux(first, 0, acc) + total)
        with m.If(advance & valid):
            m.d.sync += [acc.eq(new), first.eq(beat.last)]
        return new, valid & beat.last

    def elaborate(self, platform) -> Module:
        m = Module()
        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance)]
        beat = Signal(self.i.p.shape(), reset_less=True)
        valid = Signal()
        with m.If(advance):
            m.d.sync += [beat.eq(self.i.p), valid.eq(self.i.valid)]
        value, done = self.accumulate(m, beat, valid, advance)
        out = Signal(self.o.p.shape(), reset_less=True)
        with m.If(advance):
            m.d.sync += [self.o.valid.eq(done), out.eq(value)]
        m.d.comb += self.o.payload.eq(out)
        return m


# ----------------------------------------------------------------------------- ternary
@dataclass(frozen=True, kw_only=True)
class TernaryPEConfig(BlockConfig):
    """Parameters of the ternary (MatMul-free) PE."""

    block_name: ClassVar[str] = "ternary_pe"
    summary: ClassVar[str] = "ternary PE for MatMul-free layers: weights in {-1, 0, +1}, add/subtract/skip"

    lanes: int = param(8, "weights per beat", "1..64")
    act: NumType = param(Int(8), "activation type", "Int/UInt of 2..32 bits")
    acc: NumType = param(Int(24), "accumulator type (must hold max_len beats exactly)", "Int up to 64 bits")
    max_len: int = param(1024, "most beats per output (for the exactness check)", "1..16777216")

    def validate(self) -> None:
        check_range(self.where("lanes"), self.lanes, 1, 64)
        check_range(self.where("max_len"), self.max_len, 1, 1 << 24)
        if self.act.frac or not 2 <= self.act.width <= 32:
            raise ConfigError(self.where("act"), f"{self.act}: integers of 2..32 bits")
        need = self.act.sum_of(self.lanes * self.max_len)
        bound = NumType.fitting(-max(abs(need.min), abs(need.max)), max(abs(need.min), abs(need.max)))
        if not self.acc.holds(bound.min, bound.max):
            raise ConfigError(
                self.where("acc"),
                f"{self.acc} cannot hold the sum of {self.lanes * self.max_len} "
                f"±{self.act} terms; need ≥ {bound.width} bits",
            )

    def component(self):
        return TernaryPE(self)

    def timing(self) -> Timing:
        return Timing(latency=LATENCY, ii=1, ops_per_beat=self.lanes, notes="one beat per cycle, no multiplier")

    def model(self, a, w, last) -> np.ndarray:
        a = self.act.array(a).reshape(-1, self.lanes).astype(object)
        w = np.asarray(w, dtype=np.int64).reshape(-1, self.lanes)
        if ((w < 0) | (w > 3)).any():
            raise ConfigError("w", "ternary codes are 2-bit (00 0, 01 +1, 11 -1, 10 0)")
        val = np.array([0, 1, 0, -1], dtype=object)[w]
        return _accumulate((a * val).sum(axis=1), last, self.acc)

    def stimulus(self, rng, n: int = 1000, *, corners: bool = True) -> StreamVectors:
        L = self.lanes
        seqs = []
        if corners:
            for av in (self.act.min, self.act.max):
                for code in (1, 3, 0, 2):
                    seqs.append((np.full((3, L), av), np.full((3, L), code)))
            k = min(self.max_len, 256)
            seqs.append((np.full((k, L), self.act.min), np.full((k, L), 3)))
        for _ in range(n):
            k = int(rng.integers(1, 9))
            seqs.append((biased(rng, self.act, (k, L)), rng.integers(0, 4, (k, L))))
        return _vectors(
            self, seqs, ["every code × extreme activations", f"min × -1 over {min(self.max_len, 256)} beats"]
        )


class TernaryPE(_SumPE):
    def __init__(self, config: TernaryPEConfig):
        beat = data.StructLayout(
            {"a": data.ArrayLayout(config.act.shape, config.lanes), "w": data.ArrayLayout(2, config.lanes), "last": 1}
        )
        super().__init__(config, beat, config.acc.shape)

    def lane_values(self, m, beat):
        return [Mux(beat.w[k] == 1, beat.a[k], Mux(beat.w[k] == 3, -beat.a[k], 0)) for k in range(self.config.lanes)]


# ----------------------------------------------------------------------------- OliVe
@dataclass(frozen=True, kw_only=True)
class OliveMACConfig(BlockConfig):
    """Parameters of the OliVe outlier-victim decoder + MAC."""

    block_name: ClassVar[str] = "olive_mac"
    summary: ClassVar[str] = "OliVe decoder + MAC: 8-bit outlier-victim pairs -> (mantissa, shift), acc += (a·m) << s"

    pairs: int = param(4, "weight pairs (bytes) per beat; lanes = 2·pairs", "1..32")
    act: NumType = param(Int(8), "activation type", "Int/UInt of 2..16 bits")
    acc: NumType = param(Int(32), "accumulator type (must hold max_len beats exactly)", "Int up to 64 bits")
    max_len: int = param(1024, "most beats per output (for the exactness check)", "1..16777216")

    @property
    def lanes(self) -> int:
        return 2 * self.pairs

    def validate(self) -> None:
        check_range(self.where("pairs"), self.pairs, 1, 32)
        check_range(self.where("max_len"), self.max_len, 1, 1 << 24)
        if self.act.frac or not 2 <= self.act.width <= 16:
            raise ConfigError(self.where("act"), f"{self.act}: integers of 2..16 bits")
        amax = max(abs(self.act.min), abs(self.act.max))
        bound = 96 * amax * self.lanes * self.max_len  # |value| <= 96 per element (abfloat max)
        if not self.acc.holds(-bound, bound):
            raise ConfigError(
                self.where("acc"),
                f"{self.acc} cannot hold {self.lanes * self.max_len} products of "
                f"{self.act} × OliVe values up to ±96; need ≥ "
                f"{NumType.fitting(-bound, bound).width} bits",
            )

    def component(self):
        return OliveMAC(self)

    def timing(self) -> Timing:
        return Timing(latency=LATENCY, ii=1, ops_per_beat=self.lanes, notes="one beat (pairs bytes) per cycle")

    def model(self, a, pair, last) -> np.ndarray:
        a = self.act.array(a).reshape(-1, self.lanes).astype(object)
        pair = np.asarray(pair, dtype=np.int64).reshape(-1, self.pairs)
        vals = np.zeros(a.shape, dtype=object)
        for b in range(len(pair)):
            for p in range(self.pairs):
                lo, hi = int(pair[b, p]) & 0xF, int(pair[b, p]) >> 4
                for k, (nib, other) in enumerate(((lo, hi), (hi, lo))):
                    mant, sh = olive_decode_nibble(nib, other)
                    vals[b, 2 * p + k] = mant << sh
        return _accumulate((a * vals).sum(axis=1), last, self.acc)

    def stimulus(self, rng, n: int = 1000, *, corners: bool = True) -> StreamVectors:
        P, L = self.pairs, self.lanes
        seqs, names = [], []
        if corners:
            every = np.arange(256)  # every byte, including both-1000 and 0000 codes
            nb = -(-256 // P)
            codes = np.resize(every, nb * P).reshape(nb, P)
            for av in (self.act.min, self.act.max):
                seqs.append((np.full((nb, L), av), codes))
            names.append("every pair byte × extreme activations")
        for _ in range(n):
            k = int(rng.integers(1, 9))
            q = rng.integers(-7, 8, (k, L))
            out = rng.random((k, L)) < 0.08  # ~8 % outliers, up to ±96
            q = np.where(out, rng.choice([12, 16, 24, 32, 48, 64, 96, -12, -16, -24, -32, -48, -64, -96], (k, L)), q)
            seqs.append((biased(rng, self.act, (k, L)), olive_encode(q).reshape(k, P)))
        return _vectors(self, seqs, names + ["random INT4 with ~8 % abfloat outliers"])


class OliveMAC(_SumPE):
    def __init__(self, config: OliveMACConfig):
        beat = data.StructLayout(
            {
                "a": data.ArrayLayout(config.act.shape, config.lanes),
                "pair": data.ArrayLayout(8, config.pairs),
                "last": 1,
            }
        )
        super().__init__(config, beat, config.acc.shape)

    def lane_values(self, m, beat):
        vals = []
        for p in range(self.config.pairs):
            lo, hi = beat.pair[p][:4], beat.pair[p][4:]
            for k, (nib, other) in enumerate(((lo, hi), (hi, lo))):
                a = beat.a[2 * p + k]
                # decoder: (mantissa, shift) — victim 0; outlier abfloat s|e1e0|m -> ±(2+m) << (e+2); else INT4
                outlier = other == OLIVE_ID
                victim = nib == OLIVE_ID
                ab_mant = Mux(nib[3], -(2 + nib[0]), 2 + nib[0])
                mant = Signal(range(-8, 8), name=f"mant{2 * p + k}")
                shift = Signal(range(6), name=f"shift{2 * p + k}")
                m.d.comb += [
                    mant.eq(Mux(victim, 0, Mux(outlier, ab_mant, nib.as_signed()))),
                    shift.eq(Mux(outlier & ~victim, nib[1:3] + 2, 0)),
                ]
                vals.append((a * mant) << shift)
        return vals


# ----------------------------------------------------------------------------- MixPE
@dataclass(frozen=True, kw_only=True)
class MixPEConfig(BlockConfig):
    """Parameters of the MixPE shift-and-add PE with group dequantization."""

    block_name: ClassVar[str] = "mixpe"
    summary: ClassVar[str] = (
        "MixPE: 2-4-bit weights × 8/16-bit activations by shift-and-add, exact group sums, "
        "scale and zero-point correction once per group"
    )

    lanes: int = param(8, "weights per beat", "1..64")
    weight_bits: int = param(4, "weight bits", "2..4")
    asymmetric: bool = param(
        False, "unsigned weights with a per-group zero point (else signed, zero point 0)", "true | false"
    )
    act: NumType = param(Int(8), "activation type", "Int(8) or Int(16) (any 2..16-bit integer)")
    scale_bits: int = param(8, "bits of the per-group scale", "1..16")
    max_group: int = param(128, "most weights in one group", "1..65536")
    max_groups: int = param(64, "most groups per output", "1..65536")

    @property
    def weight(self) -> NumType:
        return UInt(self.weight_bits) if self.asymmetric else Int(self.weight_bits)

    @property
    def group_qa_type(self) -> NumType:
        return self.act.product(self.weight).sum_of(self.max_group)

    @property
    def group_a_type(self) -> NumType:
        return self.act.sum_of(self.max_group)

    @property
    def corrected_type(self) -> NumType:
        z = UInt(self.weight_bits) if self.asymmetric else Int(2)
        qa, sa = self.group_qa_type, self.group_a_type
        lo = qa.min - max(abs(sa.min), abs(sa.max)) * z.max
        hi = qa.max + max(abs(sa.min), abs(sa.max)) * z.max
        return NumType.fitting(lo, hi)

    @property
    def acc(self) -> NumType:
        c = self.corrected_type
        top = (1 << self.scale_bits) - 1
        return NumType.fitting(c.min * top * self.max_groups, c.max * top * self.max_groups)

    def validate(self) -> None:
        check_range(self.where("lanes"), self.lanes, 1, 64)
        check_range(self.where("weight_bits"), self.weight_bits, 2, 4)
        check_range(self.where("scale_bits"), self.scale_bits, 1, 16)
        check_range(self.where("max_group"), self.max_group, 1, 1 << 16)
        check_range(self.where("max_groups"), self.max_groups, 1, 1 << 16)
        if self.act.frac or not 2 <= self.act.width <= 16:
            raise ConfigError(self.where("act"), f"{self.act}: integers of 2..16 bits (MixPE uses 8 or 16)")

    def component(self):
        return MixPE(self)

    def timing(self) -> Timing:
        return Timing(
            latency=LATENCY + 1,
            ii=1,
            ops_per_beat=self.lanes,
            notes="one beat per cycle; group dequantization pipelined (one multiplier per group end)",
        )

    def model(self, a, q, scale, zero, group_last, last) -> np.ndarray:
        L = self.lanes
        a = self.act.array(a).reshape(-1, L).astype(object)
        q = self.weight.array(q).reshape(-1, L).astype(object)
        scale = np.asarray(scale, dtype=np.int64).reshape(-1)
        zero = np.asarray(zero, dtype=np.int64).reshape(-1)
        if (scale < 0).any() or (scale >> self.scale_bits).any():
            raise ConfigError("scale", f"scales are {self.scale_bits}-bit unsigned")
        if not self.asymmetric and zero.any():
            raise ConfigError("zero", "symmetric (signed) weights have zero point 0; set asymmetric=True")
        if ((zero < 0) | (zero >= 1 << self.weight_bits)).any():
            raise ConfigError("zero", f"zero points are {self.weight_bits}-bit unsigned")
        out, total, sqa, sa = [], 0, 0, 0
        gl = np.asarray(group_last).astype(bool)
        la = np.asarray(last).astype(bool)
        for b in range(len(a)):
            sqa += int((a[b] * q[b]).sum())
            sa += int(a[b].sum())
            if gl[b] or la[b]:
                total += int(scale[b]) * (sqa - int(zero[b]) * sa)
                sqa = sa = 0
            if la[b]:
                out.append(total)
                total = 0
        return np.array(out, dtype=self.acc.dtype())

    def stimulus(self, rng, n: int = 1000, *, corners: bool = True) -> StreamVectors:
        L, W = self.lanes, self.weight
        top = (1 << self.scale_bits) - 1
        zmax = (1 << self.weight_bits) - 1 if self.asymmetric else 0
        beats = {k: [] for k in ("a", "q", "scale", "zero", "group_last", "last")}

        def group(nb, a=None, q=None, scale=None, zero=None, last=False):
            s = int(rng.integers(0, top + 1)) if scale is None else scale
            z = int(rng.integers(0, zmax + 1)) if zero is None else zero
            for b in range(nb):
                beats["a"].append(biased(rng, self.act, L) if a is None else np.full(L, a))
                beats["q"].append(rng.integers(W.min, W.max + 1, L) if q is None else np.full(L, q))
                beats["scale"].append(s)
                beats["zero"].append(z)
                beats["group_last"].append(int(b == nb - 1))
                beats["last"].append(int(last and b == nb - 1))

        names = []
        if corners:
            for av in (self.act.min, self.act.max):
                for qv in (W.min, W.max, 0):
                    group(2, av, qv, top, zmax, last=True)
            names.append("extreme activations × extreme weights, max scale and zero point")
            k = max(1, min(self.max_group // L, 16))
            group(k, self.act.min, W.min, top, zmax, last=True)
            names.append(f"min × min group of {k} beats")
        groups = 0
        while groups < n:
            for _ in range(int(rng.integers(1, 4))):
                group(int(rng.integers(1, max(1, min(self.max_group // L, 6)) + 1)))
                groups += 1
            beats["last"][-1] = 1
        arr = {k: np.array(v) for k, v in beats.items()}
        y = self.model(arr["a"], arr["q"], arr["scale"], arr["zero"], arr["group_last"], arr["last"])
        return StreamVectors(
            inputs={"i": arr},
            expected={"o": y},
            triggers={"o": ("i", _ends(arr["last"]))},
            corners=names + ["random groups, scales and zero points"],
        )


class MixPE(_SumPE):
    def __init__(self, config: MixPEConfig):
        L = config.lanes
        beat = data.StructLayout(
            {
                "a": data.ArrayLayout(config.act.shape, L),
                "q": data.ArrayLayout(config.weight.shape, L),
                "scale": config.scale_bits,
                "zero": config.weight_bits,
                "group_last": 1,
                "last": 1,
            }
        )
        super().__init__(config, beat, config.acc.shape)

    def lane_values(self, m, beat):
        """``q·a`` by shift-and-add: Σ q_i (a << i), the top bit negative for signed weights."""
        cfg = self.config
        out = []
        for k in range(cfg.lanes):
            a, q = beat.a[k], beat.q[k]
            terms = [Mux(q[i], a << i, 0) for i in range(cfg.weight_bits)]
            if not cfg.asymmetric:
                terms[-1] = -terms[-1]
            out.append(kept_adder_tree(m, f"lane{k}", terms)[0])
        return out

    def accumulate(self, m, beat, valid, advance):
        cfg = self.config
        qa, _ = kept_adder_tree(m, "qa", self.lane_values(m, beat))
        sa, _ = kept_adder_tree(m, "sa", [beat.a[k] for k in range(cfg.lanes)])
        g_qa = Signal(cfg.group_qa_type.shape, reset_less=True)
        g_a = Signal(cfg.group_a_type.shape, reset_less=True)
        first = Signal(init=1)
        new_qa, new_a = Signal.like(g_qa), Signal.like(g_a)
        m.d.comb += [new_qa.eq(Mux(first, 0, g_qa) + qa), new_a.eq(Mux(first, 0, g_a) + sa)]
        ends = beat.group_last | beat.last
        # stage 2: corrected group sum and its scale, registered; stage 3: multiply and add to the total
        corr = Signal(cfg.corrected_type.shape, reset_less=True)
        corr_scale = Signal(cfg.scale_bits, reset_less=True)
        corr_valid, corr_last = Signal(), Signal()
        total = Signal(cfg.acc.shape, reset_less=True)
        tfirst = Signal(init=1)
        with m.If(advance):
            m.d.sync += [corr_valid.eq(valid & ends), corr_last.eq(valid & beat.last)]
            with m.If(valid):
                m.d.sync += [
                    g_qa.eq(new_qa),
                    g_a.eq(new_a),
                    first.eq(ends),
                    corr.eq(new_qa - new_a * beat.zero),
                    corr_scale.eq(beat.scale),
                ]
        new_total = Signal(cfg.acc.shape)
        m.d.comb += new_total.eq(Mux(tfirst, 0, total) + corr * corr_scale)
        with m.If(advance & corr_valid):
            m.d.sync += [total.eq(new_total), tfirst.eq(corr_last)]
        return new_total, corr_valid & corr_last


def _accumulate(sums, last, acc: NumType) -> np.ndarray:
    out, s = [], 0
    for v, end in zip(sums, np.asarray(last).astype(bool)):
        s += int(v)
        if end:
            out.append(s)
            s = 0
    return np.array(out, dtype=acc.dtype())


def _vectors(cfg, seqs, names) -> StreamVectors:
    a = np.concatenate([s[0] for s in seqs])
    w = np.concatenate([s[1] for s in seqs])
    last = np.zeros(len(a), dtype=np.int64)
    last[np.cumsum([len(s[0]) for s in seqs]) - 1] = 1
    key = "pair" if isinstance(cfg, OliveMACConfig) else "w"
    y = cfg.model(a, w, last)
    return StreamVectors(
        inputs={"i": {"a": a, key: w, "last": last}},
        expected={"o": y},
        triggers={"o": ("i", _ends(last))},
        corners=names,
    )
