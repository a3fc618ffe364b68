"""SpAtten's cascade token pruning on the schedule engine: layer 2 sees only the tokens layer 1 found important.

    hwgen schedule examples/pruning/cascade_pruning.py --policy dataflow [--run] [--out rtl_out]

Two attention layers (2 heads, d 16) over 32 tokens. Each token's importance
is the sum, over both heads and every query of layer 1, of the attention
probability it receives: per-head ``q·kᵀ`` (``matmul``), ``softmax``, the two
heads added, and a global average pool of multiplier 1 summing over the
queries. A ``topk`` keeps the 16 most important tokens (keep ratio 1/2);
``gather`` picks their rows of layer 1's output, so layer 2's projections,
its K and V and its attention all work on 16 rows. With more layers
(``keeps=(16, 8)``) the importance accumulates: each layer adds what a token
received to what it had (a column ``gather`` of the previous importance row
by the previous top-k). ``cascade_graph(..., prune=False)`` is the same model
without pruning, for comparison. (The auto
policy's exhaustive search stops at 16 free edges; this graph has more.)
"""

import numpy as np

from hwgen import Int
from hwgen.schedule import Machine, TaskGraph


def cascade_graph(
    n: int = 32, d: int = 16, keeps: tuple[int, ...] = (16,), seed: int = 0, prune: bool = True
) -> TaskGraph:
    """``len(keeps) + 1`` attention layers over ``n`` tokens of width ``d``; after layer ``l`` the ``keeps[l]``
    tokens of highest importance so far go on (``prune``), else every token does. A token's importance after
    layer ``l`` is what it received in that layer plus its importance before (the columns of the previous
    importance row that the previous top-k kept: a column ``gather``) — SpAtten's cascade."""
    rng = np.random.default_rng(seed)
    g = TaskGraph("cascade" if prune else "dense")
    g.input("x", n, d)

    def proj(name: str, src: str, cols: int = d, shift: int = 19) -> str:
        g.gemm(name, src, rng.integers(-8, 8, (d, cols)), acc=Int(20))  # every input is d wide
        return g.requant(f"{name}8", name, multiplier=1 << 16, shift=shift)

    x, rows, cumulative = "x", n, None
    for layer in range(1, len(keeps) + 2):
        q, k, v = proj(f"q{layer}", x), proj(f"k{layer}", x), proj(f"v{layer}", x)
        a = g.attention(f"a{layer}", q, k, v, heads=2, causal=False, score_shift=3, scale=1 / 8)
        h = g.add(f"h{layer}", x, proj(f"o{layer}", a), multipliers=(1 << 14, 1 << 14), shift=15)
        if not prune or layer > len(keeps):
            x = h
            continue
        probs = []
        for head in range(2):  # a head's q and k: that head's columns (the weights' column slice)
            qh, kh = proj(f"q{layer}h{head}", x, d // 2), proj(f"k{layer}h{head}", x, d // 2)
            s = g.matmul(f"s{layer}h{head}", qh, kh, transpose_b=True, multiplier=1 << 20, shift=25)
            probs.append(g.softmax(f"p{layer}h{head}", s, scale=1 / 16))
        total = g.add(f"p{layer}", *probs)
        received = g.avgpool(f"importance{layer}", total, shape=(rows, 1), multiplier=1 << 30, shift=30, out="Int(16)")
        if cumulative is not None:  # the kept tokens' importance so far, plus this layer's
            received = g.add(
                f"cumulative{layer}", received, g.gather(f"carried{layer}", cumulative, f"keep{layer - 1}", axis=1)
            )
        cumulative = received
        g.topk(f"keep{layer}", cumulative, k=keeps[layer - 1])
        x, rows = g.gather(f"x{layer + 1}", h, f"keep{layer}"), keeps[layer - 1]
    return g


graph = cascade_graph()
machine = Machine(cores=4, lanes=8, onchip_bytes=32 * 1024, offchip_bytes_per_cycle=8, offchip_latency=20)
inputs = {"x": np.random.default_rng(1).integers(-64, 64, (32, 16))}
