"""SpAtten's cascade head pruning (examples/pruning/head_pruning.py): head importance and the kept heads against
NumPy; the pruned layers equal the unpruned model's kept heads; keeping every head (in importance order) is the
unpruned model exactly; the engine runs the pruned model exactly; the later layers' K/V tensors and attention
time shrink by the keep ratio."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.schedule import compile_schedule
from hwgen.schedule.run import run_schedule
from tests.examples import load_example

HEAD = 8


@pytest.fixture(scope="module")
def example():
    return load_example("pruning", "head_pruning.py")


def head_columns(heads) -> np.ndarray:
    return np.concatenate([np.arange(h * HEAD, (h + 1) * HEAD) for h in heads])


def test_head_importance_and_the_kept_heads(example):
    """Seed 3 keeps heads 3 and 2 (not the first two), then head 3: the gathers follow the index."""
    g = example.head_graph()
    env = g.run(example.head_inputs(g, seed=3))
    a1 = env["a1"].astype(int)
    importance1 = np.abs(a1).reshape(16, 4, HEAD).sum(axis=(0, 2))
    assert np.array_equal(env["importance1"][0], importance1)
    top1 = np.argsort(-importance1, kind="stable")[:2]
    assert np.array_equal(env["top1"][0], top1) and list(top1) == [3, 2]
    cumulative = np.abs(env["a2"].astype(int)).reshape(16, 2, HEAD).sum(axis=(0, 2)) + importance1[top1]
    assert np.array_equal(env["cumulative2"][0], cumulative)
    assert np.array_equal(env["keep2"][0], top1[np.argsort(-cumulative, kind="stable")[:1]])
    assert env["a2"].shape == (16, 2 * HEAD) and env["a3"].shape == (16, HEAD)


def test_pruned_layers_are_the_unpruned_models_kept_heads(example):
    """Layer 2 sees layer 1's full output, so its Q and attention output are the unpruned model's columns of
    the kept heads; and keeping all 4 heads (permuted by importance) gives the unpruned model's output."""
    pruned, dense = example.head_graph(), example.head_graph(prune=False)
    x = example.head_inputs(pruned, seed=3)
    pe, de = pruned.run(x), dense.run(x)
    cols = head_columns(pe["top1"][0])
    for t in ("q2", "k2", "v2", "a2"):
        assert np.array_equal(pe[t], de[t][:, cols]), t
    everything = example.head_graph(keeps=(4, 4))
    ee = everything.run(x)
    assert list(ee["top1"][0]) != [0, 1, 2, 3]  # a real permutation
    assert np.array_equal(ee["h3"], de["h3"])


def test_engine_runs_head_pruning_exactly(example):
    g = example.head_graph()
    x = example.head_inputs(g, seed=3)
    run = run_schedule(g, example.machine, "dataflow", x, sim="native")
    assert run.compare({o: g.run(x)[o] for o in g.outputs()}) == []
    assert run.cycles == run.schedule.cycles


def test_pruning_shrinks_later_layers_kv_and_attention(example):
    """Keep ratios 1/2 then 1/4 against keeping every head (the same ops): layer 2's and 3's K and V tensors and
    their attention rows shrink by the ratio (the cost model; equal to simulation by the test above)."""
    pruned, full = example.head_graph(), example.head_graph(keeps=(4, 4))
    sp, sf = (compile_schedule(g, example.machine, "sequential") for g in (pruned, full))
    for layer, ratio in ((2, 2), (3, 4)):
        for t in (f"k{layer}", f"v{layer}"):
            assert sp.buffers[_scratch(sp, t)] * ratio == sf.buffers[_scratch(sf, t)], t
        attention = [next(p for p in s.plans if p.ops == (f"a{layer}",)) for s in (sp, sf)]
        assert attention[0].cycles * ratio <= attention[1].cycles * 1.05
    assert sp.cycles < 0.65 * sf.cycles and sp.onchip_bytes < sf.onchip_bytes


def _scratch(s, tensor):
    return next(k for k in s.buffers if k.kind == "scratch" and k.tensor == tensor)
