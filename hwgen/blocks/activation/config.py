"""The table activation unit's configuration: parameters, the table, golden model, cycle model, features."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike

from ...config import Arrivals, BlockConfig, CycleModel, Timing, check_range, param, pipeline_cycle_model
from ...errors import ConfigError
from ...numtype import Int, NumType
from ...structure import Features, TimingPath, add
from ...vectors import StreamVectors, biased
from .hardware import LATENCY, Activation
from .reference import ActivationReference

Function = Literal["gelu", "silu", "sigmoid", "tanh"]
#: The functions, in float64 (Python's math library).
FUNCTIONS = {
    "gelu": lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))),
    "silu": lambda v: v / (1.0 + math.exp(-v)) if v > -700 else 0.0,
    "sigmoid": lambda v: 1.0 / (1.0 + math.exp(-v)) if v > -700 else 0.0,
    "tanh": math.tanh,
}
#: Largest table (input bits up to 12).
MAX_INPUT_BITS = 12


@dataclass(frozen=True, kw_only=True)
class ActivationConfig(BlockConfig):
    """Parameters of the table activation unit."""

    block_name: ClassVar[str] = "activation"
    summary: ClassVar[str] = "element-wise GELU / SiLU / sigmoid / tanh by table on quantized integers, lanes per beat"

    function: Function = param("gelu", "the function", "gelu | silu | sigmoid | tanh")
    lanes: int = param(1, "elements per beat (one table read port each)", "1..16")
    act: NumType = param(Int(8), "input type", f"Int/UInt of 2..{MAX_INPUT_BITS} bits")
    in_scale: float = param(0.0625, "real value of one input LSB", "> 0")
    out: NumType = param(Int(8), "output type", "Int/UInt of 2..16 bits")
    out_scale: float = param(0.0625, "real value of one output LSB", "> 0")

    def validate(self) -> None:
        check_range(self.where("lanes"), self.lanes, 1, 16)
        for name, top in (("act", MAX_INPUT_BITS), ("out", 16)):
            t = getattr(self, name)
            if t.frac or not 2 <= t.width <= top:
                raise ConfigError(self.where(name), f"{t}: integers of 2..{top} bits")
        for name in ("in_scale", "out_scale"):
            v = getattr(self, name)
            if not math.isfinite(v) or v <= 0:
                raise ConfigError(self.where(name), f"{v!r}: a positive real")

    @property
    def table(self) -> np.ndarray:
        """Output of every input value ``act.min .. act.max``, in that order."""
        return _table(self.function, self.act, float(self.in_scale), self.out, float(self.out_scale))

    def component(self) -> Activation:
        return Activation(self)

    def timing(self) -> Timing:
        return Timing(latency=LATENCY, ii=1, ops_per_beat=self.lanes, notes="a table read per lane, one beat a cycle")

    def model(self, x: ArrayLike) -> np.ndarray:
        """Golden model: ``clamp(round_half_even(f(x · in_scale) / out_scale), out.min, out.max)`` of every
        element — :attr:`table` looked up."""
        x = self.act.array(x).astype(np.int64)
        return self.table[x - self.act.min]

    def cycle_model(self, vectors: StreamVectors, *, arrivals: Arrivals | None = None) -> CycleModel:
        """One beat per cycle; each result ``LATENCY`` cycle after its beat is taken."""
        beats = vectors.beats("i")
        return pipeline_cycle_model("i", "o", beats, range(beats), LATENCY, arrivals)

    def stimulus(self, rng: np.random.Generator, n: int = 1000, *, corners: bool = True) -> StreamVectors:
        """``n`` beats of random inputs (a quarter at the type's edges), plus every input value once."""
        x = biased(rng, self.act, (n, self.lanes))
        names = []
        if corners:
            every = np.arange(self.act.min, self.act.max + 1)
            pad = (-len(every)) % self.lanes
            every = np.concatenate([every, np.full(pad, self.act.max)]).reshape(-1, self.lanes)
            x = np.concatenate([every, x])
            names = ["every input value"]
        x = x.reshape(-1) if self.lanes == 1 else x
        y = self.model(x)
        return StreamVectors(
            inputs={"i": x}, expected={"o": y}, triggers={"o": ("i", np.arange(len(x)))}, corners=names
        )

    @classmethod
    def test_configs(cls) -> dict[str, BlockConfig]:
        return {
            "gelu_int8": cls(),
            "silu_int8_l4": cls(function="silu", lanes=4),
            "sigmoid_int10_u8": cls(
                function="sigmoid", act=Int(10), in_scale=1 / 64, out=NumType(8, False), out_scale=1 / 256
            ),  # fmt: skip
            "tanh_int6_l3": cls(function="tanh", act=Int(6), in_scale=1 / 8, out=Int(8), out_scale=1 / 127, lanes=3),
        }

    def reference(self) -> ActivationReference:
        return ActivationReference(self)

    @classmethod
    def formal_configs(cls) -> dict[str, BlockConfig]:
        return {"gelu_int3_l2": cls(act=Int(3), in_scale=0.5, out=Int(4), out_scale=0.25, lanes=2)}

    def timing_paths(self, family: str) -> list[TimingPath]:
        """The table read (a memory's output register to the output's)."""
        return [TimingPath("table read", memory=1, luts=1, size=self.lanes * (self.act.width + self.out.width))]

    def features(self, family: str) -> Features:
        feat: Features = {}
        add(feat, "tables", mem_bits=self.lanes * (1 << self.act.width) * self.out.width)
        add(feat, "registers", reg_bits=self.lanes * self.out.width, valid_bits=1)
        return feat


@lru_cache(maxsize=64)
def _table(function: str, act: NumType, in_scale: float, out: NumType, out_scale: float) -> np.ndarray:
    f = FUNCTIONS[function]
    x = np.arange(act.min, act.max + 1)
    y = np.array([f(float(v) * in_scale) / out_scale for v in x])
    return np.clip(np.rint(y), out.min, out.max).astype(np.int64)
