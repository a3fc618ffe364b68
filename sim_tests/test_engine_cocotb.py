"""cocotb on the generated schedule engines of the InTAR examples: every example under every policy runs
end to end against the off-chip memory model; outputs equal NumPy, and the measured cycles and off-chip
bytes equal the compiler's cost report exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwgen.schedule import POLICIES
from hwgen.schedule.run import run_schedule
from hwgen.sim.runner import have_icarus
from hwgen.spec import load_schedule

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples" / "schedules").glob("*.py"))


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_end_to_end_on_verilator(path, policy):
    g, machine, x = load_schedule(path)
    golden = {o: g.run(x)[o] for o in g.outputs()}
    run = run_schedule(g, machine, policy, x, sim="verilator")
    assert run.compare(golden) == []


@pytest.mark.icarus
@pytest.mark.skipif(not have_icarus(), reason="iverilog not on PATH (install Icarus to run this)")
def test_attention_auto_on_icarus():
    g, machine, x = load_schedule(EXAMPLES[0])
    run = run_schedule(g, machine, "auto", x, sim="icarus")
    assert run.compare({o: g.run(x)[o] for o in g.outputs()}) == []
