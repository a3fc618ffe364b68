"""MAC processing element: a ``lanes``-wide dot product per beat, accumulated until ``last``.

Interface (valid/ready streams, ``amaranth.lib.stream``):

* ``i``: payload ``{a: act[lanes], w: weight[lanes], last: 1}``. Each accepted
  beat adds ``sum_k a[k] * w[k]`` to the accumulator; a beat with ``last`` set
  closes the accumulation, emits the result on ``o`` and clears.
* ``o``: payload ``acc`` (the accumulator type), one beat per accumulation.

Datapath (raw integers, see :mod:`hwgen.numtype`)::

    a, w --[operand regs if pipeline >= 2]--> a*w (exact) --[product regs if pipeline >= 1]
         --> adder tree (exact) --[tree reg if pipeline >= 3]--> acc = f(acc + tree)

where ``f`` is the overflow rule: ``wrap`` keeps the low ``acc.width`` bits
(two's complement), ``saturate`` clamps to ``[acc.min, acc.max]`` *after every
beat* (so a saturated sum can come back down), and ``error`` means the config
was proven not to overflow for accumulations of up to ``max_len`` beats (the
hardware then wraps; longer accumulations are outside the contract and the
golden model rejects them).

Timing: one beat per cycle (II = 1); the result is valid ``pipeline + 1``
cycles after the rising edge that accepts the ``last`` beat. Back-pressure on
``o`` stalls the whole pipeline only when a finished result would overwrite
one not yet taken. Data registers have no reset (so they can sit inside DSP
blocks and SRLs); only valid bits and the "first beat" flag are reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..arith import sum_type, to_accumulator
from ..config import BlockConfig, Timing, check_range, param
from ..errors import ConfigError
from ..numtype import Int, NumType, Overflow
from ..sim.stimuli import biased
from ..sim.vectors import StreamVectors

MAX_OPERAND_BITS = 32
MAX_ACC_BITS = 128
#: Corner sequences longer than this are left out of the stimulus.
CORNER_BEAT_CAP = 4096


@dataclass(frozen=True, kw_only=True)
class MacPEConfig(BlockConfig):
    """Parameters of the MAC processing element."""

    block_name: ClassVar[str] = "mac_pe"
    summary: ClassVar[str] = "multiply-accumulate PE: a lanes-wide dot product per beat, accumulated until `last`"

    act: NumType = param(Int(8), "activation type", f"Int/UInt/Fixed of 1..{MAX_OPERAND_BITS} bits")
    weight: NumType = param(Int(8), "weight type", f"Int/UInt/Fixed of 1..{MAX_OPERAND_BITS} bits")
    acc: NumType = param(
        Int(32),
        "accumulator and result type",
        f"Int/UInt/Fixed of up to {MAX_ACC_BITS} bits, frac = act.frac + weight.frac",
    )
    overflow: Overflow = param("error", "accumulator overflow rule", "wrap | saturate | error")
    pipeline: int = param(1, "register stages before the accumulator (products, operands, tree)", "0..3")
    lanes: int = param(1, "products per beat (dot-product width, adder tree)", "1..64")
    max_len: int = param(
        1024, "most beats in one accumulation; bounds the overflow proof when overflow='error'", "1..16777216"
    )

    # ------------------------------------------------------------ derived
    @property
    def product_type(self) -> NumType:
        """Exact type of one ``a * w``."""
        return self.act.product(self.weight)

    @property
    def tree_type(self) -> NumType:
        """Exact type of the adder tree's sum over ``lanes`` products."""
        return self.product_type.sum_of(self.lanes)

    def validate(self) -> None:
        check_range(self.where("lanes"), self.lanes, 1, 64)
        check_range(self.where("pipeline"), self.pipeline, 0, 3)
        check_range(self.where("max_len"), self.max_len, 1, 1 << 24)
        for name in ("act", "weight"):
            t: NumType = getattr(self, name)
            if t.width > MAX_OPERAND_BITS:
                raise ConfigError(self.where(name), f"{t} is wider than {MAX_OPERAND_BITS} bits")
        if self.acc.width > MAX_ACC_BITS:
            raise ConfigError(self.where("acc"), f"{self.acc} is wider than {MAX_ACC_BITS} bits")
        pf = self.act.frac + self.weight.frac
        if self.acc.frac != pf:
            raise ConfigError(
                self.where("acc"),
                f"{self.acc} has {self.acc.frac} fractional bits but products of "
                f"{self.act}×{self.weight} have {pf}; use an accumulator with frac={pf}",
            )
        if self.overflow == "error":
            n = self.lanes * self.max_len
            need = self.product_type.sum_of(n)
            if not self.acc.holds(need.min, need.max):
                bits = NumType.fitting(need.min, need.max, signed=self.acc.signed or need.min < 0).width
                kind = "signed " if need.min < 0 and not self.acc.signed else ""
                raise ConfigError(
                    self.where("acc"),
                    f"{self.acc} cannot hold the sum of {n} products of "
                    f"{self.act}×{self.weight} without overflow; need ≥ {bits} "
                    f"{kind}bits or set overflow='wrap' (or 'saturate')",
                )

    def component(self) -> MacPE:
        return MacPE(self)

    def timing(self) -> Timing:
        return Timing(
            latency=self.pipeline + 1,
            ii=1,
            ops_per_beat=self.lanes,
            notes=f"{self.pipeline} register stage(s) + the result register; one beat of {self.lanes} MAC(s) per cycle",
        )

    def cycles(self, beats: int) -> int:
        """Cycles from accepting the first beat of a ``beats``-long accumulation to its result."""
        return beats - 1 + self.timing().latency

    # ------------------------------------------------------------- model
    def model(self, a: np.ndarray, w: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Golden model: the results of every completed accumulation.

        Args:
            a: raw activations, ``[beats, lanes]``.
            w: raw weights, ``[beats, lanes]``.
            last: ``[beats]`` flags; a set flag closes an accumulation.

        Returns:
            Raw accumulator values, one per ``last`` beat, exact integers
            (int64, or Python ints beyond 62 bits). Beats after the final
            ``last`` are an open accumulation and produce nothing.

        Raises:
            ValueError: an input is out of its type's range, or (overflow =
            'error') an accumulation is longer than ``max_len`` beats.
        """
        a = self.act.array(a).reshape(-1, self.lanes)
        w = self.weight.array(w).reshape(-1, self.lanes)
        last = np.asarray(last).astype(bool).reshape(-1)
        if not (len(a) == len(w) == len(last)):
            raise ValueError(f"a, w and last have {len(a)}, {len(w)} and {len(last)} beats")
        dt = self.tree_type.dtype()
        sums = (a.astype(dt) * w.astype(dt)).sum(axis=1)
        out: list[int] = []
        acc, beats = 0, 0
        lo, hi, span = self.acc.min, self.acc.max, 1 << self.acc.width
        for s, end in zip(sums.tolist(), last.tolist()):
            acc += int(s)
            beats += 1
            if self.overflow == "saturate":
                acc = max(lo, min(hi, acc))
            elif self.overflow == "wrap":
                acc = (acc - lo) % span + lo
            elif beats > self.max_len:
                raise ValueError(
                    f"an accumulation of {beats} beats exceeds max_len={self.max_len}, "
                    f"beyond which overflow='error' proves nothing"
                )
            if end:
                out.append(acc)
                acc, beats = 0, 0
        return np.array(out, dtype=self.acc.dtype())

    # ---------------------------------------------------------- stimulus
    def stimulus(
        self, rng: np.random.Generator, n: int = 1000, *, max_beats: int = 8, corners: bool = True
    ) -> StreamVectors:
        """Random accumulations plus corner cases, with golden results.

        Args:
            rng: NumPy random generator (seeded by the caller).
            n: number of random accumulations (results).
            max_beats: longest random accumulation (capped by ``max_len``).
            corners: include the corner sequences (zeros, extremes, most
                negative × most negative over ``max_len`` beats, all-ones bit
                patterns, accumulator edges ±1 where reachable).
        """
        seqs: list[tuple[np.ndarray, np.ndarray]] = []
        names: list[str] = []
        if corners:
            seqs, names = self._corner_sequences()
        L = self.lanes
        top = max(1, min(max_beats, self.max_len))
        for _ in range(n):
            k = int(rng.integers(1, top + 1))
            seqs.append((biased(rng, self.act, (k, L)), biased(rng, self.weight, (k, L))))
        a = np.concatenate([s[0] for s in seqs]).astype(self.act.dtype())
        w = np.concatenate([s[1] for s in seqs]).astype(self.weight.dtype())
        last = np.zeros(len(a), dtype=np.int64)
        ends = np.cumsum([len(s[0]) for s in seqs]) - 1
        last[ends] = 1
        expected = self.model(a, w, last)
        return StreamVectors(
            inputs={"i": {"a": a, "w": w, "last": last}},
            expected={"o": expected},
            triggers={"o": ("i", ends)},
            corners=names,
        )

    def _corner_sequences(self) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[str]]:
        L, A, W = self.lanes, self.act, self.weight

        def full(k: int, av: int, wv: int) -> tuple[np.ndarray, np.ndarray]:
            return np.full((k, L), av, dtype=object), np.full((k, L), wv, dtype=object)

        seqs, names = [], []

        def add(name: str, seq) -> None:
            seqs.append(seq)
            names.append(name)

        add("zeros", full(1, 0, 0))
        add("max×max", full(1, A.max, W.max))
        add("min×min", full(1, A.min, W.min))
        add("min×max", full(1, A.min, W.max))
        add("max×min", full(1, A.max, W.min))
        ones_a = -1 if A.signed else A.max
        ones_w = -1 if W.signed else W.max
        add("all-ones bits", full(3, ones_a, ones_w))
        k = min(self.max_len, CORNER_BEAT_CAP)
        add(f"min×min for {k} beats", full(k, A.min, W.min))
        add(f"max×max for {k} beats", full(k, A.max, W.max))
        add(f"max×min for {k} beats", full(k, A.max, W.min))
        if self.overflow != "error":
            for target, label in (
                (self.acc.max, "acc.max"),
                (self.acc.max + 1, "acc.max+1"),
                (self.acc.min, "acc.min"),
                (self.acc.min - 1, "acc.min-1"),
            ):
                seq = self._sum_to(target)
                if seq is not None:
                    add(f"sum = {label}", seq)
            seq = self._sum_to(self.acc.max + 1)
            back = self._sum_to(-(self.acc.max // 2) or -1)
            if seq is not None and back is not None:
                add(
                    "overshoot acc.max then come back",
                    (np.concatenate([seq[0], back[0]]), np.concatenate([seq[1], back[1]])),
                )
        return [(s[0].astype(object), s[1].astype(object)) for s in seqs], names

    def _sum_to(self, target: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Beats whose products sum to exactly ``target`` (None if beyond the cap)."""
        L, A, W = self.lanes, self.act, self.weight
        # coarse steps: the product of largest magnitude with the target's sign
        cands = [(a * w, a, w) for a in (A.min, A.max) for w in (W.min, W.max)]
        cands = [c for c in cands if (c[0] > 0) == (target > 0) and c[0] != 0]
        if target == 0:
            return np.zeros((1, L), dtype=object), np.zeros((1, L), dtype=object)
        if not cands:
            return None
        p, ca, cw = max(cands, key=lambda c: abs(c[0]))
        # fine steps: one operand fixed at ±1, the other free over its range
        fine = []
        if A.min <= 1 <= A.max:
            fine.append((1, W.min, W.max, "w"))
        if W.min <= 1 <= W.max:
            fine.append((1, A.min, A.max, "a"))
        if not fine:
            return None
        _, flo, fhi, free = max(fine, key=lambda f: f[2] - f[1])
        coarse = abs(target) // (abs(p) * L)
        rest = target - coarse * p * L
        step = fhi if rest > 0 else flo
        if rest != 0 and step == 0:
            return None
        n_fine = -(-abs(rest) // (abs(step) * L)) if rest else 0
        if coarse + n_fine > CORNER_BEAT_CAP or coarse + n_fine == 0:
            return None
        av = [np.full((int(coarse), L), ca, dtype=object)]
        wv = [np.full((int(coarse), L), cw, dtype=object)]
        remaining = rest
        for _ in range(int(n_fine)):
            vals = []
            for _lane in range(L):
                v = max(flo, min(fhi, remaining))
                vals.append(v)
                remaining -= v
            vals = np.array(vals, dtype=object).reshape(1, L)
            ones = np.ones((1, L), dtype=object)
            av.append(vals if free == "a" else ones)
            wv.append(ones if free == "a" else vals)
        assert remaining == 0
        return np.concatenate(av), np.concatenate(wv)


class MacPE(wiring.Component):
    """The MAC PE hardware; see the module docstring for interface and timing.

    Ports: ``i`` (``{a: act[lanes], w: weight[lanes], last}``), ``o``
    (``acc``), plus the implicit ``clk``/``rst`` of the ``sync`` domain.
    """

    def __init__(self, config: MacPEConfig):
        self.config = config
        in_layout = data.StructLayout(
            {
                "a": data.ArrayLayout(config.act.shape, config.lanes),
                "w": data.ArrayLayout(config.weight.shape, config.lanes),
                "last": 1,
            }
        )
        super().__init__(
            {
                "i": In(stream.Signature(in_layout)),
                "o": Out(stream.Signature(config.acc.shape)),
            }
        )

    def elaborate(self, platform) -> Module:
        cfg = self.config
        m = Module()
        advance = Signal()  # the whole pipeline moves this cycle

        def stage(name: str, valid: Value, last: Value, values: list[Value]):
            """One register stage: reset valid bit, reset-less data, enabled by ``advance``."""
            v = Signal(name=f"{name}_valid")
            l = Signal(name=f"{name}_last", reset_less=True)
            regs = [Signal(x.shape(), name=f"{name}{k}", reset_less=True) for k, x in enumerate(values)]
            with m.If(advance):
                m.d.sync += [v.eq(valid), l.eq(last)] + [r.eq(x) for r, x in zip(regs, values)]
            return v, l, regs

        valid, last = self.i.valid, self.i.p.last
        a = [self.i.p.a[k] for k in range(cfg.lanes)]
        w = [self.i.p.w[k] for k in range(cfg.lanes)]
        if cfg.pipeline >= 2:
            valid, last, regs = stage("opnd", valid, last, a + w)
            a, w = regs[: cfg.lanes], regs[cfg.lanes :]
        prods = [x * y for x, y in zip(a, w)]
        if cfg.pipeline >= 1:
            valid, last, prods = stage("prod", valid, last, prods)
        total = _adder_tree(prods)
        if cfg.pipeline >= 3:
            valid, last, (total,) = stage("tree", valid, last, [total])

        first = Signal(init=1)  # next beat starts a new accumulation
        acc = Signal(cfg.acc.shape, reset_less=True)
        result = Signal(cfg.acc.shape, reset_less=True)
        # exact sum of the (cleared) accumulator and this beat's tree sum, brought into acc by the rule
        nxt = to_accumulator(
            m,
            cfg.acc,
            cfg.overflow,
            Mux(first, 0, acc) + total,
            sum_type(cfg.acc, cfg.tree_type),
            "nxt",
            full_name="full",
        )

        stall = valid & last & self.o.valid & ~self.o.ready
        m.d.comb += [advance.eq(~stall), self.i.ready.eq(advance), self.o.payload.eq(result)]
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(advance & valid):
            m.d.sync += [acc.eq(nxt), first.eq(last)]
            with m.If(last):
                m.d.sync += [result.eq(nxt), self.o.valid.eq(1)]
        return m


def _adder_tree(values: list[Value]) -> Value:
    """Balanced pairwise sum; every addition is exact (Amaranth widens by one bit)."""
    level = list(values)
    while len(level) > 1:
        nxt = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]
