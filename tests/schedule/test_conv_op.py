"""The conv and pool ops (and the copy that brings an image on chip): the golden models against a direct
convolution and pooling written with loops; the engine's sliding-window reader and pooling unit against the
golden model and the cost report at every policy (Amaranth; native with registered feeds), their row times
exact, a broken window caught; bad input."""

from __future__ import annotations

import numpy as np
import pytest

import hwgen.schedule.cost as cost
from hwgen import ConfigError, Int
from hwgen.schedule import Machine, TaskGraph, compile_schedule
from hwgen.schedule.run import run_schedule

MACHINE = Machine(cores=4, lanes=2, onchip_bytes=4096, offchip_bytes_per_cycle=2, offchip_latency=3)


def cnn(seed=0, h=6, w=5, c=3) -> TaskGraph:
    """copy -> 3×3 conv (pad 1 of -3) -> requant/ReLU -> 3×3 stride-2 conv (pads 1,0,1,1) -> gemm."""
    rng = np.random.default_rng(seed)
    g = TaskGraph("cnn")
    g.input("img", h * w, c)
    g.copy("img_on", "img")
    g.conv2d("c1", "img_on", rng.integers(-8, 8, (3, 3, c, 4)), shape=(h, w), pads=1, pad_value=-3, acc=Int(20))
    g.requant("c1q", "c1", multiplier=1 << 16, shift=19, zero_point=-5)
    g.relu("c1r", "c1q")
    g.conv2d("c2", "c1r", rng.integers(-8, 8, (3, 3, 4, 6)), shape=(h, w), stride=2, pads=(1, 0, 1, 1),
             pad_value=-5, acc=Int(20), bias=rng.integers(-500, 500, 6))  # fmt: skip
    g.requant("c2q", "c2", multiplier=1 << 16, shift=19)
    g.gemm("fc", "c2q", rng.integers(-8, 8, (6, 2)), acc=Int(20))
    return g


def data(g: TaskGraph, seed=3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: rng.integers(-128, 128, (t.rows, t.cols)) for n, t in g.tasks.items() if t.op == "input"}


def direct_conv(img, weights, h, w, stride, pads, pad_value, bias=None):
    """A convolution from its definition, with Python loops: output (oy, ox, co) sums weights[ky, kx, c, co]
    times the input at (oy·sh − top + ky, ox·sw − left + kx, c), the pad value outside the image."""
    kh, kw, cin, cout = weights.shape
    sh, sw = stride
    top, left, bottom, right = pads
    ho, wo = (h + top + bottom - kh) // sh + 1, (w + left + right - kw) // sw + 1
    out = []
    for oy in range(ho):
        for ox in range(wo):
            row = []
            for co in range(cout):
                total = 0 if bias is None else int(bias[co])
                for ky in range(kh):
                    for kx in range(kw):
                        y, x = oy * sh - top + ky, ox * sw - left + kx
                        for c in range(cin):
                            v = int(img[y * w + x, c]) if 0 <= y < h and 0 <= x < w else pad_value
                            total += v * int(weights[ky, kx, c, co])
                row.append(total)
            out.append(row)
    return np.array(out)


@pytest.mark.parametrize("seed", range(3))
def test_conv_golden_model_equals_a_direct_convolution(seed):
    g = cnn(seed)
    env = g.run(data(g, seed))
    c1 = g.tasks["c1"]
    w1 = c1.weights.reshape(3, 3, 3, 4)
    assert np.array_equal(env["c1"], direct_conv(env["img"], w1, 6, 5, (1, 1), (1, 1, 1, 1), -3))
    c2 = g.tasks["c2"]
    want = direct_conv(env["c1r"], c2.weights.reshape(3, 3, 4, 6), 6, 5, (2, 2), (1, 0, 1, 1), -5, c2.bias)
    assert np.array_equal(env["c2"], want) and env["c2"].shape == (6, 6)


@pytest.mark.parametrize("policy", ["auto", "dataflow", "sequential"])
def test_engine_runs_convolutions_exactly(policy):
    g = cnn()
    x = data(g)
    golden = {o: g.run(x)[o] for o in g.outputs()}
    run = run_schedule(g, MACHINE, policy, x)
    assert run.compare(golden) == []
    assert "c1r" in run.schedule.onchip_tensors and [p.rows for p in run.schedule.plans][:2] == [30, 30]


def test_engine_runs_convolutions_with_registered_feeds_on_the_native_bench():
    g = cnn(seed=4, h=7, w=7, c=2)
    x = data(g, 5)
    golden = {o: g.run(x)[o] for o in g.outputs()}
    m = Machine(**{**MACHINE.__dict__, "feed_stages": 1, "mac_stages": 2, "epilogue_stages": 1})
    assert run_schedule(g, m, "auto", x, sim="native").compare(golden) == []


def test_conv_row_time_is_exact(monkeypatch):
    g = cnn()
    s = compile_schedule(g, MACHINE, "sequential")
    plan = next(p for p in s.plans if p.ops == ("c1",))
    assert plan.unit_cycles["core:c1"] > plan.unit_cycles["memory"]
    real = cost.unit_row_cycles
    monkeypatch.setattr(cost, "unit_row_cycles", lambda opg, op, c, m: real(opg, op, c, m) - (op == "c1"))
    run = run_schedule(g, MACHINE, "sequential", data(g))
    assert run.cycles > run.schedule.cycles


def test_a_window_that_ignores_the_stride_fails_the_comparison(monkeypatch):
    import hwgen.schedule.engine.window as window
    from hwgen.schedule.window import Window

    real = window.window_reader

    def stride_one(m, name, buf, w, pad_value, start, row, taken):
        return real(m, name, buf, Window(**{**w.__dict__, "sh": 1, "sw": 1}), pad_value, start, row, taken)

    monkeypatch.setattr("hwgen.schedule.engine.units.window_reader", stride_one)
    g = cnn()
    x = data(g)
    run = run_schedule(g, MACHINE, "sequential", x)
    assert any("differs from the golden model" in p for p in run.compare({"fc": g.run(x)["fc"]}))


def test_conv_bad_input_names_the_task_and_field():
    g = TaskGraph("bad")
    g.input("img", 16, 2)
    w = np.ones((3, 3, 2, 4), int)
    with pytest.raises(ConfigError, match=r"graph\.a\.weights: expected 4-D data, got 3-D"):
        g.conv2d("a", "img", np.ones((3, 3, 2)), shape=(4, 4))
    with pytest.raises(ConfigError, match=r"graph\.b\.shape: \(4, 4, 1\): one integer or a pair"):
        g.conv2d("b", "img", w, shape=(4, 4, 1))
    with pytest.raises(ConfigError, match=r"graph\.c\.stride: 0 is out of range"):
        g.conv2d("c", "img", w, shape=(4, 4), stride=0)
    with pytest.raises(ConfigError, match=r"graph\.d: pads \(3, 0, 0, 0\) must be smaller than the kernel"):
        g.conv2d("d", "img", w, shape=(4, 4), pads=(3, 0, 0, 0))
    with pytest.raises(ConfigError, match=r"graph\.e: a 3×3 kernel does not fit the 2×2 image"):
        g.conv2d("e", "img", w, shape=(2, 2))
    g.conv2d("f", "img", w, shape=(4, 5))
    with pytest.raises(ConfigError, match=r"graph\.f: its input img is 16×2; a 4×5 image of 2 channels"):
        g.validate()


def test_a_conv_of_a_graph_input_asks_for_a_copy():
    g = TaskGraph("direct")
    g.input("img", 16, 2)
    g.conv2d("c", "img", np.ones((3, 3, 2, 4), int), shape=(4, 4), acc=Int(20))
    with pytest.raises(ConfigError, match=r"graph\.c: reads img whole .* graph\.copy\('img_onchip', 'img'\)"):
        compile_schedule(g, MACHINE)


def pooled(seed=0) -> TaskGraph:
    """conv -> 3×3 stride-2 max pool (padded top-left) -> global average pool -> gemm."""
    rng = np.random.default_rng(seed)
    g = TaskGraph("pooling")
    g.input("img", 36, 3)
    g.copy("img_on", "img")
    g.conv2d("c1", "img_on", rng.integers(-8, 8, (3, 3, 3, 4)), shape=(6, 6), pads=1, acc=Int(20))
    g.requant("c1q", "c1", multiplier=1 << 16, shift=22, zero_point=-3)
    g.maxpool("mp", "c1q", shape=(6, 6), kernel=3, stride=2, pads=(1, 1, 0, 0))
    g.avgpool("gap", "mp", shape=(3, 3), multiplier=(1 << 30) // 9, shift=30, zero_points=(-3, 2))
    g.gemm("fc", "gap", rng.integers(-8, 8, (4, 2)), acc=Int(20))
    return g


def direct_pool(img, h, w, kernel, stride, pads, mode):
    """Max or sum of each channel over each window, with loops; padded positions are skipped."""
    (kh, kw), (sh, sw), (top, left, bottom, right) = kernel, stride, pads
    ho, wo = (h + top + bottom - kh) // sh + 1, (w + left + right - kw) // sw + 1
    out = []
    for oy in range(ho):
        for ox in range(wo):
            vals = [
                [int(img[y * w + x, c]) for c in range(img.shape[1])]
                for ky in range(kh)
                for kx in range(kw)
                if 0 <= (y := oy * sh - top + ky) < h and 0 <= (x := ox * sw - left + kx) < w
            ]
            out.append([max(col) if mode == "max" else sum(col) for col in zip(*vals)])
    return np.array(out)


@pytest.mark.parametrize("seed", range(3))
def test_pool_golden_model_equals_direct_pooling(seed):
    from tests.references import round_to_even

    g = pooled(seed)
    env = g.run(data(g, seed))
    assert np.array_equal(env["mp"], direct_pool(env["c1q"], 6, 6, (3, 3), (2, 2), (1, 1, 0, 0), "max"))
    sums = direct_pool(env["mp"], 3, 3, (3, 3), (1, 1), (0, 0, 0, 0), "sum")
    want = [[min(127, max(-128, 2 + round_to_even((s + 27) * ((1 << 30) // 9), 30))) for s in row] for row in sums]
    assert np.array_equal(env["gap"], np.array(want)) and len(np.unique(env["gap"])) > 1


@pytest.mark.parametrize("policy", ["auto", "dataflow", "sequential"])
def test_engine_runs_pooling_exactly(policy):
    g = pooled()
    x = data(g)
    golden = {o: g.run(x)[o] for o in g.outputs()}
    run = run_schedule(g, MACHINE, policy, x)
    assert run.compare(golden) == []
    assert {p.rows for p in run.schedule.plans} == {36, 9, 1}


def test_pool_row_time_is_exact(monkeypatch):
    g = pooled()
    s = compile_schedule(g, MACHINE, "sequential")
    for op in ("mp", "gap"):
        plan = next(p for p in s.plans if p.ops == (op,))
        assert plan.unit_cycles[f"core:{op}"] > plan.unit_cycles["memory"]
    real = cost.unit_row_cycles
    monkeypatch.setattr(cost, "unit_row_cycles", lambda opg, op, c, m: real(opg, op, c, m) - (op == "mp"))
    run = run_schedule(g, MACHINE, "sequential", data(g))
    assert run.cycles > run.schedule.cycles


def test_pool_bad_input():
    g = TaskGraph("bad")
    g.input("img", 16, 2)
    with pytest.raises(ConfigError, match=r"graph\.a\.kernel: 0 is out of range"):
        g.maxpool("a", "img", shape=(4, 4), kernel=0)
    with pytest.raises(ConfigError, match=r"graph\.b\.shift: 99 is not an integer in 0\.\.62"):
        g.avgpool("b", "img", shape=(4, 4), multiplier=1, shift=99)
    g.maxpool("c", "img", shape=(4, 5), kernel=2)
    with pytest.raises(ConfigError, match=r"graph\.c: its input img has 16 rows; a 4×5 image has 20"):
        g.validate()
