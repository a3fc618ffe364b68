"""Task graphs (hwgen/schedule/graph.py): the integer golden model."""

from __future__ import annotations

import numpy as np

from hwgen import Int
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
    assert env["q"].tolist() == q.tolist() and env["r"].tolist() == np.maximum(q, 0).tolist()
