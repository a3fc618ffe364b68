"""The decode-attention unit's configuration: parameters, golden model, cycle model, estimator features."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from ...config import Arrivals, BlockConfig, CycleModel, Timing, check_range, param
from ...errors import ConfigError
from ...intkernels import ExpTable, attention_output, combine_partials, online_attention
from ...numtype import Int, NumType
from ...structure import Features, TimingPath, add, dsp_tiles, multiplier_path, tree_path
from ...vectors import StreamVectors
from . import testdata
from .hardware import COMBINE_CYCLES, SCORE_CYCLES, DecodeAttention, port_names
from .reference import DecodeAttentionReference

#: Largest exponential table (entries) a configuration may need.
MAX_TABLE = 4096


@dataclass(frozen=True, kw_only=True)
class DecodeAttentionConfig(BlockConfig):
    """Parameters of the decode-attention unit (one query of one head against a streamed KV cache)."""

    block_name: ClassVar[str] = "decode_attention"
    summary: ClassVar[str] = (
        "decode attention over a streamed KV cache: q·Kᵀ, online (running-max) integer softmax, ·V, "
        "one pass over the cache for any length"
    )

    head_dim: int = param(16, "elements of q, of each key and of each value", "2..128, a multiple of lanes")
    lanes: int = param(4, "elements per beat (the q·k multipliers; twice as many for the V update)", "1..16")
    max_kv: int = param(256, "most KV entries one query streams (bounds the sum's and accumulators' widths)",
                        "1..65536")  # fmt: skip
    act: NumType = param(Int(8), "type of q, k and v", "Int of 2..12 bits")
    score_shift: int = param(6, "right shift (floor) of q·k before the softmax", "0..40")
    scale: float = param(0.0625, "real value of one shifted score LSB (the exponential table comes from it)",
                         "(0, ln 2]")  # fmt: skip
    exp_bits: int = param(15, "F: the exponential is a Q(F) fixed-point table, E(0) = 2^F", "4..20")
    out: NumType = param(Int(8), "output type (the weighted mean of the values, in their scale)", "Int of 2..16")
    units: int = param(1, "KV streams (ports i0, i1, ...; i for one), each a unit over its range of the cache, "
                       "their states combined (the Lean Attention split)", "1..8")  # fmt: skip

    # ------------------------------------------------------------- derived
    @property
    def exp(self) -> ExpTable:
        return _table(float(self.scale), self.exp_bits)

    @property
    def beats(self) -> int:
        """Beats per vector (``head_dim / lanes``)."""
        return self.head_dim // self.lanes

    @property
    def dot_bits(self) -> int:
        """Bits of the exact ``q·k`` (signed)."""
        return 2 * self.act.width + (self.head_dim - 1).bit_length()

    @property
    def score_bits(self) -> int:
        """Bits of the shifted score (signed)."""
        return max(self.dot_bits - self.score_shift, 2)

    @property
    def sum_bits(self) -> int:
        """Bits of the running sum ``l ≤ units · max_kv · 2^F`` (unsigned; the combined sum's bound)."""
        return ((self.units * self.max_kv) << self.exp_bits).bit_length()

    @property
    def acc_bits(self) -> int:
        """Bits of an output accumulator (signed): ``|acc| ≤ l · 2^(W−1)`` plus the floors' drift."""
        return self.sum_bits + self.act.width + 1

    @property
    def recip_frac(self) -> int:
        """``G``: the reciprocal is ``floor(2^G / l)``."""
        return self.sum_bits + self.act.width + 2

    @property
    def recip_bits(self) -> int:
        """Bits of the reciprocal (``l ≥ 2^F``)."""
        return self.recip_frac - self.exp_bits + 1

    @property
    def div_cycles(self) -> int:
        """The restoring divider: one quotient bit per cycle over ``G + 1`` bits."""
        return self.recip_frac + 1

    def validate(self) -> None:
        check_range(self.where("head_dim"), self.head_dim, 2, 128)
        check_range(self.where("lanes"), self.lanes, 1, 16)
        if self.head_dim % self.lanes:
            raise ConfigError(self.where("lanes"), f"{self.lanes} does not divide head_dim {self.head_dim}")
        check_range(self.where("max_kv"), self.max_kv, 1, 65536)
        check_range(self.where("units"), self.units, 1, 8)
        for name, hi in (("act", 12), ("out", 16)):
            t = getattr(self, name)
            if t.frac or not t.signed or not 2 <= t.width <= hi:
                raise ConfigError(self.where(name), f"{t}: a signed integer of 2..{hi} bits")
        if self.out.width < self.act.width:
            raise ConfigError(
                self.where("out"),
                f"{self.out} is narrower than act {self.act}: the output is a weighted mean of the values and "
                f"needs their range (at least {self.act.width} bits), or it clamps",
            )
        check_range(self.where("score_shift"), self.score_shift, 0, 40)
        check_range(self.where("exp_bits"), self.exp_bits, 4, 20)
        scale = self.scale
        if not (isinstance(scale, float | int) and not isinstance(scale, bool) and 0 < scale <= math.log(2)):
            raise ConfigError(self.where("scale"), f"{scale!r}: a real in (0, ln 2] (the shifted score LSB's value)")
        size = math.ceil((self.exp_bits + 1) * math.log(2) / scale) + 1  # E(t) < 1/2 beyond this
        if size > MAX_TABLE:
            raise ConfigError(
                self.where("scale"),
                f"{self.scale!r} with exp_bits {self.exp_bits} needs a {size}-entry exponential table (at most "
                f"{MAX_TABLE}); a coarser scale (a larger score_shift) or fewer exp_bits keep it smaller",
            )

    def component(self) -> DecodeAttention:
        return DecodeAttention(self)

    def timing(self) -> Timing:
        g = self.beats
        return Timing(
            latency=self.out_latency,
            ii=1,
            ops_per_beat=self.lanes,
            notes=f"a query of n KV entries: {g} beats of q, then per entry {g} of k, {SCORE_CYCLES} cycles for "
            f"the score and its exponential, {g} of v ({2 * g + SCORE_CYCLES} cycles per entry); after the last "
            f"v beat (of every stream) {self.combine_cycles} cycles to combine the streams' states, "
            f"{self.div_cycles} for the reciprocal and the {g} output beats from cycle {self.out_latency}",
        )

    @property
    def combine_cycles(self) -> int:
        """The combine phase's cycles (none with one unit)."""
        return COMBINE_CYCLES if self.units > 1 else 0

    @property
    def out_latency(self) -> int:
        """Cycles from taking a query's last beat (the last of every stream's) to its first output beat."""
        return self.combine_cycles + self.div_cycles + 2

    @property
    def ports(self) -> list[str]:
        """The input streams: ``i`` for one unit, else ``i0``, ``i1``, ..."""
        return port_names(self)

    # ------------------------------------------------------------- models
    def model(self, *streams: ArrayLike) -> dict[str, np.ndarray]:
        """Golden model of ``x, last`` per input stream (``x0, last0, x1, last1, ...`` for several units): per
        query (each stream's beats up to its ``last``): ``q`` (``head_dim / lanes`` beats), then per KV entry
        its key and its value (as many beats each); per stream :func:`hwgen.intkernels.online_attention` with
        ``score_shift`` and the ``Q(exp_bits)`` table of ``scale``, the streams' states merged by
        :func:`~hwgen.intkernels.combine_partials` (several units), then
        :func:`~hwgen.intkernels.attention_output` with ``G = recip_frac`` clamped to ``out``;
        ``head_dim / lanes`` output beats, ``last`` on the final."""
        if len(streams) != 2 * self.units:
            raise ConfigError("model", f"{len(streams)} arrays; give x and last for each of {self.units} streams")
        queries = [self._queries(port, x, last) for port, x, last in zip(self.ports, streams[::2], streams[1::2])]
        if len({len(qs) for qs in queries}) > 1:
            counts = ", ".join(f"{p}: {len(qs)}" for p, qs in zip(self.ports, queries))
            raise ConfigError("last", f"the streams carry different numbers of queries ({counts})")
        ys = []
        for parts in zip(*queries):
            states = [online_attention(q, k, v, self.score_shift, self.exp) for q, k, v in parts]
            st = states[0] if len(states) == 1 else combine_partials(states, self.exp)
            ys.append(attention_output(st, self.recip_frac, self.out.min, self.out.max).reshape(self.beats, -1))
        lasts = [np.arange(self.beats) == self.beats - 1 for _ in ys]
        empty = np.zeros((0, self.lanes), np.int64)
        return {"y": np.concatenate(ys) if ys else empty,
                "last": np.concatenate(lasts).astype(np.int64) if lasts else np.zeros(0, np.int64)}  # fmt: skip

    def _queries(self, port: str, x: ArrayLike, last: ArrayLike) -> list[tuple[np.ndarray, ...]]:
        """``(q, K, V)`` of each query on one stream."""
        x = self.act.array(np.asarray(x).reshape(-1, self.lanes)).astype(np.int64)
        last = np.asarray(last).astype(bool)
        out, start = [], 0
        for end in np.flatnonzero(last):
            out.append(self.split_query(x[start : end + 1], port))
            start = end + 1
        if start != len(last):
            raise ConfigError(f"{port}.last", f"beats {start}..{len(last) - 1} follow the final query's last beat")
        return out

    def split_query(self, beats: np.ndarray, port: str = "i") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(q, K, V)`` of one query's beats on one stream (``lanes`` wide); a beat count that is not
        ``g·(1 + 2n)`` with ``1 ≤ n ≤ max_kv`` is a :class:`ConfigError`."""
        g = self.beats
        n, rest = divmod(len(beats) - g, 2 * g)
        if len(beats) < 3 * g or rest or n > self.max_kv:
            raise ConfigError(
                f"{port}.last",
                f"a query of {len(beats)} beats; one is {g} beats of q then {g} of k and {g} of v per KV entry "
                f"(1..{self.max_kv} entries)",
            )
        flat = beats.reshape(-1, self.head_dim)  # q, k0, v0, k1, v1, ...
        return flat[0], flat[1::2], flat[2::2]

    def cycle_model(self, vectors: StreamVectors, *, arrivals: Arrivals | None = None) -> CycleModel:
        """Each stream's beats are taken one per cycle once offered, but after each key's last beat the stream
        waits ``SCORE_CYCLES`` cycles (the score, its exponential and the sum's rescale); after the last of
        the streams' ``last`` beats of a query the ``head_dim / lanes`` outputs are valid from
        ``out_latency`` cycles on, one per cycle, and every stream's next query is taken from the cycle after
        the last output."""
        g = self.beats
        lasts = {p: vectors.field(p, "last").astype(bool) for p in self.ports}
        offered = arrivals or {}
        accepts: dict[str, list[int]] = {p: [] for p in self.ports}
        ends = {p: list(np.flatnonzero(lasts[p])) for p in self.ports}
        outs: list[int] = []
        free = dict.fromkeys(self.ports, 0)
        for qi in range(min(len(e) for e in ends.values())):
            done = 0
            for p in self.ports:
                start = len(accepts[p])
                for b in range(start, ends[p][qi] + 1):
                    t = max(free[p], offered[p][b]) if p in offered else free[p]
                    accepts[p].append(t)
                    pos = b - start
                    wait = pos >= g and (pos - g) % (2 * g) == g - 1  # a key's last beat
                    free[p] = t + 1 + (SCORE_CYCLES if wait else 0)
                done = max(done, accepts[p][-1])
            first = done + self.out_latency
            outs += [first + j for j in range(g)]
            free = dict.fromkeys(self.ports, first + g)
        return accepts | {"o": outs}

    def stimulus(self, rng: np.random.Generator, n: int = 200, *, corners: bool = True) -> StreamVectors:
        """``n`` random queries (random KV lengths, spread or peaked scores), plus the corners: equal scores,
        one huge score, scores rising at every entry (a rescale each time), all most-negative values, one
        KV entry and ``max_kv`` entries."""
        return testdata.stimulus(self, rng, n, corners)

    @classmethod
    def test_configs(cls) -> dict[str, BlockConfig]:
        return testdata.configs(cls)

    def reference(self) -> DecodeAttentionReference:
        return DecodeAttentionReference(self)

    @classmethod
    def formal_configs(cls) -> dict[str, BlockConfig]:
        return testdata.formal_configs(cls)

    def proof_span(self) -> int:
        """A query of ``max_kv`` entries: its beats and the score waits, and 2 cycles more."""
        return self.beats * (1 + 2 * self.max_kv) + SCORE_CYCLES * self.max_kv + 2

    def result_wait(self) -> int:
        """The longest wait of an output beat after its query's last beat."""
        return self.out_latency + self.beats - 1

    # ------------------------------------------------------------- estimation
    def timing_paths(self, family: str) -> list[TimingPath]:
        """The dot product (lanes multipliers, their tree, the accumulate); the V update (``acc · α`` and
        ``p · v``, their sum); the score's compare and table index; the divider's subtract; the output
        multiply, rounding and clamp."""
        W, L, F = self.act.width, self.lanes, self.exp_bits
        size = self.register_bits
        shapes = {
            "dot product": {**multiplier_path(W, W, family), "adders": tree_path(L, 2 * W).get("adders", 0) + 1,
                            "carry_bits": self.dot_bits, "luts": 1},
            "value update": {**multiplier_path(self.acc_bits, F + 1, family), "adders": 1,
                             "carry_bits": self.acc_bits + F, "luts": 1},
            "score and table index": {"adders": 2, "carry_bits": self.score_bits + 1, "luts": 3},
            "reciprocal: restoring step": {"adders": 1, "carry_bits": self.sum_bits + 1, "luts": 1},
            "output: multiply, round, clamp": {**multiplier_path(self.acc_bits, self.recip_bits, family),
                                               "adders": 2, "carry_bits": self.acc_bits + self.recip_bits,
                                               "luts": 2},
        }  # fmt: skip
        if self.units > 1:  # the units' rescaled accumulators summed before the output multiply
            out = shapes["output: multiply, round, clamp"]
            out |= {"mult": out.get("mult", 0) + 1, "adders": out["adders"] + (self.units - 1).bit_length()}
        return [TimingPath(name, size=size, **terms) for name, terms in shapes.items()]

    @property
    def register_bits(self) -> int:
        """Per unit q and the accumulators, the dot product, the score state and sum; the reciprocal, the
        combine factors and the output register."""
        d, W, F = self.head_dim, self.act.width, self.exp_bits
        unit = d * (W + self.acc_bits) + self.dot_bits + 3 * self.score_bits + 2 * (F + 1) + self.sum_bits
        shared = self.recip_bits + self.sum_bits + (self.units > 1) * self.units * (F + 1)
        return self.units * unit + shared + self.lanes * self.out.width + 24

    def features(self, family: str) -> Features:
        d, L, W, F, U = self.head_dim, self.lanes, self.act.width, self.exp_bits, self.units
        A = self.acc_bits
        feat: Features = {}
        add(feat, "query and accumulators", reg_bits=U * d * (W + A), mux_bits=U * d * (W + A))
        add(feat, "dot product", dsp=U * L * dsp_tiles(W, W, family), acc_add_bits=U * self.dot_bits * L,
            reg_bits=U * self.dot_bits)  # fmt: skip
        add(feat, "exponential table", mem_bits=(self.exp.size + 1) * (F + 1),
            acc_add_bits=U * 2 * (self.score_bits + 1), reg_bits=U * (2 * self.score_bits + 2 * (F + 1)))  # fmt: skip
        add(feat, "value update", dsp=U * L * (dsp_tiles(A, F + 1, family) + dsp_tiles(F + 1, W, family)),
            acc_add_bits=U * L * A)  # fmt: skip
        add(feat, "running sum", dsp=U * dsp_tiles(self.sum_bits, F + 1, family), acc_add_bits=U * self.sum_bits,
            reg_bits=U * self.sum_bits)  # fmt: skip
        if U > 1:
            factors = dsp_tiles(self.sum_bits, F + 1, family) + L * dsp_tiles(A, F + 1, family)
            adds = U * (self.sum_bits + L * A + self.score_bits)
            add(feat, "combine", dsp=U * factors, acc_add_bits=adds, reg_bits=U * (F + 1) + self.sum_bits)
        add(feat, "reciprocal", acc_add_bits=self.sum_bits + 1, reg_bits=2 * self.sum_bits + self.recip_bits)
        add(feat, "output", dsp=L * dsp_tiles(A, self.recip_bits, family), sat_bits=L * self.out.width,
            reg_bits=L * self.out.width + 1)  # fmt: skip
        add(feat, "control", ctrl=6 * U, valid_bits=4 * U)
        return feat


@lru_cache(maxsize=64)
def _table(scale: float, frac: int) -> ExpTable:
    """One :class:`ExpTable` per (scale, frac): its entries are computed once (configs keep only fields)."""
    return ExpTable(scale, frac)
