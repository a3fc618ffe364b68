"""InTAR-style schedules for two graphs with very different intermediate volumes.

    python examples/scripts/intar_schedules.py

* ``mlp``: a 3-layer MLP, 32 tokens, 256 -> 256 -> 2048 -> 256: the middle layer widens 8x, so its
  output (64 KiB) does not fit the 48 KiB on-chip buffer while the first layer's (8 KiB) does.
* ``attention``: a small attention-like chain, Q/K/V-style projections joined by an add.
Prints, for each, the cost of the auto schedule against all-dataflow and all-sequential.
"""

import numpy as np

from hwgen import Int
from hwgen.schedule import Machine, TaskGraph, compile_schedule

rng = np.random.default_rng(0)


def mlp() -> TaskGraph:
    g = TaskGraph("mlp")
    g.input("x", 32, 256)
    g.gemm("fc1", "x", rng.integers(-8, 8, (256, 256)), acc=Int(24))
    g.requant("q1", "fc1", multiplier=1 << 20, shift=26, out=Int(8))
    g.relu("r1", "q1")
    g.gemm("fc2", "r1", rng.integers(-8, 8, (256, 2048)), acc=Int(24))
    g.requant("q2", "fc2", multiplier=1 << 20, shift=27, out=Int(8))
    g.gemm("fc3", "q2", rng.integers(-8, 8, (2048, 256)), acc=Int(24))
    return g


def attention() -> TaskGraph:
    g = TaskGraph("attention")
    g.input("x", 16, 64)
    g.gemm("q", "x", rng.integers(-8, 8, (64, 64)), acc=Int(20))
    g.requant("q8", "q", multiplier=1 << 22, shift=28)
    g.gemm("k", "x", rng.integers(-8, 8, (64, 64)), acc=Int(20))
    g.requant("k8", "k", multiplier=1 << 22, shift=28)
    g.add("qk", "q8", "k8")
    g.gemm("o", "qk", rng.integers(-8, 8, (64, 64)), acc=Int(24))
    return g


GRAPHS = {"mlp": mlp, "attention": attention}
MACHINE = Machine(cores=2, lanes=64, onchip_bytes=48 * 1024, offchip_bytes_per_cycle=8, offchip_latency=60)

if __name__ == "__main__":
    for name, make in GRAPHS.items():
        g = make()
        costs = {p: compile_schedule(g, MACHINE, p) for p in ("auto", "dataflow", "sequential")}
        auto = costs["auto"]
        print(f"{name}: auto picks {', '.join(f'{a}->{b} {d}' for (a, b), d in auto.decisions.items())}")
        for p, s in costs.items():
            print(f"  {p:<10} {s.cycles:>8} cycles  off-chip {s.offchip_bytes:>7} B  on-chip {s.onchip_bytes:>6} B"
                  f"  stages {s.stages}")
