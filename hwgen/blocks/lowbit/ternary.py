"""TernaryPE: see :mod:`hwgen.blocks.lowbit`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from amaranth.hdl import Module, Mux, Value
from amaranth.lib import data
from numpy.typing import ArrayLike

from ...config import Arrivals, BlockConfig, CycleModel, Timing, check_range, param, pipeline_cycle_model
from ...errors import ConfigError
from ...numtype import Int, NumType
from ...structure import Features, TimingPath, add, chain_paths, tree_bits, tree_path
from ...vectors import StreamVectors
from . import testdata
from .reference import TernaryReference
from .sum_pe import LATENCY, Cuts, SumPE, accumulate, accumulate_path, pipeline_param, stall_path


@dataclass(frozen=True, kw_only=True)
class TernaryPEConfig(BlockConfig):
    """Parameters of the ternary (MatMul-free) PE."""

    block_name: ClassVar[str] = "ternary_pe"
    auto_defaults: ClassVar[dict] = {"pipeline": 0}
    summary: ClassVar[str] = "ternary PE for MatMul-free layers: weights in {-1, 0, +1}, add/subtract/skip"

    lanes: int = param(8, "weights per beat", "1..64")
    act: NumType = param(Int(8), "activation type", "Int/UInt of 2..32 bits")
    acc: NumType = param(Int(24), "accumulator type (must hold max_len beats exactly)", "Int up to 64 bits")
    max_len: int = param(1024, "most beats per output (for the exactness check)", "1..16777216")
    pipeline: int | None = pipeline_param()

    def validate(self) -> None:
        check_range(self.where("lanes"), self.lanes, 1, 64)
        check_range(self.where("pipeline"), self.pipeline, 0, 2)
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

    def component(self) -> TernaryPE:
        return TernaryPE(self)

    def timing(self) -> Timing:
        return Timing(
            latency=LATENCY + self.pipeline, ii=1, ops_per_beat=self.lanes, notes="one beat per cycle, no multiplier"
        )

    def model(self, a: ArrayLike, w: ArrayLike, last: ArrayLike) -> np.ndarray:
        """Golden model: ``Σ a · value(w)`` per accumulation, codes ``00`` 0, ``01`` +1, ``11`` −1, ``10`` 0."""
        a = self.act.array(a).reshape(-1, self.lanes).astype(object)
        w = np.asarray(w, dtype=np.int64).reshape(-1, self.lanes)
        if ((w < 0) | (w > 3)).any():
            raise ConfigError("w", "ternary codes are 2-bit (00 0, 01 +1, 11 -1, 10 0)")
        val = np.array([0, 1, 0, -1], dtype=object)[w]
        return accumulate((a * val).sum(axis=1), last, self.acc)

    def cycle_model(self, vectors: StreamVectors, *, arrivals: Arrivals | None = None) -> CycleModel:
        """One beat per cycle; a result ``LATENCY + pipeline`` cycles after its ``last`` beat is taken."""
        last = vectors.field("i", "last")
        return pipeline_cycle_model("i", "o", len(last), np.flatnonzero(last), self.timing().latency, arrivals)

    def stimulus(self, rng: np.random.Generator, n: int = 1000, *, corners: bool = True) -> StreamVectors:
        """``n`` random accumulations of 1..8 beats (random codes, biased activations) plus every code
        against the extreme activations and a long most-negative × −1 run."""
        return testdata.ternary_stimulus(self, rng, n, corners)

    @classmethod
    def test_configs(cls) -> dict[str, BlockConfig]:
        return testdata.ternary_configs(cls)

    def reference(self) -> TernaryReference:
        return TernaryReference(self)

    @classmethod
    def formal_configs(cls) -> dict[str, BlockConfig]:
        return testdata.ternary_formal_configs(cls)

    # ------------------------------------------------------------- timing
    def timing_candidates(self, family: str) -> list[dict]:
        """Cheapest first: the lane values registered, then the adder tree's sum too."""
        return [{"pipeline": p} for p in (0, 1, 2)]

    def timing_paths(self, family: str) -> list[TimingPath]:
        """The code compare and ``±a`` (a negation), cut ``lanes``; the adder tree, cut ``sums``; the
        accumulate; the stall enable."""
        wa, size = self.act.width, self.register_bits
        chain = [
            ("lane values", {"adders": 1, "carry_bits": wa + 1, "luts": 2}),
            "lanes",
            ("adder tree", tree_path(self.lanes, wa + 1)),
            "sums",
            ("accumulate", accumulate_path(self.acc.width)),
        ]
        return chain_paths(chain, TernaryPE.stages[: self.pipeline], size) + [stall_path(size)]

    @property
    def pipeline_register_bits(self) -> int:
        """Registers of the cuts: the lane values, then the tree's sum, each with ``last`` and a valid bit."""
        L, wa = self.lanes, self.act.width
        return (L * (wa + 1) + 2) * (self.pipeline >= 1) + (wa + 1 + (L - 1).bit_length() + 2) * (self.pipeline >= 2)

    @property
    def register_bits(self) -> int:
        """Input beat, pipeline stages, accumulator and output register."""
        return self.lanes * (self.act.width + 2) + 1 + self.pipeline_register_bits + 2 * self.acc.width

    def features(self, family: str) -> Features:
        L, wa, A = self.lanes, self.act.width, self.acc.width
        feat: Features = {}
        add(feat, "lanes", negate_bits=L * (wa + 1), tree_bits_fabric=tree_bits(L, wa + 1))
        add(feat, "accumulator", acc_add_bits=A, acc_reg_bits=2 * A, ctrl=1)
        add(feat, "input register", in_reg_bits=L * (wa + 2) + 1)
        add(feat, "pipeline", reg_bits=self.pipeline_register_bits)
        return feat


class TernaryPE(SumPE):
    def __init__(self, config: TernaryPEConfig):
        beat = data.StructLayout(
            {"a": data.ArrayLayout(config.act.shape, config.lanes), "w": data.ArrayLayout(2, config.lanes), "last": 1}
        )
        super().__init__(config, beat, config.acc.shape)

    def lane_values(self, m: Module, beat: Value, cuts: Cuts) -> list[Value]:
        return [Mux(beat.w[k] == 1, beat.a[k], Mux(beat.w[k] == 3, -beat.a[k], 0)) for k in range(self.config.lanes)]
