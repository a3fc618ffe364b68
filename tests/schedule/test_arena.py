"""Scratchpad allocation (hwgen.schedule.arena): hand-computed placements; on random bank sets no two banks
that live at once overlap, no memory holds two banks produced in one stage, and the size never falls under the
live peak; the engine builds exactly the allocated memories and runs a shared schedule exactly."""

from __future__ import annotations

import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hwgen import Int, UInt
from hwgen.schedule import compile_schedule
from hwgen.schedule.arena import Bank, allocate
from hwgen.schedule.engine import build_engine
from hwgen.schedule.run import run_schedule
from hwgen.verilog import to_verilog
from tests.schedule.test_optimize import random_case


def test_banks_with_disjoint_lifetimes_share_a_memory_at_offset_zero():
    a = Bank("a", 0, 64, Int(8), 0, 1)
    b = Bank("b", 0, 32, Int(8), 2, 3)  # born after a's last read
    c = Bank("c", 0, 16, Int(8), 1, 2)  # coexists with both: sharing would grow the memory by all of c
    alloc = allocate([a, b, c], {"a": 1, "b": 1, "c": 1})
    assert alloc.place == {("a", 0): (0, 0), ("b", 0): (0, 0), ("c", 0): (1, 0)}
    assert alloc.bytes == 80 and alloc.live_peak_bytes == 80  # stage 1 or 2: a + c, b + c
    d = Bank("d", 0, 24, Int(8), 3, 4)  # coexists with b only: first fit above it, growing nothing
    alloc = allocate([a, b, c, d], {"a": 1, "b": 1, "c": 1, "d": 1})
    assert alloc.place[("d", 0)] == (0, 32) and alloc.memories[0].depth == 64 and alloc.bytes == 80


def test_one_write_port_types_and_no_benefit_keep_memories_apart():
    same_stage = [Bank("t", 0, 8, Int(8), 1, 2), Bank("t", 1, 8, Int(8), 1, 2)]  # a tensor's two banks
    assert len(allocate(same_stage, {"t": 1}).memories) == 2
    types = [Bank("a", 0, 8, Int(8), 0, 0), Bank("b", 0, 8, UInt(8), 1, 1)]
    assert len(allocate(types, {"a": 1, "b": 1}).memories) == 2
    overlapping = [Bank("a", 0, 8, Int(8), 0, 3), Bank("b", 0, 8, Int(8), 1, 2)]  # sharing would not save
    alloc = allocate(overlapping, {"a": 1, "b": 1})
    assert len(alloc.memories) == 2 and alloc.bytes == 16


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(0, 6), st.integers(0, 4), st.booleans()), min_size=1,
                max_size=14))  # fmt: skip
def test_random_allocations_keep_their_rules(specs):
    banks = [Bank(f"t{i}", 0, w, Int(8) if s else Int(16), f, f + span) for i, (w, f, span, s) in enumerate(specs)]
    sizes = {b.tensor: 1 if b.dtype == Int(8) else 2 for b in banks}
    alloc = allocate(banks, sizes)
    assert set(alloc.place) == {(b.tensor, 0) for b in banks}
    for mem in alloc.memories:
        assert all(b.dtype == mem.dtype and off + b.words <= mem.depth for b, off in mem.banks)
        for (b1, o1), (b2, o2) in ((x, y) for i, x in enumerate(mem.banks) for y in mem.banks[i + 1 :]):
            assert b1.first != b2.first  # one write port
            if b1.first <= b2.last and b2.first <= b1.last:  # alive together: apart
                assert o1 + b1.words <= o2 or o2 + b2.words <= o1
    assert alloc.live_peak_bytes <= alloc.bytes <= sum(b.words * sizes[b.tensor] for b in banks)


def _memory_bytes(verilog: str) -> int:
    """Bytes of the engine's data memories (ring, scratchpad and write-back), from their declarations."""
    total = 0
    for hi, name, depth in re.findall(r"reg\s*(?:signed\s*)?\[(\d+):0\]\s*(\S+)\s*\[(\d+):0\]", verilog):
        if re.match(r"(in_|scratch_m|wb_)", name):
            total += (int(depth) + 1) * -(-(int(hi) + 1) // 8)
    return total


def test_the_engine_builds_the_allocation_and_runs_it_exactly():
    """Seed 26: seven stages in a row, 224 bytes of scratchpads shared down to 152 (the live peak); the
    engine's memories are exactly the report's on-chip bytes, and it runs exactly."""
    g, m = random_case(26, capacities=(65536,))
    s = compile_schedule(g, m)
    scratch = sum(v for k, v in s.buffers.items() if k.kind == "scratch")
    assert (scratch, s.allocation.bytes, s.allocation.live_peak_bytes) == (224, 152, 152)
    assert s.shared_onchip_bytes == s.onchip_bytes - 72
    assert _memory_bytes(to_verilog(build_engine(g, m, s), "engine")) == s.shared_onchip_bytes
    x = {"x": np.random.default_rng(4).integers(-128, 128, (g.tasks["x"].rows, g.tasks["x"].cols))}
    run = run_schedule(g, m, "auto", x, sim="native")
    assert run.compare({o: g.run(x)[o] for o in g.outputs()}) == []
    assert run.cycles == s.cycles
