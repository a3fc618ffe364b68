"""InTAR schedule example: an attention-like chain of projections with a 12x swing in width.

    hwgen schedule examples/schedules/attention.py [--run] [--sim verilator] [--out rtl_out]

16 tokens: 64 -> 192 (q, k, v projection) -> 16 (scores, ReLU) -> 64 (context) -> 64 (output
projection). auto runs the wide projection alone on all cores, then streams the narrow tail.
"""

import numpy as np

from hwgen import Int
from hwgen.schedule import Machine, TaskGraph

rng = np.random.default_rng(1)

graph = TaskGraph("attention")
graph.input("x", 16, 64)
graph.gemm("qkv", "x", rng.integers(-8, 8, (64, 192)), acc=Int(24))
graph.requant("qkv8", "qkv", multiplier=1 << 20, shift=24)
graph.gemm("scores", "qkv8", rng.integers(-8, 8, (192, 16)), acc=Int(24))
graph.requant("p8", "scores", multiplier=1 << 20, shift=25)
graph.relu("p", "p8")
graph.gemm("ctx", "p", rng.integers(-8, 8, (16, 64)), acc=Int(24))
graph.requant("ctx8", "ctx", multiplier=1 << 20, shift=22)
graph.gemm("out", "ctx8", rng.integers(-8, 8, (64, 64)), acc=Int(24))

machine = Machine(cores=4, lanes=16, onchip_bytes=6 * 1024, offchip_bytes_per_cycle=1, offchip_latency=30)

inputs = {"x": np.random.default_rng(7).integers(-128, 128, (16, 64))}
