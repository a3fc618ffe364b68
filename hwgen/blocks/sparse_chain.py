"""N:M sparse DSP chain (FlightLLM): one cascade of MAC stages serving dense and N:M sparse weights.

A chain of ``S`` stages consumes one *chunk* of ``S`` activations per beat.
In dense mode the whole chain is one dot product: stage ``s`` multiplies
``x[s]`` by its weight. In an N:M mode the chain is cut into ``M/N`` groups of
``g = S·N/M`` stages; every group computes a dot product of the *same* chunk
with a different row's compressed weights (``g`` non-zeros covering ``S``
activations), so all ``S`` stages do useful work every cycle and ``M/N`` rows
advance per beat — the ``M/N`` speed-up — at unchanged activation bandwidth.

In front of each stage a sparse multiplexer picks the activation matching
the weight's in-block index: stage ``s`` of a group (position ``j = s mod g``)
handles block ``j // N`` of the chunk and reads ``x[(j // N)·M + idx]``.
Group boundaries are every ``g_min`` stages (the smallest group of the
supported patterns); a link bit set per beat from the mode either passes the
partial sum on (inside a group) or starts a new dot product there. Inside a
``g_min`` segment the accumulate path is a plain register chain
(``P_s = P_{s-1} + x·w``), which Yosys maps to a DSP cascade.

At every segment end a tap accumulator adds the partial sum of beats of the
same accumulation: ``acc = f((first ? 0 : acc) + group_sum)`` per beat (``f`` =
wrap / saturate / proven-exact, as in the MAC PE), and on the ``last`` beat
holds the result. Tap results are de-skewed so all groups of one accumulation
leave together on ``o``: ``y[q]`` is group ``q``'s row (``q < M/N``; the rest 0).

Streams:
    ``i``: ``{x: act[S], (x1: act[S] with pack_int8), w: weight[S], idx: UInt(ib)[S],
    mode: UInt, last}`` — ``mode`` indexes ``patterns``; it must stay constant
    within an accumulation; ``w[q·g : (q+1)·g]`` / ``idx`` are group ``q``'s row
    for this chunk in the compressed format of :mod:`hwgen.sparse`.
    ``o``: ``{y: acc[G], (y1: acc[G])}`` with ``G = S / g_min``.

Timing: one beat per cycle; results are valid ``S + 3`` cycles after the
``last`` beat is taken.

``pack_int8``: each stage computes two INT8 products sharing its weight —
``w·x`` and ``w·x1`` for two activation vectors (a batch of two) — in one
multiplier with the packing trick of :mod:`hwgen.int8pack` (operand
``x·2^18 + x1``), unpacked with the borrow correction in the stage; packed
accumulation depth is 1, within the proven bound of 7.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from amaranth.hdl import Array, Cat, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..arith import sum_type, to_accumulator
from ..config import BlockConfig, Timing, check_range, param
from ..errors import ConfigError
from ..int8pack import SHIFT
from ..numtype import Int, NumType, Overflow
from ..sim.stimuli import biased
from ..sim.vectors import StreamVectors
from ..sparse import SUPPORTED, NMPattern, compress, prune
from .systolic.array import delay, register, valid_delay


@dataclass(frozen=True, kw_only=True)
class SparseChainConfig(BlockConfig):
    """Parameters of the N:M sparse MAC chain."""

    block_name: ClassVar[str] = "sparse_chain"
    summary: ClassVar[str] = (
        "FlightLLM-style N:M sparse DSP chain: one MAC cascade serving dense and "
        "N:M sparse matrix-vector products at full multiplier utilization"
    )

    stages: int = param(
        16, "S: MAC stages in the chain (activations consumed per beat)", "2..64, a multiple of every M"
    )
    patterns: tuple[str, ...] = param(
        SUPPORTED,
        "sparsity patterns selectable per beat by `mode` (index)",
        "list of 'dense' and N:M with M in 2,4,8,16",
    )
    act: NumType = param(Int(8), "activation type", "Int/UInt of 2..18 bits")
    weight: NumType = param(Int(8), "weight type (INT4 weights: Int(4))", "Int/UInt of 2..18 bits")
    acc: NumType = param(Int(32), "accumulator / result type", "Int/UInt up to 64 bits")
    overflow: Overflow = param("error", "accumulator overflow rule", "wrap | saturate | error")
    max_len: int = param(1024, "most beats in one accumulation (bounds the overflow proof)", "1..65536")
    pack_int8: bool = param(
        False,
        "two INT8 products per multiplier: a second activation vector x1 shares every weight (batch of 2)",
        "true | false",
    )

    @property
    def nm(self) -> list[NMPattern]:
        return [NMPattern.parse(p, self.where("patterns")) for p in self.patterns]

    def group_len(self, p: NMPattern) -> int:
        """Stages per dot product in pattern ``p``: ``S·N/M``."""
        return self.stages * p.n // p.m

    @property
    def g_min(self) -> int:
        return min(self.group_len(p) for p in self.nm)

    @property
    def taps(self) -> int:
        """G: segment ends with an accumulator (the most rows one beat can advance)."""
        return self.stages // self.g_min

    @property
    def index_bits(self) -> int:
        return max(1, max(p.index_bits for p in self.nm))

    @property
    def product_type(self) -> NumType:
        return self.act.product(self.weight)

    @property
    def chain_type(self) -> NumType:
        """Exact type of a partial sum along the chain (at most S products)."""
        return self.product_type.sum_of(self.stages)

    @property
    def latency(self) -> int:
        """Cycles from taking the ``last`` beat to the results being valid."""
        return self.stages + 3

    def validate(self) -> None:
        S = self.stages
        check_range(self.where("stages"), S, 2, 64)
        check_range(self.where("max_len"), self.max_len, 1, 1 << 16)
        if len(set(self.patterns)) != len(self.patterns):
            raise ConfigError(self.where("patterns"), f"{list(self.patterns)} lists a pattern twice")
        pats = self.nm
        for p in pats:
            if S % p.m:
                raise ConfigError(
                    self.where("stages"), f"chain length {S} is not a multiple of the block size M={p.m} of pattern {p}"
                )
            if (S * p.n) % p.m or S * p.n // p.m < 1:
                raise ConfigError(
                    self.where("stages"), f"pattern {p} needs S·N/M stages per group; {S}·{p.n}/{p.m} is not an integer"
                )
        for p in pats:
            if self.group_len(p) % self.g_min:
                raise ConfigError(
                    self.where("patterns"),
                    f"group length {self.group_len(p)} of {p} is not a "
                    f"multiple of the shortest group {self.g_min}; the "
                    f"chain links sit every {self.g_min} stages",
                )
        for name in ("act", "weight"):
            t = getattr(self, name)
            if not 2 <= t.width <= 18 or t.frac:
                raise ConfigError(self.where(name), f"{t}: the chain takes integers of 2..18 bits (DSP operands)")
        if self.acc.width > 64 or self.acc.frac:
            raise ConfigError(self.where("acc"), f"{self.acc}: an integer accumulator of at most 64 bits")
        if self.pack_int8 and not (self.act == Int(8) and self.weight == Int(8)):
            raise ConfigError(
                self.where("pack_int8"), f"packing needs Int(8) activations and weights, not {self.act}×{self.weight}"
            )
        if self.overflow == "error":
            need = self.product_type.sum_of(self.stages * self.max_len)
            if not self.acc.holds(need.min, need.max):
                raise ConfigError(
                    self.where("acc"),
                    f"{self.acc} cannot hold {self.max_len} beats of {self.stages} "
                    f"products of {self.act}×{self.weight}; need ≥ {need.width} bits "
                    f"or set overflow='wrap' (or 'saturate')",
                )

    def component(self) -> SparseChain:
        return SparseChain(self)

    def timing(self) -> Timing:
        lanes = 2 if self.pack_int8 else 1
        return Timing(
            latency=self.latency,
            ii=1,
            ops_per_beat=self.stages * lanes,
            notes=f"{self.stages} stages, one chunk of {self.stages} activations per beat; dense: 1 row per "
            f"accumulation, N:M: M/N rows; results {self.latency} cycles after the last beat",
        )

    # ------------------------------------------------------------- model
    def model(self, x, w, idx, mode, last, x1=None) -> tuple[np.ndarray, np.ndarray | None]:
        """Golden model: ``y [accumulations, G]`` (and ``y1`` with packing) from the beat fields.

        Group ``q``'s sum of a beat is ``Σ_j w[q·g+j] · x[(j // N)·M + idx[q·g+j]]`` (exact), added to its
        accumulator with the overflow rule once per beat; ``y[q]`` is the accumulator on the ``last``
        beat for ``q < S/g`` and 0 for the unused groups.
        """
        S, G = self.stages, self.taps
        x = self.act.array(x).reshape(-1, S)
        w = self.weight.array(w).reshape(-1, S)
        idx = np.asarray(idx, dtype=np.int64).reshape(-1, S)
        mode = np.asarray(mode, dtype=np.int64).reshape(-1)
        last = np.asarray(last).astype(bool).reshape(-1)
        xs = [x] + ([self.act.array(x1).reshape(-1, S)] if self.pack_int8 else [])
        pats = self.nm
        if mode.size and (mode.min() < 0 or mode.max() >= len(pats)):
            raise ConfigError(
                "mode", f"{int(mode.max())} selects no pattern; modes are 0..{len(pats) - 1} for {list(self.patterns)}"
            )
        outs: list[list[list[int]]] = [[] for _ in xs]
        accs = [[0] * G for _ in xs]
        cur, beats = None, 0
        lo, hi, span = self.acc.min, self.acc.max, 1 << self.acc.width
        for b in range(len(mode)):
            p = pats[mode[b]]
            if cur is not None and p != cur:
                raise ConfigError(
                    "mode",
                    f"beat {b} switches to {p} inside an accumulation of {cur}; switch modes only after a `last` beat",
                )
            cur = p
            beats += 1
            if self.overflow == "error" and beats > self.max_len:
                raise ValueError(f"an accumulation of {beats} beats exceeds max_len={self.max_len}")
            g = self.group_len(p)
            j = np.arange(S) % g
            if (idx[b] >= p.m).any() and not p.dense:
                s = int(np.argmax(idx[b] >= p.m))
                raise ConfigError(
                    "idx",
                    f"beat {b}, stage {s}: index {int(idx[b, s])} does not fit pattern {p} "
                    f"({p.index_bits}-bit indices, 0..{p.m - 1})",
                )
            pos = (j // p.n) * p.m + (0 if p.dense else idx[b])
            for v, xv in enumerate(xs):
                prods = xv[b, pos].astype(object) * w[b].astype(object)
                for q in range(S // g):
                    a = accs[v][q] + int(prods[q * g : (q + 1) * g].sum())
                    if self.overflow == "saturate":
                        a = max(lo, min(hi, a))
                    elif self.overflow == "wrap":
                        a = (a - lo) % span + lo
                    accs[v][q] = a
            if last[b]:
                for v in range(len(xs)):
                    outs[v].append([accs[v][q] if q < S // g else 0 for q in range(G)])
                accs = [[0] * G for _ in xs]
                cur, beats = None, 0
        arrays = [np.array(o, dtype=self.acc.dtype()).reshape(-1, G) for o in outs]
        return arrays[0], (arrays[1] if self.pack_int8 else None)

    # ---------------------------------------------------------- stimulus
    def stimulus(self, rng: np.random.Generator, n: int = 1000, *, corners: bool = True) -> StreamVectors:
        """Random N:M matrices (pruned, compressed) × vectors in every mode, mode switches, extremes."""
        S, pats = self.stages, self.nm
        beats: dict[str, list] = {k: [] for k in ("x", "x1", "w", "idx", "mode", "last")}
        names: list[str] = []

        def rowset(mode: int, nb: int, wfill=None, xfill=None) -> int:
            p = pats[mode]
            rows = S // self.group_len(p)
            K = S * nb
            if wfill is None:
                W = prune(biased(rng, self.weight, (rows, K)), p)
            else:
                W = prune(np.full((rows, K), wfill, dtype=np.int64), p)
            c = compress(W, p)
            g = self.group_len(p)
            for b in range(nb):
                xv = biased(rng, self.act, S) if xfill is None else np.full(S, xfill)
                x1 = biased(rng, self.act, S) if xfill is None else np.full(S, xfill)
                beats["x"].append(xv)
                beats["x1"].append(x1)
                beats["w"].append(np.concatenate([c.values[q, b * g : (b + 1) * g] for q in range(rows)]))
                beats["idx"].append(np.concatenate([c.indices[q, b * g : (b + 1) * g] for q in range(rows)]))
                beats["mode"].append(mode)
                beats["last"].append(int(b == nb - 1))
            return rows

        if corners:
            for mode, p in enumerate(pats):
                A, Wt = self.act, self.weight
                for name, wv, xv in (
                    ("min×min", Wt.min, A.min),
                    ("max×max", Wt.max, A.max),
                    ("min×max", Wt.min, A.max),
                    ("zeros", 0, 0),
                ):
                    rowset(mode, 2, wv, xv)
                    names.append(f"{p} {name}")
            nb = min(self.max_len, 64)
            rowset(0, nb, self.weight.min, self.act.min)
            names.append(f"{pats[0]} min×min over {nb} beats")
        produced = 0
        while produced < n:
            mode = int(rng.integers(len(pats)))
            produced += rowset(mode, int(rng.integers(1, 7)))
        names.append("random modes switching between accumulations")
        arr = {k: np.array(v) for k, v in beats.items()}
        y, y1 = self.model(
            arr["x"], arr["w"], arr["idx"], arr["mode"], arr["last"], arr["x1"] if self.pack_int8 else None
        )
        inputs = {"x": arr["x"], "w": arr["w"], "idx": arr["idx"], "mode": arr["mode"], "last": arr["last"]}
        if self.pack_int8:
            inputs["x1"] = arr["x1"]
        expected = {"y": y} | ({"y1": y1} if self.pack_int8 else {})
        ends = np.flatnonzero(arr["last"])
        return StreamVectors(inputs={"i": inputs}, expected={"o": expected}, triggers={"o": ("i", ends)}, corners=names)


def matvec_vectors(
    cfg: SparseChainConfig, W: np.ndarray, x: np.ndarray, pattern: str, x1: np.ndarray | None = None
) -> StreamVectors:
    """Stream ``y = W·x`` (W already N:M sparse for ``pattern``) through the chain in that mode.

    Rows are taken ``M/N`` at a time (one per group); ``W``'s columns and ``x``
    are zero-padded to a multiple of ``S``. Returns vectors whose expected
    output ``y[q]`` of accumulation ``r`` is row ``r·M/N + q``.
    """
    p = NMPattern.parse(pattern, "pattern")
    if str(p) not in [str(q) for q in cfg.nm]:
        raise ConfigError("pattern", f"{p} is not one of this chain's patterns {list(cfg.patterns)}")
    mode = [str(q) for q in cfg.nm].index(str(p))
    S, g = cfg.stages, cfg.group_len(p)
    per = S // g
    K = -(-W.shape[1] // S) * S
    rows = -(-W.shape[0] // per) * per
    Wp = np.zeros((rows, K), dtype=np.int64)
    Wp[: W.shape[0], : W.shape[1]] = W
    xp = np.zeros(K, dtype=np.int64)
    xp[: x.size] = x
    x1p = np.zeros(K, dtype=np.int64)
    if x1 is not None:
        x1p[: x1.size] = x1
    c = compress(Wp, p)
    nb = K // S
    fields: dict[str, list] = {k: [] for k in ("x", "x1", "w", "idx", "mode", "last")}
    for r0 in range(0, rows, per):
        for b in range(nb):
            fields["x"].append(xp[b * S : (b + 1) * S])
            fields["x1"].append(x1p[b * S : (b + 1) * S])
            fields["w"].append(np.concatenate([c.values[r0 + q, b * g : (b + 1) * g] for q in range(per)]))
            fields["idx"].append(np.concatenate([c.indices[r0 + q, b * g : (b + 1) * g] for q in range(per)]))
            fields["mode"].append(mode)
            fields["last"].append(int(b == nb - 1))
    arr = {k: np.array(v) for k, v in fields.items()}
    y, y1 = cfg.model(arr["x"], arr["w"], arr["idx"], arr["mode"], arr["last"], arr["x1"] if cfg.pack_int8 else None)
    inputs = {k: arr[k] for k in ("x", "w", "idx", "mode", "last")} | ({"x1": arr["x1"]} if cfg.pack_int8 else {})
    return StreamVectors(
        inputs={"i": inputs},
        expected={"o": {"y": y} | ({"y1": y1} if cfg.pack_int8 else {})},
        triggers={"o": ("i", np.flatnonzero(arr["last"]))},
        corners=[f"W·x in {p}"],
    )


class SparseChain(wiring.Component):
    """The sparse MAC chain hardware; see the module docstring."""

    def __init__(self, config: SparseChainConfig):
        self.config = cfg = config
        S, G = cfg.stages, cfg.taps
        fields = {"x": data.ArrayLayout(cfg.act.shape, S)}
        if cfg.pack_int8:
            fields["x1"] = data.ArrayLayout(cfg.act.shape, S)
        fields |= {
            "w": data.ArrayLayout(cfg.weight.shape, S),
            "idx": data.ArrayLayout(cfg.index_bits, S),
            "mode": unsigned(max(1, (len(cfg.patterns) - 1).bit_length())),
            "last": 1,
        }
        out = {"y": data.ArrayLayout(cfg.acc.shape, G)}
        if cfg.pack_int8:
            out["y1"] = data.ArrayLayout(cfg.acc.shape, G)
        super().__init__(
            {"i": In(stream.Signature(data.StructLayout(fields))), "o": Out(stream.Signature(data.StructLayout(out)))}
        )

    def elaborate(self, platform) -> Module:
        cfg = self.config
        S, G, gmin, pats = cfg.stages, cfg.taps, cfg.g_min, cfg.nm
        lanes = 2 if cfg.pack_int8 else 1
        m = Module()
        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance)]
        fire = self.i.valid & self.i.ready

        # ---- input register; `first` marks the first beat after a `last`
        first = Signal(init=1)
        with m.If(fire):
            m.d.sync += first.eq(self.i.p.last)
        p_in = Signal(self.i.p.shape(), reset_less=True)
        v_in, first_in = Signal(), Signal()
        with m.If(advance):
            m.d.sync += [p_in.eq(self.i.p), v_in.eq(fire), first_in.eq(fire & first)]
        mode = p_in.mode
        xs = [p_in.x] + ([p_in.x1] if cfg.pack_int8 else [])

        # ---- per stage: sparse mux, skew by s, multiply, chain
        psum = [Value.cast(0)] * lanes
        tap_sums: list[list[Value]] = []
        for s in range(S):
            sel = []
            for x in xs:
                choice: Value = Value.cast(0)
                for k, p in enumerate(pats):
                    g = cfg.group_len(p)
                    base = ((s % g) // p.n) * p.m
                    if p.dense:
                        cand = x[base]
                    else:
                        cand = Array([x[base + i] for i in range(p.m)])[p_in.idx[s][: p.index_bits]]
                    choice = cand if k == 0 else Mux(mode == k, cand, choice)
                sel.append(
                    delay(m, choice.as_signed() if cfg.act.signed else choice.as_unsigned(), s, advance, f"x{s}")
                )
            w = delay(m, p_in.w[s], s, advance, f"w{s}")
            if cfg.pack_int8:
                packed = (sel[0] << SHIFT) + sel[1]
                prod = Signal(NumType.fitting(-(1 << 48), (1 << 48) - 1).shape, name=f"packed{s}")
                m.d.comb += prod.eq(packed * w)
                low = Signal(18, name=f"low{s}")
                m.d.comb += low.eq(prod[:SHIFT])
                products = [prod[SHIFT:].as_signed() + low[SHIFT - 1], low.as_signed()]
            else:
                products = [sel[0] * w]
            if s % gmin == 0 and s > 0:
                # a group may start here: link = this stage is not a group start in the current mode
                link_in = Signal(name=f"link{s}")
                starts = [k for k, p in enumerate(pats) if s % cfg.group_len(p) == 0]
                m.d.comb += link_in.eq(~Cat(*[mode == k for k in starts]).any() if starts else 1)
                link = valid_delay(m, link_in, s, advance, f"link{s}")
                psum = [Mux(link, ps, 0) for ps in psum]
            psum = self._stage(m, s, psum, products, advance)
            if (s + 1) % gmin == 0:
                tap_sums.append(psum)

        # ---- tap accumulators, then de-skew so every tap's result lands at the same cycle
        aligned: list[list[Value]] = []
        out_valid = None
        for k in range(G):
            t = (k + 1) * gmin  # cycles from p_in to the tap's registered partial sum
            v_k = valid_delay(m, v_in, t, advance, f"v_t{k}")
            f_k = valid_delay(m, first_in, t, advance, f"first_t{k}")
            l_k = valid_delay(m, p_in.last, t, advance, f"last_t{k}")
            ends = [i for i, p in enumerate(pats) if ((k + 1) * gmin) % cfg.group_len(p) == 0]
            end_in = Signal(name=f"end_in{k}")
            m.d.comb += end_in.eq(Cat(*[mode == i for i in ends]).any() if ends else 0)
            e_k = valid_delay(m, end_in, t, advance, f"end_t{k}")
            row = []
            for v in range(lanes):
                acc = Signal(cfg.acc.shape, name=f"acc{k}_{v}", reset_less=True)
                res = Signal(cfg.acc.shape, name=f"res{k}_{v}", reset_less=True)
                nxt = _overflow(m, cfg, Mux(f_k, 0, acc) + tap_sums[k][v], f"acc_next{k}_{v}")
                with m.If(advance & v_k & e_k):
                    m.d.sync += acc.eq(nxt)
                    with m.If(l_k):
                        m.d.sync += res.eq(nxt)
                row.append(delay(m, res, (G - 1 - k) * gmin, advance, f"align{k}_{v}"))
            aligned.append(row)
            if k == G - 1:
                out_valid = register(m, v_k & l_k, advance, "res_valid", reset=True)
        mode_out = delay(m, mode, S + 1, advance, "mode_out")

        # ---- output: y[q] = the tap where group q ends in this mode
        result = Signal(self.o.p.shape(), reset_less=True)
        for v, name in enumerate(["y", "y1"][:lanes]):
            for q in range(G):
                val: Value = Value.cast(0)
                for i, p in enumerate(pats):
                    step_ = cfg.group_len(p) // gmin
                    if q < S // cfg.group_len(p):
                        val = Mux(mode_out == i, aligned[(q + 1) * step_ - 1][v], val)
                with m.If(advance):
                    m.d.sync += getattr(result, name)[q].eq(val)
        with m.If(advance):
            m.d.sync += self.o.valid.eq(out_valid)
        m.d.comb += self.o.payload.eq(result)
        return m

    def _stage(self, m: Module, s: int, psum: list[Value], products: list[Value], advance: Value) -> list[Value]:
        """``P_s = psum + product``, registered (reset-less) and enabled by ``advance``."""
        out = []
        for v, (ps, prod) in enumerate(zip(psum, products)):
            reg = Signal(self.config.chain_type.shape, name=f"p{s}_{v}", reset_less=True)
            with m.If(advance):
                m.d.sync += reg.eq(ps + prod)
            out.append(reg)
        return out


def _overflow(m: Module, cfg: SparseChainConfig, value: Value, name: str) -> Signal:
    """``value`` (accumulator or 0, plus a chain sum) brought into the accumulator type by the overflow rule."""
    return to_accumulator(m, cfg.acc, cfg.overflow, value, sum_type(cfg.acc, cfg.chain_type), name)
