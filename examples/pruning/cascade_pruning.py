"""SpAtten's cascade token pruning on the schedule engine: layer 2 sees only the tokens layer 1 found important.

    hwgen schedule examples/pruning/cascade_pruning.py --policy dataflow [--run] [--out rtl_out]

Two attention layers (2 heads, d 16) over 32 tokens. Each token's importance
is the sum, over both heads and every query of layer 1, of the attention
probability it receives: per-head ``q·kᵀ`` (``matmul``), ``softmax``, the two
heads added, and a global average pool of multiplier 1 summing over the
queries. A ``topk`` keeps the 16 most important tokens (keep ratio 1/2);
``gather`` picks their rows of layer 1's output, so layer 2's projections,
its K and V and its attention all work on 16 rows. ``cascade_graph(...,
prune=False)`` is the same model without pruning, for comparison. (The auto
policy's exhaustive search stops at 16 free edges; this graph has more.)
"""

import numpy as np

from hwgen import Int
from hwgen.schedule import Machine, TaskGraph


def cascade_graph(n: int = 32, d: int = 16, keep: int = 16, seed: int = 0, prune: bool = True) -> TaskGraph:
    """The two layers over ``n`` tokens of width ``d``, layer 2 on the ``keep`` most important (``prune``) or
    on all of them."""
    rng = np.random.default_rng(seed)
    g = TaskGraph("cascade" if prune else "dense")
    g.input("x", n, d)

    def proj(name: str, src: str, cols: int = d, shift: int = 19) -> str:
        g.gemm(name, src, rng.integers(-8, 8, (d, cols)), acc=Int(20))  # every input is d wide
        return g.requant(f"{name}8", name, multiplier=1 << 16, shift=shift)

    q1, k1, v1 = proj("q1", "x"), proj("k1", "x"), proj("v1", "x")
    a1 = g.attention("a1", q1, k1, v1, heads=2, causal=False, score_shift=3, scale=1 / 8)
    h1 = g.add("h1", "x", proj("o1", a1), multipliers=(1 << 14, 1 << 14), shift=15)
    x2 = h1
    if prune:
        probs = []
        for h in range(2):  # a head's q and k: that head's columns (the weights' column slice)
            qh, kh = proj(f"q1h{h}", "x", d // 2), proj(f"k1h{h}", "x", d // 2)
            s = g.matmul(f"s{h}", qh, kh, transpose_b=True, multiplier=1 << 20, shift=25)
            probs.append(g.softmax(f"p{h}", s, scale=1 / 16))
        total = g.add("p", *probs)
        g.avgpool("importance", total, shape=(n, 1), multiplier=1 << 30, shift=30, out="Int(16)")
        g.topk("keep", "importance", k=keep)
        x2 = g.gather("x2", h1, "keep")
    q2, k2, v2 = proj("q2", x2), proj("k2", x2), proj("v2", x2)
    a2 = g.attention("a2", q2, k2, v2, heads=2, causal=False, score_shift=3, scale=1 / 8)
    g.add("h2", x2, proj("o2", a2), multipliers=(1 << 14, 1 << 14), shift=15)
    return g


graph = cascade_graph()
machine = Machine(cores=4, lanes=8, onchip_bytes=32 * 1024, offchip_bytes_per_cycle=8, offchip_latency=20)
inputs = {"x": np.random.default_rng(1).integers(-64, 64, (32, 16))}
