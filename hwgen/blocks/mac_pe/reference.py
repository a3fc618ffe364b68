"""The MAC PE's behavioural reference for formal proofs: ``acc = fold(acc + Σ a·w)`` per beat, out on ``last``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Module

from ...reference import Accumulation, Reference, dot

if TYPE_CHECKING:
    from .config import MacPEConfig


class MacPEReference(Reference):
    """One dot product per output and taken beat folded into the accumulator by the overflow rule (``error`` as
    ``wrap``: the config proved the accumulator wide enough for ``max_len`` beats, and the proof assumes
    at most ``max_len``)."""

    def __init__(self, config: MacPEConfig):
        super().__init__(config.component())
        self.config = config

    def logic(self, m: Module) -> None:
        cfg, b = self.config, self.beat["i"]
        L, O = cfg.lanes, cfg.outputs
        acc = Accumulation(m, self, "i", cfg.acc, cfg.max_len, cfg.overflow, count=O)
        a = [b.a[k] for k in range(L)]
        dots = [dot(a, [b.w[j * L + k] for k in range(L)]) for j in range(O)]
        acc.step(dots if O > 1 else dots[0], b.last)
