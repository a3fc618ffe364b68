"""The delay lines of hwgen.pipeline under Amaranth's simulator: every variant delays by exactly its cycle
count of *advancing* cycles (random stalls), against a Python queue model."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from hwgen.pipeline import delay, long_delay, ram_delay
from hwgen.verilog import to_verilog


class _Delay(wiring.Component):
    def __init__(self, kind: str, cycles: int):
        self.kind, self.cycles = kind, cycles
        super().__init__({"x": In(signed(12)), "advance": In(1), "y": Out(signed(12))})

    def elaborate(self, platform: object) -> Module:
        m = Module()
        if self.kind == "shift":
            y = delay(m, self.x, self.cycles, self.advance, "d")
        elif self.kind == "long":
            y = long_delay(m, self.x, self.cycles, self.advance, "d")
        else:
            y = ram_delay(m, self.x, self.cycles, self.advance, "d", read=self.kind)
        m.d.comb += self.y.eq(y)
        return m


@pytest.mark.parametrize("kind", ["shift", "long", "comb", "sync"])
@pytest.mark.parametrize("cycles", [2, 4, 9, 17])
def test_delay_is_exact_in_advancing_cycles(kind, cycles):
    rng = np.random.default_rng(cycles)
    dut = _Delay(kind, cycles)
    xs = rng.integers(-2048, 2048, 400)
    advances = rng.random(400) < 0.7
    got, want = [], []

    async def bench(ctx):
        history = [0] * cycles  # what the line holds: oldest first (all zero at start)
        for x, adv in zip(xs, advances):
            ctx.set(dut.x, int(x))
            ctx.set(dut.advance, int(adv))
            got.append(ctx.get(dut.y))
            want.append(history[0])
            await ctx.tick()
            if adv:
                history = history[1:] + [int(x)]

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert np.array_equal(got, want)
    assert len(set(want)) > 100  # values do flow through


def test_ram_delay_read_ports():
    """comb: ``cycles`` words read asynchronously (no read register); sync: ``cycles - 1`` words and the
    read port's register (block RAM)."""
    for read, words in (("comb", 9), ("sync", 8)):
        text = to_verilog(_Delay(read, 9), f"d_{read}")
        assert f"reg [11:0] d_ram [{words - 1}:0];" in text
        registered = "<= d_ram[" in text.replace("\\", "").replace(" ]", "]")
        assert registered == (read == "sync"), text
