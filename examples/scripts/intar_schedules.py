"""InTAR-style schedules for two graphs with very different intermediate volumes.

    python examples/scripts/intar_schedules.py            # cost reports of the three policies
    python examples/scripts/intar_schedules.py --run      # also run each engine in simulation (Amaranth)

* ``mlp``: a 3-layer MLP, 16 tokens, 64 -> 64 -> 512 -> 64: the middle layer widens 8x, so its output
  (8 KiB) does not fit the 6 KiB on-chip buffer while the first layer's (1 KiB) does.
* ``attention``: an attention-like chain of projections: 16 tokens, 64 -> 192 (q, k, v) -> 16 (scores,
  ReLU) -> 64 (context) -> 64 (output projection).

For each, the cost of the auto schedule against all-dataflow and all-sequential; with ``--run`` the
generated engine runs end to end against the off-chip memory model and must match NumPy exactly and
the cost report's cycles and off-chip bytes.
"""

import argparse

import numpy as np

from hwgen import Int
from hwgen.schedule import Machine, TaskGraph, compile_schedule


def mlp(seed: int = 0) -> TaskGraph:
    rng = np.random.default_rng(seed)
    g = TaskGraph("mlp")
    g.input("x", 16, 64)
    g.gemm("fc1", "x", rng.integers(-8, 8, (64, 64)), acc=Int(24))
    g.requant("q1", "fc1", multiplier=1 << 20, shift=24)
    g.relu("r1", "q1")
    g.gemm("fc2", "r1", rng.integers(-8, 8, (64, 512)), acc=Int(24))
    g.requant("q2", "fc2", multiplier=1 << 20, shift=25)
    g.gemm("fc3", "q2", rng.integers(-8, 8, (512, 64)), acc=Int(24))
    return g


def attention(seed: int = 1) -> TaskGraph:
    rng = np.random.default_rng(seed)
    g = TaskGraph("attention")
    g.input("x", 16, 64)
    g.gemm("qkv", "x", rng.integers(-8, 8, (64, 192)), acc=Int(24))
    g.requant("qkv8", "qkv", multiplier=1 << 20, shift=24)
    g.gemm("scores", "qkv8", rng.integers(-8, 8, (192, 16)), acc=Int(24))
    g.requant("p8", "scores", multiplier=1 << 20, shift=25)
    g.relu("p", "p8")
    g.gemm("ctx", "p", rng.integers(-8, 8, (16, 64)), acc=Int(24))
    g.requant("ctx8", "ctx", multiplier=1 << 20, shift=22)
    g.gemm("out", "ctx8", rng.integers(-8, 8, (64, 64)), acc=Int(24))
    return g


GRAPHS = {"mlp": mlp, "attention": attention}
MACHINE = Machine(cores=4, lanes=16, onchip_bytes=6 * 1024, offchip_bytes_per_cycle=1, offchip_latency=30)
POLICIES = ("auto", "dataflow", "sequential")


def inputs_for(g: TaskGraph, seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    return {n: rng.integers(-128, 128, (t.rows, t.cols)) for n, t in g.tasks.items() if t.op == "input"}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="store_true", help="simulate every engine end to end (Amaranth)")
    args = ap.parse_args()
    for name, make in GRAPHS.items():
        g = make()
        costs = {p: compile_schedule(g, MACHINE, p) for p in POLICIES}
        auto = costs["auto"]
        print(f"{name}: auto picks {', '.join(f'{a}->{b} {d}' for (a, b), d in auto.decisions.items())}")
        for p, s in costs.items():
            print(f"  {p:<10} {s.cycles:>8} cycles  off-chip {s.offchip_bytes:>7} B  on-chip {s.onchip_bytes:>6} B"
                  f"  stages {s.stages}")
        if args.run:
            from hwgen.schedule.run import run_schedule
            x = inputs_for(g)
            golden = {o: g.run(x)[o] for o in g.outputs()}
            for p in POLICIES:
                r = run_schedule(g, MACHINE, p, x)
                problems = r.compare(golden)
                print(f"  ran {p:<10} {r.cycles} cycles, {r.offchip_bytes} B off-chip: "
                      + ("matches NumPy and the cost report" if not problems else "; ".join(problems)))
