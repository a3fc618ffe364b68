"""OliveMAC: see :mod:`hwgen.blocks.lowbit`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import data
from numpy.typing import ArrayLike

from ...config import Arrivals, BlockConfig, CycleModel, Timing, check_range, param, pipeline_cycle_model
from ...errors import ConfigError
from ...lowbit import OLIVE_ID, olive_decode_nibble
from ...numtype import Int, NumType
from ...structure import Features, TimingPath, add, chain_paths, dsp_tiles, multiplier_path, tree_bits, tree_path
from ...vectors import StreamVectors
from . import testdata
from .reference import OliveReference
from .sum_pe import LATENCY, Cuts, SumPE, accumulate, accumulate_path, pipeline_param, stall_path


@dataclass(frozen=True, kw_only=True)
class OliveMACConfig(BlockConfig):
    """Parameters of the OliVe outlier-victim decoder + MAC."""

    block_name: ClassVar[str] = "olive_mac"
    auto_defaults: ClassVar[dict] = {"pipeline": 0}
    summary: ClassVar[str] = "OliVe decoder + MAC: 8-bit outlier-victim pairs -> (mantissa, shift), acc += (a·m) << s"

    pairs: int = param(4, "weight pairs (bytes) per beat; lanes = 2·pairs", "1..32")
    act: NumType = param(Int(8), "activation type", "Int/UInt of 2..16 bits")
    acc: NumType = param(Int(32), "accumulator type (must hold max_len beats exactly)", "Int up to 64 bits")
    max_len: int = param(1024, "most beats per output (for the exactness check)", "1..16777216")
    pipeline: int | None = pipeline_param(3)

    @property
    def lanes(self) -> int:
        return 2 * self.pairs

    @property
    def lane_width(self) -> int:
        """Bits of one lane value ``(a · mantissa) << shift`` as the hardware computes it (shift: 3 bits)."""
        return self.act.width + 4 + 7

    def validate(self) -> None:
        check_range(self.where("pairs"), self.pairs, 1, 32)
        check_range(self.where("pipeline"), self.pipeline, 0, 3)
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

    def component(self) -> OliveMAC:
        return OliveMAC(self)

    def timing(self) -> Timing:
        return Timing(
            latency=LATENCY + self.pipeline, ii=1, ops_per_beat=self.lanes, notes="one beat (pairs bytes) per cycle"
        )

    def model(self, a: ArrayLike, pair: ArrayLike, last: ArrayLike) -> np.ndarray:
        """Golden model: ``Σ a · w`` per accumulation, ``w`` the outlier-victim pairs decoded (exact)."""
        a = self.act.array(a).reshape(-1, self.lanes).astype(object)
        pair = np.asarray(pair, dtype=np.int64).reshape(-1, self.pairs)
        vals = np.zeros(a.shape, dtype=object)
        for b in range(len(pair)):
            for p in range(self.pairs):
                lo, hi = int(pair[b, p]) & 0xF, int(pair[b, p]) >> 4
                for k, (nib, other) in enumerate(((lo, hi), (hi, lo))):
                    mant, sh = olive_decode_nibble(nib, other)
                    vals[b, 2 * p + k] = mant << sh
        return accumulate((a * vals).sum(axis=1), last, self.acc)

    def cycle_model(self, vectors: StreamVectors, *, arrivals: Arrivals | None = None) -> CycleModel:
        """One beat per cycle; a result ``LATENCY + pipeline`` cycles after its ``last`` beat is taken."""
        last = vectors.field("i", "last")
        return pipeline_cycle_model("i", "o", len(last), np.flatnonzero(last), self.timing().latency, arrivals)

    def stimulus(self, rng: np.random.Generator, n: int = 1000, *, corners: bool = True) -> StreamVectors:
        """``n`` random accumulations of INT4 weights with ~8 % abfloat outliers, plus every pair byte
        against the extreme activations."""
        return testdata.olive_stimulus(self, rng, n, corners)

    @classmethod
    def test_configs(cls) -> dict[str, BlockConfig]:
        return testdata.olive_configs(cls)

    def reference(self) -> OliveReference:
        return OliveReference(self)

    @classmethod
    def formal_configs(cls) -> dict[str, BlockConfig]:
        return testdata.olive_formal_configs(cls)

    # ------------------------------------------------------------- timing
    def timing_candidates(self, family: str) -> list[dict]:
        """Cheapest first: the lane values registered, then the decoded operands, then the tree's sum."""
        return [{"pipeline": p} for p in (0, 1, 2, 3)]

    def timing_paths(self, family: str) -> list[TimingPath]:
        """The nibble decoder (identifier compares, mantissa mux) and ``a << shift``, cut ``decode``;
        ``× mantissa``, cut ``lanes``; the adder tree, cut ``sums``; the accumulate; the stall enable."""
        size = self.register_bits
        chain = [
            ("decode and shift", {"luts": 4}),
            "decode",
            ("multiply", multiplier_path(self.act.width + 7, 4, family)),
            "lanes",
            ("adder tree", tree_path(self.lanes, self.lane_width)),
            "sums",
            ("accumulate", accumulate_path(self.acc.width)),
        ]
        return chain_paths(chain, OliveMAC.stages[: self.pipeline], size) + [stall_path(size)]

    @property
    def pipeline_register_bits(self) -> int:
        """Registers of the cuts (each with ``last`` and a valid bit): lane values, decoded operands, tree sum."""
        L, lw, p = self.lanes, self.lane_width, self.pipeline
        return (L * lw + 2) * (p >= 1) + (L * lw + 2) * (p >= 2) + (lw + (L - 1).bit_length() + 2) * (p >= 3)

    @property
    def register_bits(self) -> int:
        """Input beat, pipeline stages, accumulator and output register."""
        beat = self.lanes * self.act.width + 8 * self.pairs + 1
        return beat + self.pipeline_register_bits + 2 * self.acc.width

    def features(self, family: str) -> Features:
        L, wa, A = self.lanes, self.act.width, self.acc.width
        tiles = dsp_tiles(wa + 7, 4, family)  # (a << shift) · mantissa
        feat: Features = {}
        add(feat, "decoders", decode_lanes=L)
        add(feat, "lanes", **({"dsp": L * tiles} if tiles else {"lut_mul": L * (wa + 7) * 4}))
        add(feat, "lanes", shift_bits=L * wa * 2, tree_bits_fabric=tree_bits(L, wa + 11))
        add(feat, "accumulator", acc_add_bits=A, acc_reg_bits=2 * A, ctrl=1)
        add(feat, "input register", in_reg_bits=L * (wa + 4) + 1)
        add(feat, "pipeline", reg_bits=self.pipeline_register_bits)
        return feat


class OliveMAC(SumPE):
    def __init__(self, config: OliveMACConfig):
        beat = data.StructLayout(
            {
                "a": data.ArrayLayout(config.act.shape, config.lanes),
                "pair": data.ArrayLayout(8, config.pairs),
                "last": 1,
            }
        )
        super().__init__(config, beat, config.acc.shape)

    stages = ("lanes", "decode", "sums")

    def lane_values(self, m: Module, beat: Value, cuts: Cuts) -> list[Value]:
        """``(a << shift) · mantissa`` per lane from the decoded nibble (cut ``decode`` before the multiply)."""
        shifted, mants = [], []
        for p in range(self.config.pairs):
            lo, hi = beat.pair[p][:4], beat.pair[p][4:]
            for k, (nib, other) in enumerate(((lo, hi), (hi, lo))):
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
                shifted.append(beat.a[2 * p + k] << shift)
                mants.append(mant)
        d = cuts("decode", {"shifted": shifted, "mant": mants})
        return [a * w for a, w in zip(d["shifted"], d["mant"])]
