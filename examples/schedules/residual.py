"""InTAR schedule example: a residual MLP block (fork/join), as in a transformer's feed-forward layer.

    hwgen schedule examples/schedules/residual.py [--run] [--sim verilator] [--out rtl_out]

16 tokens, x (64) -> up 256 -> ReLU -> down 64, requantized, plus the skip connection x; then a
64 -> 64 projection of the sum. The add joins a long path and the input itself.
"""

import numpy as np

from hwgen import Int
from hwgen.schedule import Machine, TaskGraph

rng = np.random.default_rng(2)

graph = TaskGraph("residual")
graph.input("x", 16, 64)
graph.gemm("up", "x", rng.integers(-8, 8, (64, 256)), acc=Int(24))
graph.requant("up8", "up", multiplier=1 << 20, shift=24)
graph.relu("h", "up8")
graph.gemm("down", "h", rng.integers(-8, 8, (256, 64)), acc=Int(24))
graph.requant("down8", "down", multiplier=1 << 20, shift=25)
graph.add("res", "down8", "x")
graph.gemm("proj", "res", rng.integers(-8, 8, (64, 64)), acc=Int(24))

machine = Machine(cores=4, lanes=16, onchip_bytes=6 * 1024, offchip_bytes_per_cycle=1, offchip_latency=30)

inputs = {"x": np.random.default_rng(7).integers(-128, 128, (16, 64))}
