"""SpAtten's cascade head pruning on the schedule engine: later layers compute only the heads found important.

    hwgen schedule examples/pruning/head_pruning.py --policy dataflow [--run] [--out rtl_out]

Three attention layers (4 heads of 8, d 32) over 16 tokens. Every layer's weights are graph inputs streamed
from off-chip memory, one ``[d, heads·8]`` matrix per projection, a head's 8 columns side by side (the output
projection as its transpose). A head's importance is the sum of the magnitudes of its attention output over
every token and feature — ``|a| = relu(a·[I, −I])``, summed over the tokens (a global average pool of
multiplier 1) and over the head's columns (a gemm by block ones) — plus, from the second layer on, what it
had before (SpAtten's cascade). A ``topk`` keeps the most important heads (``keeps=(2, 1)``: 4 → 2 → 1), and
the next layer's projections read only their columns: a column ``gather`` of the weights by head, then a
``matmul`` of the activations by the gathered weights. So the next layer's Q/K/V/O weight traffic, its
projections' MACs, its K and V tensors and its attention work all shrink by the keep ratio.
``head_graph(..., prune=False)`` is the same model without pruning, for comparison.
"""

import numpy as np

from hwgen.schedule import Machine, TaskGraph

HEAD = 8  # a head's width


def head_graph(
    n: int = 16, d: int = 32, heads: int = 4, keeps: tuple[int, ...] = (2, 1), prune: bool = True
) -> TaskGraph:
    """``len(keeps) + 1`` attention layers over ``n`` tokens of width ``d`` with ``heads`` heads of ``HEAD``;
    after layer ``l`` the ``keeps[l]`` heads of highest importance so far go on (``prune``), else every head
    does. Inputs: ``x [n, d]`` and, per layer ``l`` and projection ``t`` in ``qkvo``, ``w{t}{l} [d,
    heads·HEAD]`` (``wo`` the output projection's transpose)."""
    g = TaskGraph("heads" if prune else "dense_heads")
    g.input("x", n, d)
    x, kept, importance = "x", None, None  # kept: the original indices of the live heads (None: all)
    live = heads
    for layer in range(1, len(keeps) + 2):
        q, k, v = (g.matmul(f"{t}{layer}", x, weights(g, t, layer, kept, heads, d), multiplier=1 << 16, shift=22)
                   for t in "qkv")  # fmt: skip
        a = g.attention(f"a{layer}", q, k, v, heads=live, causal=False, score_shift=3, scale=1 / 8)
        o = g.matmul(
            f"o{layer}", a, weights(g, "o", layer, kept, heads, d), transpose_b=True, multiplier=1 << 16, shift=22
        )
        x = g.add(f"h{layer}", x, o, multipliers=(1 << 14, 1 << 14), shift=15)
        if not prune or layer > len(keeps):
            continue
        received = head_importance(g, f"{layer}", a, n, live)
        if importance is not None:  # the live heads' importance so far, plus this layer's
            received = g.add(
                f"cumulative{layer}", received, g.gather(f"carried{layer}", importance, f"top{layer - 1}", axis=1)
            )
        importance = received
        g.topk(f"top{layer}", importance, k=keeps[layer - 1])  # positions among the live heads
        kept = f"top{layer}" if kept is None else g.gather(f"keep{layer}", kept, f"top{layer}", axis=1)
        live = keeps[layer - 1]
    return g


def weights(g: TaskGraph, t: str, layer: int, kept: str | None, heads: int, d: int) -> str:
    """Projection ``t``'s weights of ``layer`` on chip: input ``w{t}{layer} [d, heads·HEAD]`` whole (``kept``
    None) or the columns of the heads ``kept`` lists (a column gather by blocks of ``HEAD``)."""
    w = g.input(f"w{t}{layer}", d, heads * HEAD)
    if kept is None:
        return g.copy(f"w{t}{layer}c", w)
    return g.gather(f"w{t}{layer}g", w, kept, axis=1, block=HEAD)


def head_importance(g: TaskGraph, tag: str, a: str, rows: int, live: int) -> str:
    """``[1, live]``: per head, the sum of ``|a|`` over its ``HEAD`` columns and the ``rows`` rows of ``a``."""
    cols = live * HEAD
    signs = np.concatenate([np.eye(cols, dtype=int), -np.eye(cols, dtype=int)], axis=1)  # a·[I, −I]
    pm = g.relu(f"abs{tag}", g.gemm(f"pm{tag}", a, signs, acc="Int(20)"))
    total = g.avgpool(f"colsum{tag}", pm, shape=(rows, 1), multiplier=1 << 30, shift=30, out="Int(16)")
    blocks = np.tile(np.repeat(np.eye(live, dtype=int), HEAD, axis=0), (2, 1))  # column j -> head (j mod cols) // HEAD
    return g.gemm(f"importance{tag}", total, blocks, acc="Int(20)")


def head_inputs(g: TaskGraph, seed: int = 1) -> dict[str, np.ndarray]:
    """Random activations in [-64, 64) and weights in [-8, 8) for every input of ``g``."""
    rng = np.random.default_rng(seed)
    return {
        name: rng.integers(-64, 64, (t.rows, t.cols)) if name == "x" else rng.integers(-8, 8, (t.rows, t.cols))
        for name, t in g.tasks.items()
        if t.op == "input"
    }


graph = head_graph()
machine = Machine(cores=4, lanes=8, onchip_bytes=32 * 1024, offchip_bytes_per_cycle=8, offchip_latency=20)
inputs = head_inputs(graph)
