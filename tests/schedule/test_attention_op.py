"""The attention op: its golden model against the independent decode-attention reference, query by query; the
engine against the golden model and the cost report at every policy (Amaranth), its row time exact, a broken
driver caught; the decoder-layer example end to end on the native bench; what cannot be built is a clear
error."""

from __future__ import annotations

import numpy as np
import pytest

import hwgen.schedule.cost as cost
from hwgen import ConfigError, Int
from hwgen.schedule import Machine, TaskGraph, compile_schedule
from hwgen.schedule.run import run_schedule
from hwgen.spec import load_schedule
from hwgen.vectors import StreamVectors
from tests import references

MACHINE = Machine(cores=4, lanes=2, onchip_bytes=4096, offchip_bytes_per_cycle=2, offchip_latency=3)
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def attention_graph(rows=6, heads=2, d=4, causal=True, seed=0) -> TaskGraph:
    """x -> q, k, v projections -> attention -> output projection."""
    rng = np.random.default_rng(seed)
    g = TaskGraph("att")
    g.input("x", rows, 8)
    for n in "qkv":
        g.gemm(n, "x", rng.integers(-8, 8, (8, heads * d)), acc=Int(20))
        g.requant(f"{n}8", n, multiplier=1 << 16, shift=21)
    g.attention("a", "q8", "k8", "v8", heads=heads, causal=causal, score_shift=3, scale=1 / 8)
    g.gemm("o", "a", rng.integers(-8, 8, (heads * d, 5)), acc=Int(20))
    return g


def data(g: TaskGraph, seed=3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: rng.integers(-128, 128, (t.rows, t.cols)) for n, t in g.tasks.items() if t.op == "input"}


def reference_attention(g: TaskGraph, name: str, env: dict) -> np.ndarray:
    """Every row and head through the independent reference, one query stream each."""
    t = g.tasks[name]
    cfg, heads, causal = g.row_block(name), t.params["fields"]["heads"], t.params["fields"]["causal"]
    q, k, v = (env[i] for i in t.inputs)
    d, out = cfg.head_dim, np.zeros(q.shape, dtype=np.int64)
    for r in range(q.shape[0]):
        n = r + 1 if causal else k.shape[0]
        for h in range(heads):
            cs = slice(h * d, (h + 1) * d)
            words = np.concatenate([q[r, cs]] + [np.concatenate([k[j, cs], v[j, cs]]) for j in range(n)])
            last = (np.arange(len(words)) == len(words) - 1).astype(int)
            vec = StreamVectors(inputs={"i": {"x": words.reshape(-1, 1), "last": last}}, expected={})
            out[r, cs] = np.asarray(references.decode_attention(cfg, vec)["o"]["y"]).reshape(-1)
    return out


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_attention_golden_model_equals_the_reference(seed, causal):
    g = attention_graph(rows=12, heads=3, d=4, causal=causal, seed=seed)
    env = g.run(data(g, seed))
    assert np.array_equal(env["a"], reference_attention(g, "a", env))
    assert len(np.unique(env["a"])) > 8  # the outputs spread (not all clamped)


def test_the_decoder_layer_example_golden_attention_equals_the_reference():
    g, _, x = load_schedule(ROOT / "examples" / "schedules" / "decoder_layer.py")
    env = g.run(x)
    assert np.array_equal(env["att"], reference_attention(g, "att", env))


@pytest.mark.parametrize("policy", ["auto", "dataflow", "sequential"])
@pytest.mark.parametrize("causal", [True, False])
def test_engine_runs_attention_exactly(policy, causal):
    g = attention_graph(causal=causal)
    x = data(g)
    golden = {o: g.run(x)[o] for o in g.outputs()}
    run = run_schedule(g, MACHINE, policy, x)
    assert run.compare(golden) == []
    assert run.schedule.decisions[("k", "a")] != "dataflow" and "k8" in run.schedule.onchip_tensors


def cross_attention(q_rows=2, kv_rows=7, seed=0) -> TaskGraph:
    """Queries from one input attending (not causally) to keys and values projected from another: stages of
    different row counts."""
    rng = np.random.default_rng(seed)
    g = TaskGraph("cross")
    g.input("xq", q_rows, 8)
    g.input("xkv", kv_rows, 8)
    for n, src in (("q", "xq"), ("k", "xkv"), ("v", "xkv")):
        g.gemm(n, src, rng.integers(-8, 8, (8, 8)), acc=Int(20))
        g.requant(f"{n}8", n, multiplier=1 << 16, shift=21)
    g.attention("a", "q8", "k8", "v8", heads=2, causal=False, score_shift=3, scale=1 / 8)
    g.gemm("o", "a", rng.integers(-8, 8, (8, 5)), acc=Int(20))
    return g


@pytest.mark.parametrize("policy", ["auto", "dataflow", "sequential"])
def test_engine_runs_stages_of_different_rows(policy):
    """2 queries over 7 KV entries: the K/V stages run 7 row slots, the query stages 2."""
    g = cross_attention()
    x = data(g)
    golden = {o: g.run(x)[o] for o in g.outputs()}
    run = run_schedule(g, MACHINE, policy, x)
    assert run.compare(golden) == []
    assert {p.rows for p in run.schedule.plans} == {2, 7}
    env = g.run(x)
    assert np.array_equal(env["a"], reference_attention(g, "a", env))


def test_attention_row_time_is_exact(monkeypatch):
    """One cycle less in the model for the attention unit and the engine runs longer than the report."""
    g = attention_graph()
    s = compile_schedule(g, MACHINE, "sequential")
    plan = next(p for p in s.plans if p.ops == ("a",))
    assert plan.unit_cycles["core:a"] > plan.unit_cycles["memory"]
    real = cost.unit_row_cycles
    monkeypatch.setattr(
        cost, "unit_row_cycles", lambda opg, op, c, m: real(opg, op, c, m) - (opg.graph.tasks[op].op == "attention")
    )
    x = data(g)
    run = run_schedule(g, MACHINE, "sequential", x)
    assert run.cycles > run.schedule.cycles


def test_a_broken_attention_driver_fails_the_comparison(monkeypatch):
    """A driver whose causal rows attend to one entry too many (row r to r + 1) gives outputs that differ."""
    import hwgen.schedule.engine.attention as driver

    real = driver.last_entry
    monkeypatch.setattr(driver, "last_entry", lambda causal, row, n: real(causal, row, n) + 1)
    g = attention_graph()
    x = data(g)
    run = run_schedule(g, MACHINE, "sequential", x)
    assert any("differs from the golden model" in p for p in run.compare({"o": g.run(x)["o"]}))


def test_decoder_layer_example_end_to_end_on_the_native_bench():
    """d_model 64, 4 heads, 32 tokens: LayerNorm, q/k/v, causal attention, projection, residual, LayerNorm,
    FFN with GELU, residual — outputs, cycles and off-chip bytes equal the golden model and the report."""
    g, machine, x = load_schedule(ROOT / "examples" / "schedules" / "decoder_layer.py")
    golden = {o: g.run(x)[o] for o in g.outputs()}
    run = run_schedule(g, machine, "auto", x, sim="native")
    assert run.compare(golden) == []
    assert {g.tasks[op].op for op in run.schedule.cores} == {"norm", "gemm", "attention", "add", "activation"}


def test_attention_bad_input_names_the_task_and_field():
    g = TaskGraph("bad")
    g.input("x", 4, 8)
    g.gemm("q", "x", np.ones((8, 6), int), acc=Int(20))
    g.requant("q8", "q", multiplier=1 << 16, shift=20)
    with pytest.raises(ConfigError, match=r"graph\.a\.heads: 0 is out of range; allowed 1\.\.64"):
        g.attention("a", "q8", "q8", "q8", heads=0)
    with pytest.raises(ConfigError, match=r"graph\.b\.scale"):
        g.attention("b", "q8", "q8", "q8", heads=2, scale=2.0)
    with pytest.raises(ConfigError, match=r"graph\.c\.causal: 'yes': True or False"):
        g.attention("c", "q8", "q8", "q8", heads=2, causal="yes")
    g.attention("d", "q8", "q8", "q8", heads=4)
    with pytest.raises(ConfigError, match=r"graph\.d\.heads: 4 heads do not split 6 columns evenly"):
        g.validate()


def test_attention_shapes_and_types_are_checked_with_the_graph():
    g = TaskGraph("shapes")
    g.input("x", 4, 8)
    g.gemm("q", "x", np.ones((8, 8), int), acc=Int(20))
    g.gemm("k", "x", np.ones((8, 4), int), acc=Int(20))
    g.attention("a", "q", "k", "k", heads=2)
    with pytest.raises(ConfigError, match=r"graph\.a: q, k and v need the same columns; q, k, k have 8, 4, 4"):
        g.validate()
    g = TaskGraph("types")
    g.input("x", 4, 8)
    g.gemm("q", "x", np.ones((8, 8), int), acc=Int(20))
    g.attention("a", "q", "q", "q", heads=2)
    with pytest.raises(ConfigError, match=r"graph\.a: its inputs are Int\(20\); the attention unit takes"):
        g.validate()


def test_k_and_v_must_be_computed_on_chip():
    g = TaskGraph("kv_in")
    g.input("x", 4, 8)
    g.input("kv", 4, 8)
    g.gemm("q", "x", np.ones((8, 8), int), acc=Int(20))
    g.requant("q8", "q", multiplier=1 << 16, shift=20)
    g.attention("a", "q8", "kv", "kv", heads=2)
    g.gemm("o", "a", np.ones((8, 2), int), acc=Int(20))
    with pytest.raises(ConfigError, match=r"graph\.a: reads kv whole from an on-chip scratchpad, but kv is a graph"):
        compile_schedule(g, MACHINE)


def test_k_and_v_that_do_not_fit_on_chip_are_a_clear_error():
    g = attention_graph(rows=32, heads=2, d=8)
    small = Machine(**{**MACHINE.__dict__, "onchip_bytes": 600})
    with pytest.raises(
        ConfigError, match=r"schedule: the tensors read whole need on-chip scratchpads: k8 \(512 B\), v8"
    ):
        compile_schedule(g, small, "sequential")
