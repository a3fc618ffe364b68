"""The table activation's behavioural reference for formal proofs: each result as a case over the inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Const, Module, Mux

from ...reference import Reference

if TYPE_CHECKING:
    from .config import ActivationConfig


class ActivationReference(Reference):
    """Per lane: the result of the taken input, a chain of comparisons against every input value (no
    memory, no register)."""

    def __init__(self, config: ActivationConfig):
        super().__init__(config.component())
        self.config = config

    def logic(self, m: Module) -> None:
        cfg, take, b = self.config, self.take["i"], self.beat["i"]
        xs = [b] if cfg.lanes == 1 else [b[k] for k in range(cfg.lanes)]
        ys = [self.result] if cfg.lanes == 1 else [self.result[k] for k in range(cfg.lanes)]
        for x, y in zip(xs, ys):
            v = Const(0, cfg.out.shape)
            for value, out in zip(range(cfg.act.min, cfg.act.max + 1), cfg.table):
                v = Mux(x == value, Const(int(out), cfg.out.shape), v)
            m.d.comb += y.eq(v)
        m.d.comb += self.emit.eq(take)
