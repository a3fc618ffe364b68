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
from ...structure import Features, add, dsp_tiles, tree_bits
from ...vectors import StreamVectors
from . import testdata
from .reference import OliveReference
from .sum_pe import LATENCY, SumPE, accumulate


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

    def component(self) -> OliveMAC:
        return OliveMAC(self)

    def timing(self) -> Timing:
        return Timing(latency=LATENCY, ii=1, ops_per_beat=self.lanes, notes="one beat (pairs bytes) per cycle")

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
        """One beat per cycle; a result ``LATENCY`` cycles after its ``last`` beat is taken."""
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

    def features(self, family: str) -> Features:
        L, wa, A = self.lanes, self.act.width, self.acc.width
        tiles = dsp_tiles(wa, 4, family)
        feat: Features = {}
        add(feat, "decoders", decode_lanes=L)
        add(feat, "lanes", **({"dsp": L * tiles} if tiles else {"lut_mul": L * wa * 4}))
        add(feat, "lanes", shift_bits=L * (wa + 4) * 2, tree_bits_fabric=tree_bits(L, wa + 11))
        add(feat, "accumulator", acc_add_bits=A, acc_reg_bits=2 * A, ctrl=1)
        add(feat, "input register", in_reg_bits=L * (wa + 4) + 1)
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

    def lane_values(self, m: Module, beat: Value) -> list[Value]:
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
