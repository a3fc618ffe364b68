"""The engine's feed register stage (:func:`hwgen.schedule.engine.units.feed_queue`) under Amaranth's
simulator, against a Python queue: random offers and random stalls, words from two banks."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from hwgen.schedule.engine.units import feed_queue


class _Queue(wiring.Component):
    def __init__(self):
        super().__init__(
            {
                "valid": In(1), "w0": In(8), "w1": In(8), "bank": In(1), "taken": In(1),
                "ready": Out(1), "out_valid": Out(1), "out": Out(8),
            }
        )  # fmt: skip

    def elaborate(self, platform: object) -> Module:
        m = Module()
        ready = Signal()
        valid, data = feed_queue(m, "f", self.valid, [self.w0, self.w1], self.bank, ready, self.taken)
        m.d.comb += [self.ready.eq(ready), self.out_valid.eq(valid), self.out.eq(data)]
        return m


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_feed_queue_passes_every_word_in_order_a_cycle_later(seed):
    """Each word offered while ready comes out in order; an empty queue shows a word the cycle after it is
    offered; ``ready`` is low exactly when two words wait."""
    rng = np.random.default_rng(seed)
    words = [int(v) for v in rng.integers(0, 256, 300)]
    offer, take = rng.random(2000) < 0.8, rng.random(2000) < (0.3 + 0.2 * seed)
    got: list[int] = []
    checks = {"one_cycle": 0, "full": 0}

    async def bench(ctx):
        queue: list[int] = []  # the Python model: the words the stage holds, oldest first
        i = 0
        for cyc in range(2000):
            w = words[i] if i < len(words) else 0
            bank = int(rng.integers(0, 2))
            ctx.set(dut.valid, int(offer[cyc] and i < len(words)))
            ctx.set(dut.w0 if bank == 0 else dut.w1, w)
            ctx.set(dut.w1 if bank == 0 else dut.w0, (w * 7 + 3) % 256)  # the other bank's data: ignored
            ctx.set(dut.bank, bank)
            ctx.set(dut.taken, int(take[cyc]))
            assert ctx.get(dut.ready) == (len(queue) < 2)
            assert ctx.get(dut.out_valid) == (len(queue) > 0)
            if queue:
                assert ctx.get(dut.out) == queue[0]
            popped = bool(queue) and take[cyc]
            pushed = offer[cyc] and i < len(words) and len(queue) < 2
            if popped:
                got.append(queue.pop(0))
            if pushed:
                checks["one_cycle"] += not queue
                queue.append(w)
                i += 1
            checks["full"] += len(queue) == 2
            await ctx.tick()

    dut = _Queue()
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert got == words
    assert checks["one_cycle"] > 10 and checks["full"] > 10  # both the empty and the full queue were seen
