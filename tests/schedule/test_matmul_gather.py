"""The matmul (two activations) and gather ops, and SpAtten's cascade token pruning built from them: golden
models against loops; the engine against the golden model and the cost report at every policy; row times
exact; pruning shrinks the second layer's KV tensors and its attention cycles by the keep ratio, in the
cost model and in simulation; bad input."""

from __future__ import annotations

import numpy as np
import pytest

import hwgen.schedule.cost as cost
from hwgen import ConfigError, Int
from hwgen.schedule import Machine, TaskGraph, compile_schedule
from hwgen.schedule.run import run_schedule
from tests.examples import load_example
from tests.references import round_to_even

MACHINE = Machine(cores=4, lanes=2, onchip_bytes=8192, offchip_bytes_per_cycle=2, offchip_latency=3)


def scores(seed=0, n=8, d=6) -> TaskGraph:
    """q · kᵀ of two projections with zero points, then that times k (not transposed), then a gemm."""
    rng = np.random.default_rng(seed)
    g = TaskGraph("mm")
    g.input("x", n, 8)
    for t in "qk":
        g.gemm(t, "x", rng.integers(-8, 8, (8, d)), acc=Int(20))
        g.requant(f"{t}8", t, multiplier=1 << 16, shift=20, zero_point=3)
    g.matmul("s", "q8", "k8", transpose_b=True, zero_points=(3, 3), multiplier=1 << 20, shift=26, zero_point=-2)
    g.matmul("t", "s", "k8", zero_points=(-2, 3), multiplier=1 << 20, shift=27)
    g.gemm("o", "t", rng.integers(-8, 8, (d, 3)), acc=Int(20))
    return g


def data(g: TaskGraph, seed=3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: rng.integers(-128, 128, (t.rows, t.cols)) for n, t in g.tasks.items() if t.op == "input"}


def loop_matmul(a, b, transpose, za, zb, mult, shift, zp, lo=-128, hi=127):
    """The requantized product with Python integers and loops (ties to even)."""
    bt = [list(r) for r in (b if transpose else np.asarray(b).T)]
    out = []
    for row in a:
        out.append([min(hi, max(lo, zp + round_to_even(
            sum((int(x) - za) * (int(y) - zb) for x, y in zip(row, col)) * mult, shift))) for col in bt])  # fmt: skip
    return np.array(out)


@pytest.mark.parametrize("seed", range(3))
def test_matmul_golden_model_equals_loops(seed):
    g = scores(seed)
    env = g.run(data(g, seed))
    assert np.array_equal(env["s"], loop_matmul(env["q8"], env["k8"], True, 3, 3, 1 << 20, 26, -2))
    assert np.array_equal(env["t"], loop_matmul(env["s"], env["k8"], False, -2, 3, 1 << 20, 27, 0))
    assert len(np.unique(env["s"])) > 8 and len(np.unique(env["t"])) > 4


@pytest.mark.parametrize("policy", ["auto", "dataflow", "sequential"])
def test_engine_runs_matmuls_exactly(policy):
    g = scores()
    x = data(g)
    run = run_schedule(g, MACHINE, policy, x)
    assert run.compare({"o": g.run(x)["o"]}) == []
    assert "k8" in run.schedule.onchip_tensors


def pruned_layer(n=16, d=8, keep=8, seed=0, prune=True, keeps=None) -> TaskGraph:
    """examples/pruning/cascade_pruning.py's layers at a test's size (two, unless ``keeps`` says more)."""
    return load_example("pruning", "cascade_pruning.py").cascade_graph(n, d, keeps or (keep,), seed, prune)


def test_pruned_golden_model_keeps_the_most_important_tokens():
    g = pruned_layer()
    x = data(g)
    env = g.run(x)
    total = env["p1h0"].astype(int) + env["p1h1"].astype(int)
    importance = total.sum(axis=0)
    assert np.array_equal(env["importance1"][0], importance)
    assert np.array_equal(env["keep1"][0], np.argsort(-importance, kind="stable")[:8])
    assert np.array_equal(env["x2"], env["h1"][env["keep1"][0]])


def test_importance_accumulates_across_layers():
    """Three layers keeping 8 then 4 of 16 tokens: after layer 2 a token's importance is what it received
    there plus its layer-1 importance, and layer 3 sees the 4 highest; the engine agrees."""
    g = pruned_layer(keeps=(8, 4))
    x = data(g)
    env = g.run(x)
    keep1 = env["keep1"][0]
    received = (env["p2h0"].astype(int) + env["p2h1"].astype(int)).sum(axis=0)
    cumulative = received + env["importance1"][0][keep1]
    assert np.array_equal(env["cumulative2"][0], cumulative)
    assert np.array_equal(env["keep2"][0], np.argsort(-cumulative, kind="stable")[:4])
    assert g.tasks["h3"].rows == 4
    run = run_schedule(g, MACHINE, "dataflow", x, sim="native")
    assert run.compare({"h3": env["h3"]}) == []


@pytest.mark.parametrize("policy", ["dataflow", "sequential"])  # auto: 17 free edges, past its exhaustive search
def test_engine_runs_cascade_pruning_exactly(policy):
    g = pruned_layer()
    x = data(g)
    run = run_schedule(g, MACHINE, policy, x)
    assert run.compare({"h2": g.run(x)["h2"]}) == []


def test_pruning_halves_the_second_layers_kv_and_attention_time():
    """At keep ratio 1/2 layer 2's K and V tensors hold half the rows, and its attention unit's row time (in
    the cost model, equal to simulation by the test above) falls with the KV entries it streams."""
    pruned, dense = pruned_layer(), pruned_layer(prune=False)
    sp, sd = (compile_schedule(g, MACHINE, "sequential") for g in (pruned, dense))
    assert sp.buffers[_scratch(sp, "k28")] * 2 == sd.buffers[_scratch(sd, "k28")]
    assert sp.buffers[_scratch(sp, "v28")] * 2 == sd.buffers[_scratch(sd, "v28")]
    a2p = next(p for p in sp.plans if p.ops == ("a2",))
    a2d = next(p for p in sd.plans if p.ops == ("a2",))
    assert a2p.slots < a2d.slots and a2p.unit_cycles["core:a2"] < 0.6 * a2d.unit_cycles["core:a2"]


def _scratch(s, tensor):
    return next(k for k in s.buffers if k.kind == "scratch" and k.tensor == tensor)


@pytest.mark.parametrize("op", ["s", "x2"])
def test_matmul_and_gather_row_times_are_exact(monkeypatch, op):
    g = scores() if op == "s" else pruned_layer()
    s = compile_schedule(g, MACHINE, "sequential")
    plan = next(p for p in s.plans if p.ops == (op,))
    assert plan.unit_cycles[f"core:{op}"] > plan.unit_cycles["memory"]
    real = cost.unit_row_cycles
    monkeypatch.setattr(cost, "unit_row_cycles", lambda opg, o, c, m: real(opg, o, c, m) - (o == op))
    run = run_schedule(g, MACHINE, "sequential", data(g))
    assert run.cycles > run.schedule.cycles


def test_matmul_and_gather_bad_input():
    g = TaskGraph("bad")
    g.input("a", 4, 6)
    g.input("b", 5, 7)
    with pytest.raises(ConfigError, match=r"graph\.m\.shift: 70 is not an integer in 0\.\.62"):
        g.matmul("m", "a", "b", multiplier=1, shift=70)
    g.matmul("n", "a", "b", multiplier=1, shift=0)
    with pytest.raises(ConfigError, match=r"graph\.n: shape mismatch: a is 4×6, b is 5×7"):
        g.validate()
    g = TaskGraph("idx")
    g.input("x", 4, 3)
    g.input("i", 2, 2, "UInt(4)")
    g.gather("y", "x", "i")
    with pytest.raises(ConfigError, match=r"graph\.y: its index i is 2×2; one row"):
        g.validate()
    g = TaskGraph("range")
    g.input("x", 4, 3)
    g.input("i", 1, 2, "UInt(4)")
    g.gather("y", "x", "i")
    with pytest.raises(ConfigError, match=r"graph\.y: index 9 is outside x's 4 rows"):
        g.run({"x": np.zeros((4, 3), int), "i": np.array([[1, 9]])})


def blocks(seed=0) -> TaskGraph:
    """Blocks of rows and of columns picked by top-k indices of importance rows given as inputs."""
    rng = np.random.default_rng(seed)
    g = TaskGraph("blocks")
    g.input("x", 6, 8)
    g.input("imp3", 1, 3, "Int(16)")
    g.input("imp2", 1, 2, "Int(16)")
    g.gemm("a", "x", rng.integers(-8, 8, (8, 8)), acc=Int(20))
    g.requant("a8", "a", multiplier=1 << 16, shift=18)
    g.copy("i3", "imp3")
    g.copy("i2", "imp2")
    g.topk("keep", "i3", k=2)
    g.gather("rows", "a8", "keep", block=2)  # two of the three 2-row blocks
    g.topk("heads", "i2", k=1)
    g.gather("cols", "a8", "heads", axis=1, block=4)  # one of the two 4-column "heads"
    g.gather("picked", "a8", "keep", axis=1)  # two single columns
    for name, k in (("rows", 8), ("cols", 4), ("picked", 2)):
        g.gemm(f"o_{name}", name, rng.integers(-8, 8, (k, 3)), acc=Int(20))
    return g


def block_data(seed=3):
    rng = np.random.default_rng(seed)
    return {"x": rng.integers(-128, 128, (6, 8)), "imp3": rng.permutation(3)[None] * 5,
            "imp2": rng.permutation(2)[None]}  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_gather_blocks_golden_model_equals_loops(seed):
    g = blocks(seed)
    env = g.run(block_data(seed))
    a, keep, heads = env["a8"].tolist(), env["keep"][0].tolist(), env["heads"][0].tolist()
    assert env["rows"].tolist() == [a[2 * i + j] for i in keep for j in range(2)]
    assert env["cols"].tolist() == [[row[4 * h + j] for h in heads for j in range(4)] for row in a]
    assert env["picked"].tolist() == [[row[i] for i in keep] for row in a]


@pytest.mark.parametrize("policy", ["dataflow", "sequential"])
def test_engine_gathers_blocks_of_rows_and_columns_exactly(policy):
    g = blocks()
    x = block_data()
    env = g.run(x)
    run = run_schedule(g, MACHINE, policy, x)
    assert run.compare({o: env[o] for o in g.outputs()}) == []


def test_column_gather_row_time_is_exact(monkeypatch):
    g = blocks()
    s = compile_schedule(g, MACHINE, "sequential")
    plan = next(p for p in s.plans if p.ops == ("cols",))
    assert plan.unit_cycles["core:cols"] > plan.unit_cycles["memory"]
    real = cost.unit_row_cycles
    monkeypatch.setattr(cost, "unit_row_cycles", lambda opg, o, c, m: real(opg, o, c, m) - (o == "cols"))
    run = run_schedule(g, MACHINE, "sequential", block_data())
    assert run.cycles > run.schedule.cycles


def test_gather_blocks_bad_input():
    g = TaskGraph("bad")
    g.input("x", 4, 6)
    g.input("i", 1, 2, "UInt(4)")
    with pytest.raises(ConfigError, match=r"graph\.a\.axis: 2: 0 \(rows\) or 1 \(columns\)"):
        g.gather("a", "x", "i", axis=2)
    g.gather("b", "x", "i", axis=1, block=3)
    with pytest.raises(ConfigError, match=r"graph\.b: index 2 is outside x's 2 columns in blocks of 3"):
        g.run({"x": np.zeros((4, 6), int), "i": np.array([[0, 2]])})
