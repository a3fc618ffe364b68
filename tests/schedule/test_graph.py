"""Task graphs (hwgen/schedule/graph.py): the integer golden model."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen import ConfigError, Int
from hwgen.schedule import TaskGraph


def test_golden_model_semantics():
    g = TaskGraph("t")
    g.input("x", 2, 3)
    g.gemm("y", "x", np.array([[1, -2], [3, 4], [-5, 6]]), acc=Int(8))  # wraps at 8 bits
    g.requant("q", "y", multiplier=3, shift=1, zero_point=1, out=Int(4))
    g.relu("r", "q")
    x = np.array([[1, 2, 3], [100, 100, 100]])
    env = g.run({"x": x})
    full = x @ np.array([[1, -2], [3, 4], [-5, 6]])
    assert env["y"].tolist() == (((full + 128) % 256) - 128).tolist()
    q = np.clip(
        1 + np.array([[(3 * v + 1) >> 1 if v >= 0 else -((-3 * v + 1) >> 1) for v in r] for r in env["y"].tolist()]),
        -8,
        7,
    )
    # the quantized ReLU: clamped at the zero point 1 (a real 0)
    assert env["q"].tolist() == q.tolist() and env["r"].tolist() == np.maximum(q, 1).tolist()


def test_relu_after_a_zero_point_is_the_quantized_relu():
    """ReLU of a requantized tensor clamps at its zero point (a real 0), not at integer 0; after a gemm (no
    zero point) at 0; a ReLU passes its zero point on."""
    g = TaskGraph("qrelu")
    g.input("x", 1, 3)
    g.gemm("a", "x", np.eye(3, dtype=int), acc=Int(16))
    g.requant("q", "a", multiplier=1 << 30, shift=30, zero_point=-5)  # y = x - 5
    g.relu("r", "q")
    g.relu("r2", "r")
    g.relu("ra", "a")
    env = g.run({"x": np.array([[-20, 3, 9]])})
    assert env["q"].tolist() == [[-25, -2, 4]]
    assert env["r"].tolist() == [[-5, -2, 4]] and env["r2"].tolist() == [[-5, -2, 4]]
    assert env["ra"].tolist() == [[0, 3, 9]]
    assert (g.zero_point("q"), g.zero_point("r2"), g.zero_point("a")) == (-5, -5, 0)


def test_gemm_bias_and_per_channel_requant():
    """``bias`` is added to the exact product before the overflow rule; per-column multipliers and shifts
    apply column by column (checked against integer arithmetic written out)."""
    g = TaskGraph("pc")
    g.input("x", 2, 2)
    g.gemm("a", "x", np.array([[1, 2, 3], [4, 5, 6]]), acc=Int(16), bias=[100, -100, 32767])
    g.requant("q", "a", multiplier=[1, 3, 1], shift=[0, 1, 4], zero_point=2, out=Int(8))
    x = np.array([[1, -1], [2, 3]])
    env = g.run({"x": x})
    acc = [[1 - 4 + 100, 2 - 5 - 100, 3 - 6 + 32767], [2 + 12 + 100, 4 + 15 - 100, 6 + 18 + 32767]]
    acc = [[((v + 32768) % 65536) - 32768 for v in row] for row in acc]  # wrap to Int(16)
    assert env["a"].tolist() == acc
    # column 1: round(3v / 2) half away from zero; column 2: round(v / 16)
    expect = [
        [
            max(-128, min(127, 2 + q))
            for q in (
                r[0],
                int(np.sign(3 * r[1])) * ((abs(3 * r[1]) + 1) // 2),
                int(np.sign(r[2])) * ((abs(r[2]) + 8) // 16),
            )
        ]
        for r in acc
    ]
    assert env["q"].tolist() == expect


def test_per_channel_lists_must_match_the_columns():
    g = TaskGraph("pc")
    g.input("x", 2, 2)
    g.gemm("a", "x", np.ones((2, 3), dtype=int))
    g.requant("q", "a", multiplier=[1, 2], shift=0)
    with pytest.raises(ConfigError, match=r"graph\.q\.multiplier.*2 values for 3 columns"):
        g.validate()
    with pytest.raises(ConfigError, match=r"graph\.b\.bias"):
        g.gemm("b", "x", np.ones((2, 3), dtype=int), bias=[1, 2])


def test_rescaling_add_arguments_are_checked():
    g = TaskGraph("qa")
    g.input("x", 2, 3, "UInt(8)")
    g.input("y", 2, 3, "UInt(8)")
    with pytest.raises(ConfigError, match=r"graph\.s\.b: a constant operand needs the rescaling add"):
        g.add("s", "x", np.array([1, 2, 3]))
    with pytest.raises(ConfigError, match=r"graph\.s\.multipliers: 5: a pair"):
        g.add("s", "x", "y", multipliers=5)
    with pytest.raises(ConfigError, match=r"graph\.s\.multipliers\[1\]: 2147483648 is out of range"):
        g.add("s", "x", "y", multipliers=(1, 1 << 31), shift=3)
    with pytest.raises(ConfigError, match=r"graph\.s\.shift"):
        g.add("s", "x", "y", multipliers=(1, 1), shift=63)
    g.add("s", "x", np.array([1, 2]), multipliers=(1, 1), shift=0, out="Int(16)")
    with pytest.raises(ConfigError, match=r"graph\.s: shape mismatch: x is 2×3, the constant row is 2×2"):
        g.validate()


def test_an_exact_add_holds_every_sum_of_its_operand_types():
    """UInt(8) + UInt(8) reaches 510: the result is UInt(9) (a signed 9-bit type would wrap it), and the
    engine adds 255 + 255 exactly."""
    from hwgen.schedule import Machine
    from hwgen.schedule.run import run_schedule

    g = TaskGraph("uadd")
    g.input("x", 2, 4)
    g.gemm("a", "x", 2 * np.eye(4, dtype=int), acc=Int(20))  # 2x + 1 clamps to 0..255
    g.requant("a8", "a", multiplier=1 << 30, shift=30, zero_point=1, out="UInt(8)")
    g.gemm("b", "x", 2 * np.eye(4, dtype=int), acc=Int(20))
    g.requant("b8", "b", multiplier=1 << 30, shift=30, zero_point=1, out="UInt(8)")
    g.add("s", "a8", "b8")
    g.gemm("o", "s", np.eye(4, dtype=int), acc=Int(20))
    g.validate()
    assert str(g.tasks["s"].dtype) == "UInt(9)"
    x = {"x": np.array([[127, 100, 0, -1], [50, 127, 127, 3]])}
    assert g.run(x)["o"].tolist() == [[510, 402, 2, 0], [202, 510, 510, 14]]
    m = Machine(cores=3, lanes=2, onchip_bytes=1024, offchip_bytes_per_cycle=2, offchip_latency=3)
    assert run_schedule(g, m, "dataflow", x).compare({"o": g.run(x)["o"]}) == []
