"""The sparse chain's configuration: parameters, golden model, cycle model, estimator features."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike

from ...config import Arrivals, BlockConfig, CycleModel, Timing, check_range, param, pipeline_cycle_model
from ...errors import ConfigError
from ...numtype import Int, NumType, Overflow
from ...primitives import MULT18_BITS
from ...sparse import SUPPORTED, NMPattern
from ...structure import SHIFT_PACK, Features, TimingPath, add, delay_line, dsp_tiles, merge, multiplier_path
from ...vectors import StreamVectors
from . import testdata
from .hardware import SparseChain
from .reference import SparseChainReference

DspCells = Literal["inferred", "mult18x18d"]


@dataclass(frozen=True, kw_only=True)
class SparseChainConfig(BlockConfig):
    """Parameters of the N:M sparse MAC chain."""

    block_name: ClassVar[str] = "sparse_chain"
    summary: ClassVar[str] = (
        "FlightLLM-style N:M sparse DSP chain: one MAC cascade serving dense and "
        "N:M sparse matrix-vector products at full multiplier utilization"
    )
    auto_defaults: ClassVar[dict] = {"pipeline": 0, "dsp_cells": "inferred"}

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
    pipeline: int | None = param(
        None,
        "register stages between each stage's operands and its chain adder (1: the product, 2: also the "
        "operands, cutting the sparse multiplexer off the multiplier); each adds a cycle of latency; left "
        "out, hwgen picks the fewest that meet the design's clock (0 outside a design)",
        "0..2",
    )
    dsp_cells: DspCells | None = param(
        None,
        "how multipliers are built: inferred by synthesis, or ECP5 MULT18X18D cells instantiated with the "
        "pipeline's registers inside (no pack_int8; ECP5 designs only); left out, hwgen picks it for the "
        "design's clock (inferred outside a design)",
        "inferred | mult18x18d",
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
        return self.stages + 3 + self.pipeline

    def block_start(self, s: int, p: NMPattern) -> int:
        """The chunk position of the block stage ``s`` reads in pattern ``p``: ``(j // N)·M``, ``j = s mod g``."""
        return ((s % self.group_len(p)) // p.n) * p.m

    def candidates(self, s: int) -> list[int]:
        """Chunk positions stage ``s`` may read in any mode, ascending (its sparse multiplexer's inputs)."""
        cands: set[int] = set()
        for p in self.nm:
            base = self.block_start(s, p)
            cands |= {base} if p.dense else set(range(base, base + p.m))
        return sorted(cands)

    def select_table(self, s: int) -> list[int]:
        """Stage ``s``'s select (an index into :meth:`candidates`) for every ``mode · 2^index_bits + idx``:
        in an N:M mode the weight's in-block index (its low ``log2 M`` bits) picks in its block, in dense
        mode the index is ignored; a mode past ``patterns`` reads as mode 0."""
        cands, pats, ib = self.candidates(s), self.nm, self.index_bits
        table = []
        for k in range(1 << self.mode_bits):
            p = pats[k if k < len(pats) else 0]
            base = self.block_start(s, p)
            for i in range(1 << ib):
                table.append(cands.index(base + (0 if p.dense else i % p.m)))
        return table

    @property
    def mode_bits(self) -> int:
        return max(1, (len(self.patterns) - 1).bit_length())

    @property
    def multiply_registers(self) -> str:
        """The multiplier's registers (:func:`hwgen.primitives.registered_multiply`) for ``pipeline``."""
        return ("", "p", "abp")[self.pipeline]

    def validate(self) -> None:
        S = self.stages
        check_range(self.where("stages"), S, 2, 64)
        check_range(self.where("max_len"), self.max_len, 1, 1 << 16)
        check_range(self.where("pipeline"), self.pipeline, 0, 2)
        if self.dsp_cells == "mult18x18d" and self.pack_int8:
            raise ConfigError(
                self.where("dsp_cells"),
                f"mult18x18d multiplies operands of up to {MULT18_BITS} bits; a packed INT8 pair is "
                f"{SHIFT_PACK + 8} bits (use dsp_cells='inferred' with pack_int8)",
            )
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
    def model(
        self,
        x: ArrayLike,
        w: ArrayLike,
        idx: ArrayLike,
        mode: ArrayLike,
        last: ArrayLike,
        x1: ArrayLike | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
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
                    accs[v][q] = self.acc.fold(accs[v][q] + int(prods[q * g : (q + 1) * g].sum()), self.overflow)
            if last[b]:
                for v in range(len(xs)):
                    outs[v].append([accs[v][q] if q < S // g else 0 for q in range(G)])
                accs = [[0] * G for _ in xs]
                cur, beats = None, 0
        arrays = [np.array(o, dtype=self.acc.dtype()).reshape(-1, G) for o in outs]
        return arrays[0], (arrays[1] if self.pack_int8 else None)

    def cycle_model(self, vectors: StreamVectors, *, arrivals: Arrivals | None = None) -> CycleModel:
        """One chunk per cycle; the results of an accumulation ``S + 3 + pipeline`` cycles after its ``last``
        beat."""
        last = vectors.field("i", "last")
        return pipeline_cycle_model("i", "o", len(last), np.flatnonzero(last), self.latency, arrivals)

    def stimulus(self, rng: np.random.Generator, n: int = 1000, *, corners: bool = True) -> StreamVectors:
        """≥ ``n`` random rows: N:M matrices (pruned, compressed) × vectors in random modes switching between
        accumulations, plus the extremes in every mode and a long most-negative accumulation."""
        return testdata.stimulus(self, rng, n, corners)

    @classmethod
    def test_configs(cls) -> dict[str, BlockConfig]:
        return testdata.configs(cls)

    def reference(self) -> SparseChainReference:
        return SparseChainReference(self)

    @classmethod
    def formal_configs(cls) -> dict[str, BlockConfig]:
        return testdata.formal_configs(cls)

    def vendor_cells(self) -> dict[str, str]:
        return {"MULT18X18D": "ecp5"} if self.dsp_cells == "mult18x18d" else {}

    # ------------------------------------------------------------- timing
    def timing_candidates(self, family: str) -> list[dict]:
        """Cheapest first: the product register, then the operand registers too; on ECP5 (no packing) both
        inside MULT18X18D cells, which is faster and costs no fabric flip-flops."""
        cells = "mult18x18d" if family == "ecp5" and not self.pack_int8 else "inferred"
        return [{"pipeline": 0, "dsp_cells": "inferred"}] + [{"pipeline": p, "dsp_cells": cells} for p in (1, 2)]

    def timing_paths(self, family: str) -> list[TimingPath]:
        """Stage 0's sparse multiplexer (its select decoded a cycle earlier, no skew register after it), its multiplier
        and the chain adder, cut by ``pipeline``; the tap accumulate; the stall enable."""
        P, cw, A = self.pipeline, self.chain_type.width, self.acc.width
        wa = self.act.width + (SHIFT_PACK if self.pack_int8 else 0)
        widest = max(len(self.candidates(s)) for s in range(self.stages))
        mux = {"luts": max(1, math.ceil(math.log2(widest)) - 1)}  # LUT4 + PFUMX/L6MUX levels of the select
        mult = multiplier_path(wa, self.weight.width, family)
        chain = {"adders": 1 + self.pack_int8, "carry_bits": cw, "luts": 1}
        cells = self.dsp_cells == "mult18x18d"
        if P == 0:
            shapes = [("sparse mux, multiply and chain add", {**mux, **mult, **chain})]
        elif P == 1:
            shapes = [("sparse mux and multiply", {**mux, **mult}), ("chain add", {**chain, "dsp_out": cells})]
        else:
            mult = {"dsp_internal": 1} if cells else mult
            shapes = [("sparse mux", mux), ("multiplier", mult), ("chain add", {**chain, "dsp_out": cells})]
        sat = 2 if self.overflow == "saturate" else 0
        shapes.append(("tap accumulate", {"adders": 1, "carry_bits": A, "luts": 1 + sat}))
        regs = self.register_bits
        shapes.append(("stall enable", {"luts": 2, "fanout": regs}))
        return [TimingPath(name, size=regs, **terms) for name, terms in shapes]

    @property
    def register_bits(self) -> int:
        """Register bits of the chain: input, skew, multiplier pipeline, chain, taps (the routing size term)."""
        S, G, lanes = self.stages, self.taps, 2 if self.pack_int8 else 1
        opnd = self.act.width * lanes + self.weight.width
        skew = S * (S - 1) // 2 * opnd
        pipe = S * (opnd * (self.pipeline >= 2) + self.product_type.width * lanes * (self.pipeline >= 1))
        return (
            S * (opnd + self.index_bits)
            + skew
            + pipe
            + S * lanes * self.chain_type.width
            + 3 * G * lanes * self.acc.width
        )

    def features(self, family: str) -> Features:
        S, G, gmin = self.stages, self.taps, self.g_min
        wa, wb, A = self.act.width, self.weight.width, self.acc.width
        lanes = 2 if self.pack_int8 else 1
        pats = self.nm
        cw = self.chain_type.width
        feat: Features = {}
        if self.pack_int8:
            tiles = dsp_tiles(SHIFT_PACK + wa, wb, family)
            add(feat, "stages", **({"dsp": S * tiles} if tiles else {"lut_mul": S * (SHIFT_PACK + wa) * wb}))
            add(feat, "stages", unpack_bits=S * 2 * cw)
        else:
            tiles = dsp_tiles(wa, wb, family)
            add(feat, "stages", **({"dsp": S * tiles} if tiles else {"lut_mul": S * wa * wb}))
        add(feat, "stages", chain_reg_bits=S * lanes * cw, link_bits=(G - 1) * lanes * cw)
        if not (self.dsp_cells == "mult18x18d" and family == "ecp5"):  # else inside the MULT18X18D cells
            pw = self.product_type.width + (SHIFT_PACK if self.pack_int8 else 0)
            merge(feat, "pipeline", delay_line(family, S * pw * (self.pipeline >= 1), 1))
            merge(feat, "pipeline", delay_line(family, S * (wa * lanes + wb) * (self.pipeline >= 2), 1))
        mux_inputs = sum(len(self.candidates(s)) for s in range(S))
        add(feat, "sparse muxes", mux_input_bits=mux_inputs * wa * lanes, mode_bits=S * len(pats))
        for s in range(S):
            merge(feat, "skew", delay_line(family, wa * lanes + wb, s))
        add(feat, "input register", in_reg_bits=S * (wa * lanes + wb + self.index_bits) + 8)
        add(feat, "tap accumulators", acc_add_bits=G * lanes * A, acc_reg_bits=2 * G * lanes * A, ctrl=1)
        if self.overflow == "saturate":
            add(feat, "tap accumulators", sat_bits=G * lanes * A)
        for k in range(G):
            merge(feat, "tap accumulators", delay_line(family, A * lanes, (G - 1 - k) * gmin))
            merge(feat, "tap accumulators", delay_line(family, 4, (k + 1) * gmin))
        add(feat, "output", out_reg_bits=G * lanes * A, out_mux_bits=G * lanes * A * len(pats))
        return feat
