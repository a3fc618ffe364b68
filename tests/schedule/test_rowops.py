"""Row ops (softmax, norm, activation, top-k) in task graphs and on the schedule engine: the golden model against the
independent references row by row; the engine against the golden model and the cost report, at every policy,
in Amaranth's simulator and the native bench; every unit's per-row time exact (one cycle less and the
engine runs longer than the report); what cannot be built is a clear error."""

from __future__ import annotations

import numpy as np
import pytest

import hwgen.schedule.cost as cost
from hwgen import ConfigError, Int
from hwgen.schedule import Machine, TaskGraph, compile_schedule
from hwgen.schedule.run import run_schedule
from hwgen.vectors import StreamVectors
from tests import references

MACHINE = Machine(cores=4, lanes=2, onchip_bytes=2048, offchip_bytes_per_cycle=2, offchip_latency=3)


def layer(rows=4, seed=0) -> TaskGraph:
    """gemm -> LayerNorm -> GELU -> gemm -> softmax -> gemm -> RMSNorm -> residual add -> gemm, and the top-3
    of the second gemm's rows."""
    rng = np.random.default_rng(seed)
    g = TaskGraph("rows")
    g.input("x", rows, 8)
    g.gemm("a", "x", rng.integers(-8, 8, (8, 12)), acc=Int(20))
    g.requant("a8", "a", multiplier=1 << 16, shift=18)
    g.norm("n", "a8", out=Int(8), out_frac=4)
    g.activation("g", "n", function="gelu", in_scale=1 / 16, out=Int(8), out_scale=1 / 16)
    g.gemm("b", "g", rng.integers(-8, 8, (12, 6)), acc=Int(20))
    g.requant("b8", "b", multiplier=1 << 16, shift=17)
    g.softmax("p", "b8", scale=1 / 16)
    g.topk("t", "b8", k=3)
    g.gemm("c", "p", rng.integers(-8, 8, (6, 5)), acc=Int(20))
    g.requant("c8", "c", multiplier=1 << 16, shift=20)
    g.norm("r", "c8", mode="rmsnorm", out=Int(6), out_frac=3)
    g.add("s", "r", "c8")
    g.gemm("o", "s", rng.integers(-8, 8, (5, 3)), acc=Int(20))
    return g


def data(g: TaskGraph, seed=3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: rng.integers(-128, 128, (t.rows, t.cols)) for n, t in g.tasks.items() if t.op == "input"}


def _rows_vectors(x: np.ndarray, kind: str, k: int = 0) -> StreamVectors:
    if kind == "activation":
        return StreamVectors(inputs={"i": x.reshape(-1)}, expected={})
    last = np.tile(np.arange(x.shape[1]) == x.shape[1] - 1, x.shape[0]).astype(int)
    if kind == "topk":
        return StreamVectors(inputs={"i": {"score": x.reshape(-1), "k": np.full(x.size, k), "last": last}}, expected={})
    return StreamVectors(inputs={"i": {"x": x.reshape(-1), "last": last}}, expected={})


@pytest.mark.parametrize("seed", range(4))
def test_row_ops_golden_model_equals_the_references_row_by_row(seed):
    g = layer(rows=16, seed=seed)
    env = g.run(data(g, seed))
    for name in ("n", "g", "p", "r", "t"):
        t = g.tasks[name]
        x = env[t.inputs[0]]
        want = getattr(references, t.op)(g.row_block(name), _rows_vectors(x, t.op, t.params["fields"].get("k", 0)))
        want = want["o"] if t.op == "activation" else want["o"]["index" if t.op == "topk" else "y"]
        assert np.array_equal(env[name], np.asarray(want).reshape(t.rows, t.cols)), name


def test_row_op_corners_equal_rows_all_equal_one_huge_all_most_negative():
    g = TaskGraph("corners")
    g.input("x", 4, 16, "Int(8)")
    g.softmax("p", "x", scale=1 / 16)
    g.norm("n", "x")
    x = np.array([[5] * 16, [-128] * 15 + [127], [-128] * 16, list(range(-8, 8))])
    env = g.run({"x": x})
    for name in ("p", "n"):
        kind = g.tasks[name].op
        want = getattr(references, kind)(g.row_block(name), _rows_vectors(x, kind))["o"]["y"]
        assert np.array_equal(env[name], np.asarray(want).reshape(x.shape)), name
    assert env["p"][1, 15] == 255 and env["n"][2].tolist() == [0] * 16  # one huge score; D = 0


@pytest.mark.parametrize("policy", ["auto", "dataflow", "sequential"])
def test_engine_runs_row_ops_exactly(policy):
    g = layer()
    x = data(g)
    golden = {o: g.run(x)[o] for o in g.outputs()}
    run = run_schedule(g, MACHINE, policy, x)
    assert run.compare(golden) == []


def test_engine_runs_row_ops_with_registered_feeds_on_the_native_bench():
    g = layer(rows=6, seed=5)
    x = data(g, 7)
    golden = {o: g.run(x)[o] for o in g.outputs()}
    m = Machine(**{**MACHINE.__dict__, "feed_stages": 1, "mac_stages": 2, "epilogue_stages": 1})
    run = run_schedule(g, m, "dataflow", x, sim="native")
    assert run.compare(golden) == []


def test_a_broken_row_unit_fails_the_comparison(monkeypatch):
    """The engine's result is checked, not assumed: a softmax unit fed the wrong row boundary (``last`` one
    element early) gives outputs that differ from the golden model."""
    import hwgen.schedule.engine.units as units

    real = units._row_unit

    def early_last(m, o, unit, feed):
        if o.name != "p":
            return real(m, o, unit, feed)
        o = type(o)(**{**o.__dict__, "k": o.k - 1})
        return real(m, o, unit, feed)

    monkeypatch.setattr(units, "_row_unit", early_last)
    g = layer()
    x = data(g)
    run = run_schedule(g, MACHINE, "sequential", x)
    problems = run.compare({o: g.run(x)[o] for o in g.outputs()})
    assert any("differs from the golden model" in p for p in problems)


@pytest.mark.parametrize("kind", ["gemm", "add", "softmax", "norm", "activation", "topk", "memory"])
def test_every_units_row_time_is_exact(monkeypatch, kind):
    """Each unit's per-row time is the least the engine needs: with it one cycle shorter in the cost model,
    the engine (whose slots wait for busy units) runs longer than the report says (a slow memory for the
    memory sequencer's case)."""
    g = layer()
    x = data(g)
    machine = Machine(**{**MACHINE.__dict__, "offchip_bytes_per_cycle": 0.5}) if kind == "memory" else MACHINE
    s = compile_schedule(g, machine, "sequential")
    assert any(_sets_the_slot(g, p, kind) for p in s.plans), f"no stage where a {kind} unit alone sets the slot"
    if kind == "memory":
        real_mem = cost.memory_slot_cycles
        monkeypatch.setattr(cost, "memory_slot_cycles", lambda *a: max(real_mem(*a) - 1, 0))
    else:
        real = cost.unit_row_cycles
        monkeypatch.setattr(
            cost, "unit_row_cycles", lambda opg, op, c, m: real(opg, op, c, m) - (opg.graph.tasks[op].op == kind)
        )
    run = run_schedule(g, machine, "sequential", x)
    assert run.cycles > run.schedule.cycles


def _sets_the_slot(g: TaskGraph, plan, kind: str) -> bool:
    """Whether a unit of ``kind`` is the one longest unit of the stage ``plan``."""
    keys = ["memory"] if kind == "memory" else [f"core:{op}" for op in plan.ops if g.tasks[op].op == kind]
    others = [v for k, v in plan.unit_cycles.items() if k not in keys]
    return any(plan.unit_cycles[k] > max(others, default=0) for k in keys)


def test_row_op_bad_input_names_the_task_and_field():
    g = TaskGraph("bad")
    g.input("x", 2, 8)
    g.gemm("a", "x", np.ones((8, 4), int), acc=Int(20))
    with pytest.raises(ConfigError, match=r"graph\.f\.function: 'relu6' is not one of"):
        g.activation("f", "a", function="relu6", in_scale=0.1, out_scale=0.1)
    with pytest.raises(ConfigError, match=r"graph\.p\.out: UInt\(1\)"):
        g.softmax("p", "a", out="UInt(1)")
    with pytest.raises(ConfigError, match=r"graph\.q\.scale"):
        g.softmax("q", "a", scale=-1.0)
    g.softmax("s", "a")  # its input type is checked with the graph: the unscaled accumulator is too wide
    with pytest.raises(ConfigError, match=r"graph\.s: its input is Int\(20\); the softmax unit takes"):
        g.validate()


def test_topk_ties_go_to_the_lower_index_and_k_above_n_is_an_error():
    g = TaskGraph("ties")
    g.input("x", 3, 6)
    g.topk("t", "x", k=4)
    x = np.array([[3, 3, 3, 3, 3, 3], [-128, 5, 5, -128, 127, 5], [0, 1, 2, 3, 4, 5]])
    assert g.run({"x": x})["t"].tolist() == [[0, 1, 2, 3], [4, 1, 2, 5], [5, 4, 3, 2]]
    g.topk("u", "x", k=7)
    with pytest.raises(ConfigError, match=r"graph\.u\.k: 7 is more than the row's 6 values \(k ≤ N\)"):
        g.validate()
    with pytest.raises(ConfigError, match=r"graph\.v\.k: 65 is out of range; allowed 1\.\.64"):
        g.topk("v", "x", k=65)


def test_a_row_longer_than_the_unit_takes_is_a_clear_error():
    g = TaskGraph("long")
    g.input("x", 1, 5000)
    g.norm("n", "x")
    with pytest.raises(ConfigError, match=r"graph\.n: its input is 5000 columns of Int\(8\); the norm unit takes"):
        g.validate()


def test_nothing_is_fused_after_a_row_op_in_the_engine():
    g = TaskGraph("fused")
    g.input("x", 2, 8)
    g.gemm("a", "x", np.ones((8, 4), int), acc=Int(20))
    g.requant("a8", "a", multiplier=1 << 16, shift=20)
    g.norm("n", "a8")
    g.relu("r", "n")
    with pytest.raises(ConfigError, match=r"graph\.r: the engine does not fuse requant/relu after a norm \(n\)"):
        compile_schedule(g, MACHINE)
