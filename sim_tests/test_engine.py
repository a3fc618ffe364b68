"""The generated schedule engines of the InTAR examples end to end against the off-chip memory model.

Every example under every policy runs in the native Verilator bench: outputs equal NumPy, and the measured
cycles and off-chip bytes equal the compiler's cost report exactly. cocotb on Verilator and on Icarus sees
exactly what the native bench sees (final memory, requests with their cycles, traffic, the ``done`` cycle).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hwgen.schedule import POLICIES
from hwgen.schedule.compiler import compile_schedule
from hwgen.schedule.engine import build_engine
from hwgen.schedule.run import memory_spec, run_schedule
from hwgen.sim.native_memory import run_native_memory
from hwgen.sim.runner import have_icarus, run_cocotb_memory
from hwgen.spec import load_schedule
from hwgen.verilog import to_verilog

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples" / "schedules").glob("*.py"))


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_end_to_end_in_the_native_bench(path, policy):
    g, machine, x = load_schedule(path)
    golden = {o: g.run(x)[o] for o in g.outputs()}
    run = run_schedule(g, machine, policy, x, sim="native")
    assert run.compare(golden) == []


@pytest.mark.parametrize(
    "sim",
    [
        "verilator",
        pytest.param(
            "icarus", marks=[pytest.mark.icarus, pytest.mark.skipif(not have_icarus(), reason="iverilog not on PATH")]
        ),
    ],
)
def test_cocotb_sees_what_the_native_bench_sees(sim):
    g, machine, x = load_schedule(EXAMPLES[0])
    engine = build_engine(g, machine, compile_schedule(g, machine, "auto"))
    spec = memory_spec(engine, x)
    top = f"engine_{g.name}_auto"
    verilog = to_verilog(engine, top)
    native = run_native_memory(verilog, top, engine, spec)
    cocotb = run_cocotb_memory(verilog, top, spec, sim=sim)
    cocotb["requests"] = [tuple(r) for r in cocotb["requests"]]
    assert native.pop("seconds") > 0 and cocotb.pop("seconds") > 0
    assert native == cocotb
    assert native["done_cycle"] is not None and not native["errors"]
