"""cocotb on the generated schedule engines of the InTAR examples: every example under every policy runs
end to end against the off-chip memory model; outputs equal NumPy, and the measured cycles and off-chip
bytes equal the compiler's cost report exactly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hwgen.schedule.run import run_schedule
from hwgen.sim.runner import have_icarus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "scripts"))
import intar_schedules as example  # noqa: E402


@pytest.mark.parametrize("policy", example.POLICIES)
@pytest.mark.parametrize("graph", list(example.GRAPHS))
def test_example_end_to_end_on_verilator(graph, policy):
    g = example.GRAPHS[graph]()
    x = example.inputs_for(g)
    golden = {o: g.run(x)[o] for o in g.outputs()}
    run = run_schedule(g, example.MACHINE, policy, x, sim="verilator")
    assert run.compare(golden) == []


@pytest.mark.icarus
@pytest.mark.skipif(not have_icarus(), reason="iverilog not on PATH (install Icarus to run this)")
def test_attention_auto_on_icarus():
    g = example.attention()
    x = example.inputs_for(g)
    run = run_schedule(g, example.MACHINE, "auto", x, sim="icarus")
    assert run.compare({o: g.run(x)[o] for o in g.outputs()}) == []
