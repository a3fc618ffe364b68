"""The native bench and cocotb see the same thing on every example design: every transfer in the same cycle
with the same payload, the same errors, under both default phases. (The blocks' configuration tables are
compared in tests/test_levels.py.) Also when a run goes wrong: a missing result times out in the same cycle.

Two examples run in ``make test``; every example in ``make test-full``."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwgen import Design, Int
from hwgen.blocks import MacPEConfig
from hwgen.sim.check import DEFAULT_PHASES
from hwgen.sim.native import run_native
from hwgen.sim.raw import to_raw
from hwgen.sim.runner import run_cocotb
from hwgen.sim.verify import design_vectors
from hwgen.spec import load_designs

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted([*ROOT.glob("examples/*.py"), *ROOT.glob("examples/*.toml")])
QUICK = {"mac_pe_int8.toml", "sparse_chain_16.py"}


def _same(design: Design, raw_in: dict, raw_exp: dict, timeout_cycles: int = 2000) -> list:
    comp = design.component()
    native = run_native(
        design.verilog, design.name, comp, raw_in, raw_exp, DEFAULT_PHASES, timeout_cycles=timeout_cycles
    )
    cocotb = run_cocotb(design.verilog, design.name, raw_in, raw_exp, DEFAULT_PHASES, timeout_cycles=timeout_cycles)
    assert len(native.phases) == len(cocotb.phases) == len(DEFAULT_PHASES)
    for n, c in zip(native.phases, cocotb.phases):
        for what, value in n.transfers().items():
            assert value == c.transfers()[what], f"{design.name} phase {n.name}: {what} differ"
        assert (n.errors, n.timeout_cycle) == (c.errors, c.timeout_cycle)
    return native.phases


@pytest.mark.parametrize(
    "path", [p if p.name in QUICK else pytest.param(p, marks=pytest.mark.slow) for p in EXAMPLES], ids=lambda p: p.name
)
def test_every_example_looks_the_same_in_both_benches(path):
    for design in load_designs(path):
        stim = design_vectors(design, 60, 5, None)
        phases = _same(design, *to_raw(design.component(), stim))
        assert all(p.passed for p in phases), [p.errors for p in phases]


def test_a_missing_result_times_out_in_the_same_cycle():
    cfg = MacPEConfig(lanes=2, acc=Int(20), overflow="wrap")
    design = Design(name="pe_fail", top=cfg)
    raw_in, raw_exp = to_raw(design.component(), design_vectors(design, 30, 2, None))
    raw_exp["o"] = raw_exp["o"] + [0]  # one result more than the design will ever give
    phases = _same(design, raw_in, raw_exp, timeout_cycles=50)
    assert all(p.timeout_cycle is not None and p.errors[0].startswith("timeout") for p in phases)
