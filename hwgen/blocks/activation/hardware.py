"""The table activation unit's hardware: one ROM read port per lane, the read register is the output."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Module
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

if TYPE_CHECKING:
    from .config import ActivationConfig

#: Cycles from taking a beat to its results being valid (the ROM's read register).
LATENCY = 1


class Activation(wiring.Component):
    """``lanes`` table look-ups per beat. Ports: ``i`` (``lanes`` inputs), ``o`` (``lanes`` outputs)."""

    def __init__(self, config: ActivationConfig):
        self.config = cfg = config
        shape_in = cfg.act.shape if cfg.lanes == 1 else data.ArrayLayout(cfg.act.shape, cfg.lanes)
        shape_out = cfg.out.shape if cfg.lanes == 1 else data.ArrayLayout(cfg.out.shape, cfg.lanes)
        super().__init__({"i": In(stream.Signature(shape_in)), "o": Out(stream.Signature(shape_out))})

    def elaborate(self, platform: object) -> Module:
        cfg = self.config
        m = Module()
        advance = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(advance)
        with m.If(advance):
            m.d.sync += self.o.valid.eq(self.i.valid)
        table = [int(v) & ((1 << cfg.out.width) - 1) for v in cfg.table]
        xs = [self.i.payload] if cfg.lanes == 1 else [self.i.payload[k] for k in range(cfg.lanes)]
        ys = [self.o.payload] if cfg.lanes == 1 else [self.o.payload[k] for k in range(cfg.lanes)]
        for k, (x, y) in enumerate(zip(xs, ys)):
            rom = memory.Memory(shape=cfg.out.shape, depth=len(table), init=[_signed(v, cfg.out) for v in table])
            m.submodules[f"table{k}"] = rom
            port = rom.read_port()
            m.d.comb += [port.addr.eq(x - cfg.act.min), port.en.eq(advance), y.eq(port.data)]
        return m


def _signed(v: int, t: object) -> int:
    """A table word as the ROM's element type takes it (two's complement back to a signed value)."""
    return v - (1 << t.width) if t.signed and v >> (t.width - 1) else v
