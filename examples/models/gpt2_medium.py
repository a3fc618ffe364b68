"""A GPT-2-medium-shaped decoder stack as a task graph, for the schedule compiler at model scale.

    hwgen schedule examples/models/gpt2_medium.py --policy auto     # the cost report; no engine at this size

24 pre-LN decoder layers: d_model 1024, 16 heads of 64, d_ffn 4096, 128 tokens. A layer is LayerNorm, the
Q/K/V projections, causal attention, the output projection and the residual add, LayerNorm, the FFN's two
gemms with a GELU between, and the second residual add (12 ops). The weights are zeros of the right shapes:
the schedule depends on shapes, not values (this graph is for compiling and costing; it is never run).
``gpt2_graph(layers=n)`` builds the first ``n`` layers.
"""

import numpy as np

from hwgen.schedule import Machine, TaskGraph

D, FFN, HEADS, TOKENS = 1024, 4096, 16, 128


def gpt2_graph(layers: int = 24, d: int = D, ffn: int = FFN, heads: int = HEADS, tokens: int = TOKENS) -> TaskGraph:
    """``layers`` pre-LN decoder layers over ``tokens`` rows of width ``d``."""
    g = TaskGraph(f"gpt2_{layers}l")
    g.input("x", tokens, d)
    square, wide, narrow = (np.zeros(s, dtype=np.int8) for s in ((d, d), (d, ffn), (ffn, d)))

    def linear(name: str, src: str, w: np.ndarray) -> str:
        g.gemm(name, src, w, acc="Int(32)")
        return g.requant(f"{name}_q", name, multiplier=1 << 20, shift=30)

    x = "x"
    for layer in range(layers):
        p = f"l{layer}_"
        n1 = g.norm(f"{p}ln1", x)
        q, k, v = (linear(f"{p}{t}", n1, square) for t in "qkv")
        a = g.attention(f"{p}attn", q, k, v, heads=heads, causal=True, score_shift=6, scale=1 / 16)
        h = g.add(f"{p}res1", x, linear(f"{p}o", a, square), multipliers=(1 << 14, 1 << 14), shift=15)
        n2 = g.norm(f"{p}ln2", h)
        up = g.activation(f"{p}gelu", linear(f"{p}fc1", n2, wide), function="gelu", in_scale=1 / 16, out_scale=1 / 16)
        x = g.add(f"{p}res2", h, linear(f"{p}fc2", up, narrow), multipliers=(1 << 14, 1 << 14), shift=15)
    return g


#: An Alveo-U280-like machine: 16 cores of 64 lanes, 4 MiB of on-chip buffers, 64 B/cycle off-chip.
machine = Machine(cores=16, lanes=64, onchip_bytes=4 << 20, offchip_bytes_per_cycle=64, offchip_latency=100)
graph = gpt2_graph(1)
