"""The element-wise multiply (ONNX QLinearMul; SwiGLU's gating): golden model against plain integer loops with
corners (zero points, rounding ties, clamping); a LLaMA-style gated FFN (gate, SiLU, up, mul, down) on the engine
exactly under every policy; the mul unit's row time is tight; bad input."""

from __future__ import annotations

import numpy as np
import pytest

import hwgen.schedule.cost as cost
from hwgen import ConfigError, Int, UInt
from hwgen.schedule import Machine, TaskGraph, compile_schedule
from hwgen.schedule.run import run_schedule
from tests.references import round_to_even

MACHINE = Machine(cores=4, lanes=4, onchip_bytes=16384, offchip_bytes_per_cycle=4, offchip_latency=5)


def gated_ffn(seed: int = 0, d: int = 16, hidden: int = 24) -> TaskGraph:
    """``down(silu(x·Wg) ⊙ (x·Wu))``: SwiGLU with the gate through the SiLU table unit."""
    rng = np.random.default_rng(seed)
    g = TaskGraph("swiglu")
    g.input("x", 8, d)
    for t in ("gate", "up"):
        g.gemm(t, "x", rng.integers(-8, 8, (d, hidden)), acc=Int(20))
        g.requant(f"{t}8", t, multiplier=1 << 16, shift=22, zero_point=2 if t == "up" else 0)
    g.activation("act", "gate8", function="silu", in_scale=1 / 16, out_scale=1 / 16)
    g.mul("h", "act", "up8", zero_points=(0, 2), multiplier=1 << 20, shift=25, zero_point=-3)
    g.gemm("down", "h", rng.integers(-8, 8, (hidden, d)), acc=Int(20))
    g.requant("y", "down", multiplier=1 << 16, shift=21)
    return g


def test_mul_golden_model_is_the_integer_rule():
    """Every pair of Int(4) × UInt(4) values, zero points (−3, 5), multiplier/shift with exact half ties: the
    rule by plain Python integers (round half to even), clamped into Int(6)."""
    g = TaskGraph("mul")
    a = np.array([[i for i in range(-8, 8) for _ in range(16)]])
    b = np.array([[j for _ in range(16) for j in range(16)]])
    g.input("a", 1, a.shape[1], Int(4))
    g.input("b", 1, b.shape[1], UInt(4))
    g.mul("y", "a", "b", zero_points=(-3, 5), multiplier=3, shift=2, zero_point=1, out=Int(6))
    y = g.run({"a": a, "b": b})["y"][0]
    expected = [max(-32, min(31, 1 + round_to_even((int(p) + 3) * (int(q) - 5) * 3, 2))) for p, q in zip(a[0], b[0])]
    assert list(y) == expected
    assert {v for v in expected} >= {-32, 31}  # both clamps reached
    assert any(((int(p) + 3) * (int(q) - 5) * 3) % 4 == 2 for p, q in zip(a[0], b[0]))  # ties rounded


@pytest.mark.parametrize("policy", ["auto", "dataflow", "sequential"])
def test_gated_ffn_runs_exactly_on_the_engine(policy):
    g = gated_ffn()
    x = {"x": np.random.default_rng(3).integers(-128, 128, (8, 16))}
    run = run_schedule(g, MACHINE, policy, x, sim="native" if policy == "auto" else "amaranth")
    assert run.compare({"y": g.run(x)["y"]}) == []
    assert run.cycles == run.schedule.cycles


def test_mul_row_time_is_tight(monkeypatch):
    g = gated_ffn()
    s = compile_schedule(g, MACHINE, "sequential")
    plan = next(p for p in s.plans if p.ops == ("h",))
    assert plan.unit_cycles["core:h"] > plan.unit_cycles["memory"]
    real = cost.unit_row_cycles
    monkeypatch.setattr(cost, "unit_row_cycles", lambda opg, o, c, m: real(opg, o, c, m) - (o == "h"))
    run = run_schedule(g, MACHINE, "sequential", {"x": np.zeros((8, 16), dtype=int)})
    assert run.cycles > run.schedule.cycles


def test_mul_bad_input():
    g = TaskGraph("bad")
    g.input("a", 4, 6)
    g.input("b", 4, 5)
    with pytest.raises(ConfigError, match=r"graph\.m\.shift: 70 is not an integer in 0\.\.62"):
        g.mul("m", "a", "b", multiplier=1, shift=70)
    g.mul("m", "a", "b", multiplier=1, shift=0)
    with pytest.raises(ConfigError, match=r"graph\.m: shape mismatch: a is 4×6, b is 4×5"):
        g.validate()
