"""The cocotb testbench of the schedule engine: the off-chip memory model on its memory streams.

Run by :func:`hwgen.sim.runner.run_cocotb_memory`. Reads the memory model's
parameters and contents from the JSON file named by ``HWGEN_BENCH``, steps
:class:`~hwgen.sim.memory.MemoryModel` once per cycle until ``done`` rises,
and writes what the memory saw (final tensors, traffic, the ``done`` cycle)
to ``HWGEN_RESULT``. Cycle 0 is the first cycle with reset low, as in the
Amaranth bench.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly

from hwgen.sim.cocotb_clocking import reset, start_clock
from hwgen.sim.memory import MemoryModel

DRIVEN = ("mem_req__ready", "mem_rd__valid", "mem_rd__payload", "mem_wr__ready")
SAMPLED = ("mem_req__valid", "mem_req__payload", "mem_rd__ready", "mem_wr__valid", "mem_wr__payload", "done")
# (valid before payload: a payload's X bits are ignored while its valid is low)


@cocotb.test()
async def memory_bench(dut: Any) -> None:
    with open(os.environ["HWGEN_BENCH"]) as f:
        spec = json.load(f)
    model = MemoryModel(
        spec["tensors"],
        spec["bytes_per_cycle"],
        spec["latency"],
        tensor_bits=spec["tensor_bits"],
        row_bits=spec["row_bits"],
        data_width=spec["data_width"],
        max_cycles=spec["max_cycles"],
    )
    handles = {n: getattr(dut, n) for n in DRIVEN + SAMPLED}
    driven = [handles[n] for n in DRIVEN]
    await start_clock(dut, driven)
    await reset(dut, driven)
    first = True
    t0 = time.perf_counter()
    while not model.finished:
        if not first:
            await FallingEdge(dut.clk)
        first = False
        for n, v in model.drive().items():
            handles[n].value = v
        await ReadOnly()
        values = {}
        for n in SAMPLED:
            v = handles[n].value
            if not v.is_resolvable:
                valid = n.replace("__payload", "__valid")
                if n.endswith("__payload") and values.get(valid) == 0:
                    values[n] = 0  # a payload is only looked at while its valid is high
                    continue
                raise AssertionError(f"cycle {model.cycle}: {n} carries X/Z bits (an uninitialized or undriven signal)")
            values[n] = int(v)
        model.sample(values)
    model.result.seconds = time.perf_counter() - t0
    with open(os.environ["HWGEN_RESULT"], "w") as f:
        json.dump(model.result.to_json(), f)
    assert not model.result.errors, "; ".join(model.result.errors[:5])
