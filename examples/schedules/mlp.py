"""InTAR schedule example: a 3-layer MLP whose middle layer widens 8x.

    hwgen schedule examples/schedules/mlp.py [--run] [--sim verilator] [--out rtl_out]

16 tokens, 64 -> 64 -> 512 -> 64 (INT8 activations and weights, 24-bit accumulators, requantized
between layers). The 512-wide intermediate (8 KiB) does not fit the 6 KiB on-chip buffer; the first
layer's output (1 KiB) does. auto streams fc2 into fc3 and keeps fc1's output on chip.
"""

import numpy as np

from hwgen import Int
from hwgen.schedule import Machine, TaskGraph

rng = np.random.default_rng(0)

graph = TaskGraph("mlp")
graph.input("x", 16, 64)
graph.gemm("fc1", "x", rng.integers(-8, 8, (64, 64)), acc=Int(24))
graph.requant("q1", "fc1", multiplier=1 << 20, shift=24)
graph.relu("r1", "q1")
graph.gemm("fc2", "r1", rng.integers(-8, 8, (64, 512)), acc=Int(24))
graph.requant("q2", "fc2", multiplier=1 << 20, shift=25)
graph.gemm("fc3", "q2", rng.integers(-8, 8, (512, 64)), acc=Int(24))

machine = Machine(cores=4, lanes=16, onchip_bytes=6 * 1024, offchip_bytes_per_cycle=1, offchip_latency=30)

inputs = {"x": np.random.default_rng(7).integers(-128, 128, (16, 64))}
