"""A transformer decoder layer on the schedule engine: d_model 64, 4 heads, 32 tokens (prefill, causal).

    hwgen schedule examples/schedules/decoder_layer.py [--run] [--sim native] [--out rtl_out]

x -> LayerNorm -> q, k, v projections -> causal 4-head attention -> output projection -> residual add ->
LayerNorm -> FFN (64 -> 128, GELU, 128 -> 64) -> residual add; INT8 activations and weights, 24-bit
accumulators. Every op is an engine unit: the gemms on record cores, the norms, the GELU and the attention
on their blocks' units (hwgen.blocks.norm / activation / attention), the residual adds on adders. K and V
stay in on-chip scratchpads; the attention unit reads each head's keys and values from them.
"""

import numpy as np

from hwgen import Int
from hwgen.schedule import Machine, TaskGraph

SEQ, D_MODEL, HEADS, D_FFN = 32, 64, 4, 128
rng = np.random.default_rng(0)

graph = TaskGraph("decoder_layer")
graph.input("x", SEQ, D_MODEL)


def linear(name: str, x: str, k: int, n: int, shift: int) -> str:
    """An INT8 projection: gemm with 24-bit accumulators, requantized to INT8 by 2^20 / 2^shift."""
    graph.gemm(name, x, rng.integers(-16, 16, (k, n)), acc=Int(24))
    return graph.requant(f"{name}8", name, multiplier=1 << 20, shift=shift)


h = graph.norm("ln1", "x", out=Int(8), out_frac=5)
q, k, v = (linear(n, h, D_MODEL, D_MODEL, 28) for n in ("q", "k", "v"))
a = graph.attention("att", q, k, v, heads=HEADS, causal=True, score_shift=5, scale=1 / 16)
o = linear("proj", a, D_MODEL, D_MODEL, 27)
r1 = graph.add("res1", "x", o, multipliers=(1 << 14, 1 << 14), shift=15, out=Int(8))
h2 = graph.norm("ln2", r1, out=Int(8), out_frac=5)
f = linear("ffn1", h2, D_MODEL, D_FFN, 28)
f = graph.activation("gelu", f, function="gelu", in_scale=1 / 16, out=Int(8), out_scale=1 / 16)
f = linear("ffn2", f, D_FFN, D_MODEL, 27)
graph.add("res2", r1, f, multipliers=(1 << 14, 1 << 14), shift=15, out=Int(8))

machine = Machine(cores=4, lanes=8, onchip_bytes=64 * 1024, offchip_bytes_per_cycle=8, offchip_latency=20)

inputs = {"x": np.random.default_rng(1).integers(-64, 64, (SEQ, D_MODEL))}
