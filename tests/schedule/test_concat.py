"""The concat op: the golden model against an independent rule; the engine against the golden model and the
cost report at every policy and with registered feeds; its row time exact; bad input."""

from __future__ import annotations

import numpy as np
import pytest

import hwgen.schedule.cost as cost
from hwgen import ConfigError, Int
from hwgen.schedule import Machine, TaskGraph, compile_schedule
from hwgen.schedule.run import run_schedule
from tests.references import round_to_even

MACHINE = Machine(cores=4, lanes=2, onchip_bytes=4096, offchip_bytes_per_cycle=2, offchip_latency=3)
RESCALE = [(1 << 30, 31, 0), (3 << 28, 30, 5)]


def joined(seed=0) -> TaskGraph:
    """Two gemm branches concatenated with requantization, then concatenated exactly with one of them."""
    rng = np.random.default_rng(seed)
    g = TaskGraph("cat")
    g.input("x", 5, 8)
    g.gemm("a", "x", rng.integers(-8, 8, (8, 6)), acc=Int(20))
    g.requant("a8", "a", multiplier=1 << 16, shift=18)
    g.gemm("b", "x", rng.integers(-8, 8, (8, 3)), acc=Int(20))
    g.requant("b8", "b", multiplier=1 << 16, shift=17, zero_point=5)
    g.concat("c", ["a8", "b8"], rescale=RESCALE, zero_point=-2)
    g.concat("d", ["a8", "c"])
    g.gemm("o", "d", rng.integers(-8, 8, (15, 4)), acc=Int(20))
    return g


def data(g, seed=3):
    rng = np.random.default_rng(seed)
    return {"x": rng.integers(-128, 128, (5, 8))}


@pytest.mark.parametrize("seed", range(3))
def test_concat_golden_model_equals_the_rule(seed):
    g = joined(seed)
    env = g.run(data(g, seed))
    want = []
    for ra, rb in zip(env["a8"].tolist(), env["b8"].tolist()):
        row = []
        for vals, (m, s, z) in ((ra, RESCALE[0]), (rb, RESCALE[1])):
            row += [min(127, max(-128, -2 + round_to_even((v - z) * m, s))) for v in vals]
        want.append(row)
    assert np.array_equal(env["c"], np.array(want))
    assert np.array_equal(env["d"], np.concatenate([env["a8"], env["c"]], axis=1)) and g.tasks["d"].cols == 15


@pytest.mark.parametrize("policy", ["auto", "dataflow", "sequential"])
def test_engine_runs_concats_exactly(policy):
    g = joined()
    x = data(g)
    assert run_schedule(g, MACHINE, policy, x).compare({"o": g.run(x)["o"]}) == []


def test_engine_runs_concats_with_registered_feeds_on_the_native_bench():
    g = joined(1)
    x = data(g, 4)
    m = Machine(**{**MACHINE.__dict__, "feed_stages": 1, "mac_stages": 2, "epilogue_stages": 1})
    assert run_schedule(g, m, "dataflow", x, sim="native").compare({"o": g.run(x)["o"]}) == []


def test_concat_row_time_is_exact(monkeypatch):
    g = joined()
    s = compile_schedule(g, MACHINE, "sequential")
    plan = next(p for p in s.plans if p.ops == ("d",))
    assert plan.unit_cycles["core:d"] > plan.unit_cycles["memory"]
    real = cost.unit_row_cycles
    monkeypatch.setattr(cost, "unit_row_cycles", lambda opg, op, c, m: real(opg, op, c, m) - (op == "d"))
    run = run_schedule(g, MACHINE, "sequential", data(g))
    assert run.cycles > run.schedule.cycles


def test_concat_bad_input():
    g = TaskGraph("bad")
    g.input("a", 4, 3)
    g.input("b", 5, 3)
    with pytest.raises(ConfigError, match=r"graph\.c\.inputs: \['a'\]: a list of two or more tensors"):
        g.concat("c", ["a"])
    with pytest.raises(ConfigError, match=r"graph\.d\.rescale: \[\(1, 0, 0\)\]: one \(multiplier, shift, zero_in\)"):
        g.concat("d", ["a", "b"], rescale=[(1, 0, 0)])
    g.concat("e", ["a", "b"])
    with pytest.raises(ConfigError, match=r"graph\.e: its inputs have different rows \(a 4, b 5\)"):
        g.validate()
