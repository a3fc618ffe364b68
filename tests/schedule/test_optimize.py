"""The auto policy's optimization model (hwgen.schedule.optimize): its cost equals the exhaustive search's optimum
on random DAGs with forks and joins and on the examples, and equals a brute force over stages *and* on-chip
residency where capacity is tight (where it beats the greedy residency); the engine runs a model-chosen
schedule exactly; capacity sweeps; errors."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from hwgen import ConfigError, Int
from hwgen.schedule import Machine, TaskGraph, compile_schedule
from hwgen.schedule.buffers import sequential_tensors
from hwgen.schedule.compiler import ScheduleWarning, evaluate
from hwgen.schedule.ops import op_graph
from hwgen.schedule.run import run_schedule
from tests.examples import load_example

ROOT = Path(__file__).resolve().parents[2]


def random_dag(seed: int, n_ops: int) -> TaskGraph:
    """``n_ops`` ops over one input: gemms (+ requant), adds joining two earlier tensors of one width, softmax
    rows and activation matmuls (``a · bᵀ``, ``b`` read whole), each reading one of the last four tensors."""
    rng = np.random.default_rng(seed)
    g = TaskGraph(f"dag{seed}")
    rows = int(rng.integers(2, 9))
    g.input("x", rows, int(rng.integers(2, 12)))
    tensors, cols = ["x"], {"x": g.tasks["x"].cols}

    def gemm(name: str, src: str, n: int) -> None:
        g.gemm(name + "a", src, rng.integers(-8, 8, (cols[src], n)), acc=Int(20))
        g.requant(name, name + "a", multiplier=1 << 14, shift=18)
        cols[name] = n

    for k in range(n_ops):
        name, kind = f"t{k}", str(rng.choice(["gemm", "gemm", "add", "softmax", "matmul"]))
        src = tensors[int(rng.integers(max(0, len(tensors) - 4), len(tensors)))]
        joins = [t for t in tensors if t != src and cols[t] == cols[src] and g.tasks[t].op != "softmax"]
        others = [t for t in tensors if t not in (src, "x") and cols[t] == cols[src] and g.tasks[t].op != "softmax"]
        signed = g.tasks[src].op != "softmax"
        if kind == "add" and joins and signed:
            g.add(name, src, joins[int(rng.integers(len(joins)))], multipliers=(1 << 14, 1 << 14), shift=15)
            cols[name] = cols[src]
        elif kind == "softmax" and src != "x" and signed:
            g.softmax(name, src, scale=1 / 16)
            cols[name] = cols[src]
        elif kind == "matmul" and others and signed:
            g.matmul(name, src, others[int(rng.integers(len(others)))], transpose_b=True, multiplier=1 << 20, shift=26)
            cols[name] = rows
        else:
            gemm(name, src, int(rng.integers(2, 12)))
        tensors.append(name)
    return g


def random_case(seed: int, capacities=(160, 250, 400, 700, 1024, 65536)) -> tuple[TaskGraph, Machine]:
    rng = np.random.default_rng(1000 + seed)
    g = random_dag(seed, int(rng.integers(3, 11)))
    cores, onchip = int(rng.integers(2, 5)), int(rng.choice(capacities))
    bandwidth, latency = int(rng.choice([1, 2, 4])), int(rng.integers(1, 10))
    m = Machine(cores=cores, lanes=2, onchip_bytes=onchip, offchip_bytes_per_cycle=bandwidth, offchip_latency=latency)
    return g, m


def costs(g: TaskGraph, m: Machine, policy: str, reuse: bool = False):
    """(cycles, off-chip, on-chip bytes) with every buffer counted on its own (the model's own rule), or None
    when nothing fits."""
    try:
        s = compile_schedule(g, m, policy, reuse=reuse)
    except ConfigError:
        return None
    return s.cycles, s.offchip_bytes, s.onchip_bytes


@pytest.mark.parametrize("block", range(4))
def test_auto_equals_the_exhaustive_optimum_where_everything_fits(block):
    """30 random DAGs of 3..10 ops with room for every tensor: the model's (cycles, off-chip, on-chip bytes)
    is exactly the exhaustive search's best."""
    for seed in range(30 * block, 30 * block + 30):
        g, m = random_case(seed, capacities=(65536,))
        assert costs(g, m, "auto") == costs(g, m, "exhaustive"), seed


@pytest.mark.parametrize("block", range(2))
def test_auto_is_never_worse_than_exhaustive_when_capacity_is_tight(block):
    """Tight capacities: the exhaustive search places tensors greedily, the model chooses; never worse, and
    when the search finds no schedule the model finds none either or finds one."""
    better = 0
    for seed in range(120 + 40 * block, 160 + 40 * block):
        g, m = random_case(seed, capacities=(160, 250, 400, 700))
        auto, exhaustive = costs(g, m, "auto"), costs(g, m, "exhaustive")
        if exhaustive is not None:
            assert auto is not None and auto <= exhaustive, seed
            better += auto < exhaustive
    assert block or better >= 1  # seed 129 is one: 1,016 cycles against 1,036


def brute_force(g: TaskGraph, m: Machine):
    """Every edge choice and every subset of the sequential tensors on chip, through the cost functions."""
    opg = op_graph(g)
    best = None
    for bits in itertools.product((True, False), repeat=len(opg.edges)):
        choice = dict(zip(opg.edges, bits))
        seq = sequential_tensors(opg, choice)
        for keep in itertools.product((True, False), repeat=len(seq)):
            try:
                s = evaluate(opg, m, choice, "x", {t for t, k in zip(seq, keep) if k})
            except ConfigError:
                continue
            c = (s.cycles, s.offchip_bytes, s.onchip_bytes)
            best = c if best is None or c < best else best
    return best


def test_auto_equals_a_brute_force_over_stages_and_residency():
    """Small DAGs (at most 7 edges) at tight capacities: the model's optimum is the brute force's."""
    checked = 0
    for seed in range(200, 260):
        g, m = random_case(seed, capacities=(160, 250, 400))
        if len(op_graph(g).edges) > 7:
            continue
        assert costs(g, m, "auto") == brute_force(g, m), seed
        checked += 1
    assert checked >= 15


def test_auto_beats_the_greedy_residency_and_the_engine_runs_it_exactly():
    """Seed 290 at 160 bytes: the greedy residency behind the exhaustive search (670 cycles) cannot also keep
    t2 on chip; the model runs t2a and t5a in separate stages with t2 in a scratchpad (650 cycles). The engine
    runs the model's schedule exactly, cycle for cycle."""
    g, m = random_case(290, capacities=(160, 250, 400, 700))
    assert m.onchip_bytes == 160
    auto = compile_schedule(g, m, "auto", reuse=False)
    assert (auto.cycles, auto.offchip_bytes, auto.onchip_bytes) == (650, 93, 149)
    assert costs(g, m, "exhaustive") == (670, 93, 138)
    assert auto.solver.status == "optimal" and auto.onchip_tensors == {"t2", "t3", "t4"}
    rng = np.random.default_rng(5)
    x = {"x": rng.integers(-128, 128, (g.tasks["x"].rows, g.tasks["x"].cols))}
    run = run_schedule(g, m, auto, x, sim="native")
    assert run.compare({o: g.run(x)[o] for o in g.outputs()}) == []
    assert run.cycles == auto.cycles


@pytest.mark.parametrize("example", ["mlp", "attention", "residual", "decoder_layer"])
def test_auto_equals_exhaustive_on_the_examples(example):
    module = load_example("schedules", f"{example}.py")
    assert costs(module.graph, module.machine, "auto") == costs(module.graph, module.machine, "exhaustive")


@pytest.mark.parametrize("priority", ["cycles", "offchip"])
def test_capacity_sweep_until_nothing_fits(priority):
    """One DAG as the on-chip buffer shrinks: the lexicographic optimum never improves — with off-chip bytes
    first (COSMA's aim) the off-chip bytes grow monotonically; with cycles first the cycles do (the off-chip
    bytes may then fall: at 180 B the fastest schedule moves 248 B, at 140 B a slower one 88 B). Below the
    smallest schedule: one error naming its size and largest buffers."""
    g, m = random_case(7)
    first = ("cycles", "offchip") if priority == "cycles" else ("offchip", "cycles")
    previous, seen = None, []
    for size in [4096, 1024, 512, 400, 320, 280, 240, 200, 180, 160, 140, 120, 100, 90, 80]:
        try:
            machine = Machine(**{**m.__dict__, "onchip_bytes": size})
            s = compile_schedule(g, machine, "auto", priority=priority, reuse=False)
        except ConfigError as e:
            assert "no schedule fits; the smallest needs" in str(e) or "cannot hold even one" in str(e)
            break
        now = tuple(getattr(s, f"{k}_bytes" if k == "offchip" else k) for k in first) + (s.onchip_bytes,)
        assert previous is None or now >= previous, size
        assert s.onchip_bytes <= size
        previous = now
        seen.append(now)
    else:
        pytest.fail("the sweep never ran out of room")
    assert len(seen) >= 5 and seen[-1][0] > seen[0][0]  # the sweep got feasible and tighter


def test_nothing_fits_names_the_smallest_schedule():
    g = TaskGraph("wide")
    g.input("x", 4, 64)
    g.gemm("a", "x", np.ones((64, 64), dtype=int), acc=Int(20))
    g.requant("a8", "a", multiplier=1, shift=8)
    g.matmul("s", "a8", "a8", transpose_b=True, multiplier=1, shift=8)
    with pytest.raises(ConfigError) as e:
        compile_schedule(g, Machine(cores=2, onchip_bytes=300))
    assert str(e.value).startswith("machine.onchip_bytes: 300: no schedule fits; the smallest needs ")
    assert "the scratchpad of a8 (256 B)" in str(e.value)


def test_the_windowed_heuristic_runs_a_model_scale_graph_exactly():
    """Three small GPT-2-shaped layers (36 ops, past the full model's 32): solved in windows of 16 ops; its
    cycles sit above the LP lower bound within the reported gap and below both fixed policies; the engine
    runs the stitched schedule exactly, cycle for cycle."""
    g = load_example("models", "gpt2_medium.py").gpt2_graph(layers=3, d=16, ffn=32, heads=2, tokens=8)
    m = Machine(cores=4, lanes=4, onchip_bytes=8192, offchip_bytes_per_cycle=4, offchip_latency=10)
    s = compile_schedule(g, m, "auto")
    assert s.solver.status == "heuristic" and s.solver.bound <= s.cycles
    assert s.solver.gap == pytest.approx((s.cycles - s.solver.bound) / s.cycles)
    assert all(s.cycles <= compile_schedule(g, m, p).cycles for p in ("dataflow", "sequential"))
    rng = np.random.default_rng(2)
    x = {"x": rng.integers(-64, 64, (8, 16))}
    run = run_schedule(g, m, "auto", x, sim="native")
    assert run.compare({o: g.run(x)[o] for o in g.outputs()}) == []
    assert run.cycles == s.cycles


def test_bad_policy_inputs():
    g, m = random_case(5)
    with pytest.warns(ScheduleWarning, match="nothing found within the time limit; the better of the dataflow"):
        s = compile_schedule(g, m, "auto", time_limit=1e-9)
    best = min(costs(g, m, p) for p in ("dataflow", "sequential"))
    assert s.solver.status == "greedy" and (s.cycles, s.offchip_bytes, s.onchip_bytes) == best
    with pytest.raises(ConfigError, match=r"time_limit: 0: seconds, a number above 0"):
        compile_schedule(g, m, "auto", time_limit=0)
    with pytest.raises(ConfigError, match=r"priority: 'area' is not one of cycles, offchip"):
        compile_schedule(g, m, "auto", priority="area")
    cyclic = TaskGraph("cyclic")
    cyclic.input("x", 2, 4)
    cyclic.add("a", "x", "b")
    cyclic.add("b", "a", "x")
    with pytest.raises(ConfigError, match=r"graph\.a: the graph has a cycle: a -> b -> a"):
        compile_schedule(cyclic, m, "auto")


def test_counting_shared_scratchpads_is_never_worse_and_fits():
    """With ``reuse`` (the default) the engine's shared scratchpads must fit, not every buffer on its own: on
    tight random cases never worse than without, always within the capacity the engine really uses."""
    checked = 0
    for seed in range(0, 40):
        g, m = random_case(seed, capacities=(160, 250, 400))
        without = costs(g, m, "auto")
        try:
            s = compile_schedule(g, m, "auto")
        except ConfigError:
            assert without is None, seed
            continue
        assert s.shared_onchip_bytes <= m.onchip_bytes, seed
        assert without is None or (s.cycles, s.offchip_bytes) <= without[:2], seed
        checked += 1
    assert checked >= 20


def test_shared_scratchpads_fit_a_model_that_separate_ones_cannot():
    """Three GPT-2-shaped layers: each layer's K and V are read whole, so counted on their own they overflow
    a small buffer; shared across layers (a layer's K and V die with its attention) they fit, and the engine
    runs the schedule exactly."""
    g = load_example("models", "gpt2_medium.py").gpt2_graph(layers=3, d=16, ffn=32, heads=2, tokens=8)
    m = Machine(cores=4, lanes=4, onchip_bytes=2000, offchip_bytes_per_cycle=4, offchip_latency=10)
    with pytest.raises(ConfigError, match="no schedule fits; the smallest needs 2688 bytes"):
        compile_schedule(g, m, "auto", reuse=False)
    s = compile_schedule(g, m, "auto")
    assert s.shared_onchip_bytes <= 2000 < s.onchip_bytes
    with pytest.raises(ConfigError, match="with scratchpads shared, none of the schedules tried fits either"):
        compile_schedule(g, Machine(**{**m.__dict__, "onchip_bytes": 1500}), "auto")
    x = {"x": np.random.default_rng(6).integers(-64, 64, (8, 16))}
    run = run_schedule(g, m, s, x, sim="native")
    assert run.compare({o: g.run(x)[o] for o in g.outputs()}) == [] and run.cycles == s.cycles


SCRIPT = """
import json, sys
sys.path.insert(0, {root!r})
from tests.schedule.test_optimize import random_case
from hwgen.schedule import compile_schedule
for seed in (9, 26, 58):
    g, m = random_case(seed, capacities=(65536,))
    print(json.dumps(compile_schedule(g, m).report(), sort_keys=True))
"""


def test_the_schedule_does_not_depend_on_the_hash_seed():
    """Python's string hashes (set order) change per process: two processes give the same reports."""
    import os
    import subprocess
    import sys

    reports = [
        subprocess.run([sys.executable, "-c", SCRIPT.format(root=str(ROOT))], capture_output=True, text=True,
                       check=True, env={**os.environ, "PYTHONHASHSEED": seed, "HWGEN_QUIET": "1"}).stdout
        for seed in ("1", "2")
    ]  # fmt: skip
    assert reports[0] == reports[1] and reports[0].count("\n") == 3
