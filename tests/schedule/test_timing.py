"""The engine's core stages chosen for a target clock (``Machine.clock_mhz``): what is chosen, that an
explicit setting wins, that the cost model and the engine use the same stages, and bad clocks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hwgen import ConfigError
from hwgen.estimate.timing import TIMING_MARGIN, estimate_fmax
from hwgen.schedule import Machine, compile_schedule
from hwgen.schedule.engine import plan_engine
from hwgen.schedule.run import run_schedule
from hwgen.schedule.timing import engine_core, machine_for_clock

from .test_engine import CASES, inputs


def _estimate(graph, machine) -> float:
    return estimate_fmax(engine_core(graph, machine), machine.family).fmax_mhz


def test_without_a_clock_the_cores_have_no_extra_stages():
    g, m = CASES["chain-2core"]
    s = compile_schedule(g, m, "auto")
    assert (s.machine.epilogue_stages, s.machine.mac_stages) == (0, 0)
    assert s.timing_note == ""


@pytest.mark.parametrize("clock", [40, 70, 100])
def test_a_clock_chooses_the_cheapest_stages_that_meet_it_or_the_fastest(clock):
    g, m = CASES["chain-2core"]
    timed = replace(m, epilogue_stages=None, mac_stages=None, clock_mhz=clock)
    chosen, note = machine_for_clock(g, timed)
    assert chosen.resolved and note
    candidates = engine_core(g, chosen).timing_candidates("ecp5")
    estimates = [_estimate(g, replace(chosen, **c)) for c in candidates]
    picked = candidates.index({"epilogue_stages": chosen.epilogue_stages, "mac_stages": chosen.mac_stages})
    need = clock * (1 + TIMING_MARGIN)
    if estimates[picked] >= need:  # meets the clock, and no cheaper candidate does
        assert all(e < need for e in estimates[:picked])
        assert "≥" in note
    else:  # none meets it: the fastest is kept
        assert estimates[picked] == max(estimates) and all(e < need for e in estimates)
        assert "no setting reaches" in note


def test_more_clock_never_chooses_a_slower_core():
    g, m = CASES["chain-2core"]
    est = [
        _estimate(g, machine_for_clock(g, replace(m, epilogue_stages=None, mac_stages=None, clock_mhz=c))[0])
        for c in (30, 60, 90)
    ]
    assert est[0] >= 30 * (1 + TIMING_MARGIN) and est == sorted(est)


def test_an_explicit_stage_count_wins_over_the_clock():
    g, m = CASES["chain-2core"]
    chosen, _ = machine_for_clock(g, replace(m, epilogue_stages=0, mac_stages=None, clock_mhz=200))
    assert chosen.epilogue_stages == 0
    fixed = replace(m, epilogue_stages=1, mac_stages=2, clock_mhz=200)
    assert machine_for_clock(g, fixed) == (fixed, "")


def test_a_clocked_machine_runs_in_the_engine_exactly_as_modelled():
    """The compiler and the engine resolve the same stages: outputs, cycles and traffic agree."""
    g, m = CASES["chain-2core"]
    timed = replace(m, epilogue_stages=None, mac_stages=None, clock_mhz=100)
    s = compile_schedule(g, timed, "dataflow")
    assert s.report()["core_stages"]["epilogue_stages"] == s.machine.epilogue_stages
    core = plan_engine(g, timed, s).core_config(0)
    assert (core.epilogue_stages, core.mac_stages) == (s.machine.epilogue_stages, s.machine.mac_stages)
    x = inputs(g)
    run = run_schedule(g, timed, "dataflow", x)
    assert run.compare({o: g.run(x)[o] for o in g.outputs()}) == []


@pytest.mark.parametrize(
    ("fields", "where", "detail"),
    [
        ({"clock_mhz": 0}, "machine.clock_mhz", "must be > 0"),
        ({"clock_mhz": 5000}, "machine.clock_mhz", r"not a clock in \(0, 2000\]"),
        ({"clock_mhz": "fast"}, "machine.clock_mhz", "expected a number"),
        ({"family": "virtex2"}, "machine.family", "is not one of"),
        ({"mac_stages": 3}, "machine.mac_stages", "allowed 0..2"),
        ({"epilogue_stages": 6}, "machine.epilogue_stages", "allowed 0..5"),
    ],
)
def test_bad_timing_fields_name_the_field(fields, where, detail):
    with pytest.raises(ConfigError, match=rf"{where}: .*{detail}"):
        Machine(**fields)
