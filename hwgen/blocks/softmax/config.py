"""The integer softmax's configuration: parameters, golden model, cycle model, estimator features."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from ...config import Arrivals, BlockConfig, CycleModel, Timing, check_range, param
from ...errors import ConfigError
from ...intkernels import IExp, softmax
from ...numtype import Int, NumType, UInt
from ...structure import Features, TimingPath, add, dsp_tiles, multiplier_path
from ...vectors import StreamVectors
from ..rowunit import row_cycle_model
from . import testdata
from .hardware import EXP_STAGES, OUT_STAGES, Softmax
from .reference import SoftmaxReference


@dataclass(frozen=True, kw_only=True)
class SoftmaxConfig(BlockConfig):
    """Parameters of the integer softmax unit."""

    block_name: ClassVar[str] = "softmax"
    summary: ClassVar[str] = (
        "integer softmax over a streamed row (I-BERT i-exp, exact sum, one reciprocal per row): "
        "scores in, probabilities out"
    )

    max_len: int = param(64, "longest row (the row buffers' depth); a row ends at its `last` beat", "1..4096")
    act: NumType = param(Int(8), "score type", "Int of 2..16 bits")
    scale: float = param(0.0625, "real value of one score LSB (the I-BERT constants come from it)", "(0, ln 2]")
    out: NumType = param(UInt(8), "probability type: y / 2^bits is the probability (1.0 saturates)", "UInt 2..16")

    # ------------------------------------------------------------- derived
    @property
    def iexp(self) -> IExp:
        return _iexp(float(self.scale), self.act.max - self.act.min)

    @property
    def sum_bits(self) -> int:
        """Bits of the row sum ``Σ e`` (at most ``max_len · iexp(0)``)."""
        return (self.iexp.l_max * self.max_len).bit_length()

    @property
    def frac_bits(self) -> int:
        """``F``: the reciprocal is ``floor(2^F / Σ e)``."""
        return self.out.width + self.sum_bits

    @property
    def recip_bits(self) -> int:
        """Bits of the reciprocal (``Σ e ≥ iexp(0)``, so ``R < 2^(F − l_bits + 1)``)."""
        return self.frac_bits - self.iexp.l_bits + 1

    @property
    def div_cycles(self) -> int:
        """The restoring divider: one quotient bit per cycle, ``F + 1`` bits."""
        return self.frac_bits + 1

    def validate(self) -> None:
        check_range(self.where("max_len"), self.max_len, 1, 4096)
        if self.act.frac or not self.act.signed or not 2 <= self.act.width <= 16:
            raise ConfigError(self.where("act"), f"{self.act}: a signed integer of 2..16 bits")
        if self.out.frac or self.out.signed or not 2 <= self.out.width <= 16:
            raise ConfigError(self.where("out"), f"{self.out}: an unsigned integer of 2..16 bits")
        try:
            self.iexp.q_ln2  # noqa: B018 - validates the scale
        except ConfigError as e:
            raise ConfigError(self.where("scale"), e.detail) from None
        if self.iexp.l_bits > 24:
            raise ConfigError(self.where("scale"), f"{self.scale!r} makes iexp(0) a {self.iexp.l_bits}-bit value; "
                              "a scale of 2^-8 or coarser keeps it within 24 bits")  # fmt: skip

    def component(self) -> Softmax:
        return Softmax(self)

    def timing(self) -> Timing:
        n = self.max_len
        return Timing(
            latency=self.row_latency(1),
            ii=3,
            ops_per_beat=1,
            notes=f"a row of n scores: n cycles in, n + {EXP_STAGES} exponentials, {self.div_cycles} for the "
            f"reciprocal, n + {OUT_STAGES} out ({3 * n + self.div_cycles + EXP_STAGES + OUT_STAGES} cycles at "
            f"n = {n}); the first probability {self.row_latency(n)} cycles after the last score at n = {n}",
        )

    def row_latency(self, n: int) -> int:
        """Cycles from taking a row's last score to its first probability, for a row of ``n``."""
        return 1 + n + EXP_STAGES + self.div_cycles + OUT_STAGES

    # ------------------------------------------------------------- models
    def model(self, x: ArrayLike, last: ArrayLike) -> dict[str, np.ndarray]:
        """Golden model: per row (ended by ``last``), :func:`hwgen.intkernels.softmax` with this config's
        i-exp constants, ``sum_bits`` and ``out.width``: ``e_i = iexp(x_i − max x)``, ``R = floor(2^F / Σ e)``,
        ``y_i = min(2^W − 1, (e_i · R) >> sum_bits)``; ``last`` marks each row's final probability."""
        x = self.act.array(x).astype(np.int64)
        last = np.asarray(last).astype(bool)
        ys, lasts, start = [], [], 0
        for end in np.flatnonzero(last):
            row = x[start : end + 1]
            if len(row) > self.max_len:
                raise ConfigError("x", f"a row of {len(row)} scores; this unit takes rows of up to {self.max_len}")
            ys.append(softmax(row, self.iexp, self.sum_bits, self.out.width))
            lasts.append(np.arange(len(row)) == len(row) - 1)
            start = end + 1
        return {"y": np.concatenate(ys) if ys else np.zeros(0, np.int64),
                "last": np.concatenate(lasts).astype(np.int64) if lasts else np.zeros(0, np.int64)}  # fmt: skip

    def cycle_model(self, vectors: StreamVectors, *, arrivals: Arrivals | None = None) -> CycleModel:
        """Row by row: scores are taken one per cycle once offered; after a row's last score (taken at ``t``)
        its ``n`` probabilities are valid at ``t + row_latency(n) + j``; the next row's first score is taken
        from the cycle after the last probability."""
        return row_cycle_model(vectors.field("i", "last"), (arrivals or {}).get("i"), self.row_latency)

    def stimulus(self, rng: np.random.Generator, n: int = 200, *, corners: bool = True) -> StreamVectors:
        """``n`` random rows (random lengths, scores spread or concentrated), plus the corners: all-equal
        scores, one huge score, all most-negative, rows of length 1 and of ``max_len``."""
        return testdata.stimulus(self, rng, n, corners)

    @classmethod
    def test_configs(cls) -> dict[str, BlockConfig]:
        return testdata.configs(cls)

    def reference(self) -> SoftmaxReference:
        return SoftmaxReference(self)

    @classmethod
    def formal_configs(cls) -> dict[str, BlockConfig]:
        return testdata.formal_configs(cls)

    def result_wait(self) -> int:
        """The longest wait of a probability after its row's last score: the last one of a full row."""
        return self.row_latency(self.max_len) + self.max_len - 1

    # ------------------------------------------------------------- estimation
    def timing_paths(self, family: str) -> list[TimingPath]:
        """The exponential's second stage (the shift-add ``p``, the square, ``+ q_c``, the shift by ``z``); the
        first (the subtraction and the multiply-shift divider); the divider's subtract; the output multiply
        and saturation."""
        ie, size = self.iexp, self.register_bits
        w = self.act.width + 1
        shapes = {
            "exponential: offset, square, shift": {**multiplier_path(ie.l_bits, ie.l_bits, family), "adders": 2,
                                                    "carry_bits": 2 * ie.l_bits, "luts": 5},
            "exponential: max subtraction, z": {"adders": 2, "carry_bits": w + ie.z_divider[0].bit_length()},
            "reciprocal: restoring step": {"adders": 1, "carry_bits": self.sum_bits + 1, "luts": 1},
            "output: multiply, saturate": {**multiplier_path(ie.l_bits, self.recip_bits, family), "luts": 2},
        }  # fmt: skip
        return [TimingPath(name, size=size, **terms) for name, terms in shapes.items()]

    @property
    def register_bits(self) -> int:
        ie = self.iexp
        return 2 * (self.act.width + 1) + ie.l_bits + self.sum_bits * 2 + self.recip_bits + self.out.width + 40

    def features(self, family: str) -> Features:
        ie, n = self.iexp, self.max_len
        feat: Features = {}
        add(feat, "row buffers", mem_bits=n * (self.act.width + ie.l_bits))
        add(feat, "max and sum", acc_add_bits=self.act.width + self.sum_bits, reg_bits=self.act.width + self.sum_bits)
        add(feat, "exponential", dsp=dsp_tiles(ie.l_bits, ie.l_bits, family),
            acc_add_bits=3 * self.act.width + 2 * ie.l_bits, lut_mul=self.act.width * ie.z_divider[0].bit_length(),
            mux_bits=ie.l_bits * ie.l_bits.bit_length(), reg_bits=2 * (self.act.width + 1) + ie.l_bits)  # fmt: skip
        add(feat, "reciprocal", acc_add_bits=self.sum_bits + 1, reg_bits=2 * self.sum_bits + self.recip_bits)
        add(feat, "output", dsp=dsp_tiles(ie.l_bits, self.recip_bits, family), sat_bits=self.out.width,
            reg_bits=self.out.width + 1)  # fmt: skip
        add(feat, "control", ctrl=4, valid_bits=4)
        return feat


@lru_cache(maxsize=64)
def _iexp(scale: float, d_max: int) -> IExp:
    """One :class:`IExp` per (scale, range): its divider search runs once (configs keep only their fields)."""
    return IExp(scale, d_max)
