"""The integer norm unit's configuration: parameters, golden model, cycle model, estimator features."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike

from ...config import Arrivals, BlockConfig, CycleModel, Timing, check_range, param
from ...errors import ConfigError
from ...numtype import Int, NumType
from ...structure import Features, TimingPath, add, dsp_tiles, multiplier_path
from ...vectors import StreamVectors
from ..rowunit import row_cycle_model
from .hardware import OUT_STAGES, SQ_STAGES, Norm
from .reference import NormReference

Mode = Literal["layernorm", "rmsnorm"]


@dataclass(frozen=True, kw_only=True)
class NormConfig(BlockConfig):
    """Parameters of the LayerNorm / RMSNorm unit."""

    block_name: ClassVar[str] = "norm"
    summary: ClassVar[str] = (
        "integer LayerNorm / RMSNorm over a streamed row: exact sums, one division and one square root per "
        "row, normalized values out (the affine folds into the next layer)"
    )

    mode: Mode = param("layernorm", "subtract the mean (layernorm) or not (rmsnorm)", "layernorm | rmsnorm")
    max_len: int = param(64, "longest row (the row buffer's depth); a row ends at its `last` beat", "1..4096")
    act: NumType = param(Int(8), "input type", "Int of 2..16 bits")
    out: NumType = param(Int(8), "output type", "Int of 2..16 bits")
    out_frac: int = param(4, "fraction bits of the output: y / 2^out_frac is the normalized value", "0..12")

    # ------------------------------------------------------------- derived widths
    @property
    def deviation_bits(self) -> int:
        """Bits of ``d``: ``n·x − Σx`` spans ``±n·(max − min)``; ``x`` itself for RMSNorm."""
        if self.mode == "rmsnorm":
            return self.act.width
        return (self.max_len * (self.act.max - self.act.min)).bit_length() + 1

    @property
    def square_sum_bits(self) -> int:
        return (self.max_len * (1 << (2 * (self.deviation_bits - 1)))).bit_length()

    @property
    def guard_shift(self) -> int:
        """``P``: ``r ≈ 2^P · sqrt(n / D)`` keeps ``d · r``'s error under an output LSB."""
        return self.out_frac + self.deviation_bits + 2

    @property
    def quotient_bits(self) -> int:
        """Bits of ``n · 2^(2P)`` (the quotient is at most that, at ``D = 1``)."""
        return self.max_len.bit_length() + 2 * self.guard_shift

    @property
    def root_bits(self) -> int:
        return (self.quotient_bits + 1) // 2

    def validate(self) -> None:
        check_range(self.where("max_len"), self.max_len, 1, 4096)
        check_range(self.where("out_frac"), self.out_frac, 0, 12)
        for name in ("act", "out"):
            t = getattr(self, name)
            if t.frac or not t.signed or not 2 <= t.width <= 16:
                raise ConfigError(self.where(name), f"{t}: a signed integer of 2..16 bits")

    def component(self) -> Norm:
        return Norm(self)

    def row_latency(self, n: int) -> int:
        """Cycles from taking a row's last element to its first result, for a row of ``n``."""
        return 1 + n + SQ_STAGES + self.quotient_bits + self.root_bits + OUT_STAGES

    def timing(self) -> Timing:
        n = self.max_len
        return Timing(
            latency=self.row_latency(1),
            ii=3,
            notes=f"a row of n: n in, n + {SQ_STAGES} for Σd², {self.quotient_bits} to divide, {self.root_bits} for "
            f"the root, n + {OUT_STAGES} out; the first result {self.row_latency(n)} cycles after the last "
            f"element at n = {n}",
        )

    def result_wait(self) -> int:
        return self.row_latency(self.max_len) + self.max_len - 1

    # ------------------------------------------------------------- models
    def model(self, x: ArrayLike, last: ArrayLike) -> dict[str, np.ndarray]:
        """Golden model, per row (ended by ``last``): ``d = n·x − Σx`` (LayerNorm) or ``x`` (RMSNorm),
        ``D = Σ d²``, ``r = isqrt(floor(n · 2^(2P) / D))``, ``y = clamp((d · r) >> (P − out_frac))``
        (an arithmetic shift: floor), 0 when ``D = 0``; ``last`` marks each row's final result."""
        x = self.act.array(x).astype(object)
        last = np.asarray(last).astype(bool)
        ys, lasts, start = [], [], 0
        P, F = self.guard_shift, self.out_frac
        for end in np.flatnonzero(last):
            row = [int(v) for v in x[start : end + 1]]
            n = len(row)
            if n > self.max_len:
                raise ConfigError("x", f"a row of {n}; this unit takes rows of up to {self.max_len}")
            d = [n * v - sum(row) for v in row] if self.mode == "layernorm" else row
            big_d = sum(v * v for v in d)
            r = math.isqrt((n << (2 * P)) // big_d) if big_d else 0
            ys += [min(self.out.max, max(self.out.min, (v * r) >> (P - F))) for v in d]
            lasts += [int(j == n - 1) for j in range(n)]
            start = end + 1
        return {"y": np.array(ys, dtype=np.int64), "last": np.array(lasts, dtype=np.int64)}

    def cycle_model(self, vectors: StreamVectors, *, arrivals: Arrivals | None = None) -> CycleModel:
        """Row by row: elements taken one per cycle once offered; a row whose last element is taken at ``t``
        gives its ``n`` results at ``t + row_latency(n) + j``; the next row from the cycle after its last."""
        return row_cycle_model(vectors.field("i", "last"), (arrivals or {}).get("i"), self.row_latency)

    def stimulus(self, rng: np.random.Generator, n: int = 200, *, corners: bool = True) -> StreamVectors:
        """``n`` random rows (random lengths; uniform or Gaussian values), plus the corners: all equal (D = 0
        for LayerNorm), one outlier, all most-negative, extremes alternating, length 1 and ``max_len``."""
        t, L = self.act, self.max_len
        rows, names = [], []
        if corners:
            rows += [
                np.full(L, 3 % (t.max + 1)),
                np.array([t.max] + [0] * (L - 1)),
                np.full(L, t.min),
                np.array([t.min, t.max] * (L // 2) + [0] * (L % 2)),
                np.array([t.min]),
                rng.integers(t.min, t.max + 1, L),
            ]
            names = ["all equal", "one outlier", "all most-negative", "extremes", "length 1", "max_len row"]
        for _ in range(n):
            k = int(rng.integers(1, L + 1))
            row = rng.integers(t.min, t.max + 1, k) if rng.random() < 0.5 else np.rint(rng.normal(0, t.max / 4, k))
            rows.append(np.clip(row, t.min, t.max).astype(np.int64))
        x = np.concatenate(rows).astype(np.int64)
        last = np.concatenate([np.arange(len(r)) == len(r) - 1 for r in rows]).astype(np.int64)
        ends = np.repeat(np.flatnonzero(last), [len(r) for r in rows])
        return StreamVectors(
            inputs={"i": {"x": x, "last": last}},
            expected={"o": self.model(x, last)},
            triggers={"o": ("i", ends)},
            corners=names,
        )

    @classmethod
    def test_configs(cls) -> dict[str, BlockConfig]:
        return {
            "layernorm_l16": cls(max_len=16),
            "layernorm_l64_default": cls(),
            "rmsnorm_l32": cls(mode="rmsnorm", max_len=32),
            "layernorm_l5_int6_f2": cls(max_len=5, act=Int(6), out=Int(6), out_frac=2),
            "rmsnorm_l1": cls(mode="rmsnorm", max_len=1),
        }

    def reference(self) -> NormReference:
        return NormReference(self)

    @classmethod
    def formal_configs(cls) -> dict[str, BlockConfig]:
        return {"layernorm_l2_int2": cls(max_len=2, act=Int(2), out=Int(3), out_frac=0)}

    # ------------------------------------------------------------- estimation
    def timing_paths(self, family: str) -> list[TimingPath]:
        """``d`` (a multiply by n and a subtraction); the square and its sum; the divider's and the root's
        subtract steps; the output multiply, shift and clamp."""
        size = 2 * self.square_sum_bits + self.quotient_bits + 2 * self.root_bits + 64
        w, dbits = self.act.width, self.deviation_bits
        shapes = {
            "deviation": {**multiplier_path(w, self.max_len.bit_length(), family), "adders": 1, "carry_bits": dbits},
            "square and sum": {**multiplier_path(dbits, dbits, family), "adders": 1,
                               "carry_bits": self.square_sum_bits},
            "divider step": {"adders": 1, "carry_bits": self.square_sum_bits + 1, "luts": 2},
            "root step": {"adders": 1, "carry_bits": self.root_bits + 2, "luts": 2},
            "output": {**multiplier_path(dbits, self.root_bits, family), "luts": 3},
        }  # fmt: skip
        return [TimingPath(name, size=size, **terms) for name, terms in shapes.items()]

    def features(self, family: str) -> Features:
        w, dbits, nb = self.act.width, self.deviation_bits, self.max_len.bit_length()
        feat: Features = {}
        add(feat, "row buffer", mem_bits=self.max_len * w)
        add(feat, "sums", acc_add_bits=w + nb + self.square_sum_bits, reg_bits=w + nb + self.square_sum_bits + dbits)
        add(feat, "deviation", dsp=2 * dsp_tiles(w, nb, family), acc_add_bits=2 * dbits)
        add(feat, "square", dsp=dsp_tiles(dbits, dbits, family))
        add(feat, "divider and root", acc_add_bits=self.square_sum_bits + self.root_bits + 3,
            reg_bits=self.square_sum_bits + self.quotient_bits + 2 * self.root_bits)  # fmt: skip
        add(feat, "output", dsp=dsp_tiles(dbits, self.root_bits, family), sat_bits=self.out.width,
            reg_bits=self.out.width + 1)  # fmt: skip
        add(feat, "control", ctrl=5, valid_bits=4)
        return feat
