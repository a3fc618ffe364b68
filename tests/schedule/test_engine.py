"""The generated schedule engine in Amaranth's simulator: outputs, cycles and off-chip bytes against
the golden model and the compiler's cost report; what it cannot build; the stage switch cost."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hwgen import ConfigError, Int
from hwgen.schedule import BufferKind, Machine, TaskGraph, compile_schedule
from hwgen.schedule.engine import build_engine
from hwgen.schedule.run import run_schedule
from hwgen.verilog import lint, to_verilog


def chain(widths, rows=3, seed=0, relu=True) -> TaskGraph:
    rng = np.random.default_rng(seed)
    g = TaskGraph("chain")
    g.input("x", rows, widths[0])
    prev = "x"
    for i, (k, n) in enumerate(zip(widths, widths[1:])):
        prev = g.gemm(f"l{i}", prev, rng.integers(-8, 8, (k, n)), acc=Int(20))
        if i < len(widths) - 2:
            prev = g.requant(f"q{i}", prev, multiplier=int(rng.integers(1 << 16, 1 << 20)), shift=20, zero_point=-1)
            if relu:
                prev = g.relu(f"r{i}", prev)
    return g


def fork(rows=4, seed=1) -> TaskGraph:
    rng = np.random.default_rng(seed)
    g = TaskGraph("fork")
    g.input("x", rows, 8)
    g.gemm("a", "x", rng.integers(-8, 8, (8, 12)), acc=Int(20))
    g.requant("a8", "a", multiplier=1 << 16, shift=18)
    g.gemm("b", "a8", rng.integers(-8, 8, (12, 4)), acc=Int(20))
    g.gemm("c", "a8", rng.integers(-8, 8, (12, 6)), acc=Int(20))  # a8 feeds two consumers
    return g


def join(rows=3, seed=2) -> TaskGraph:
    """x feeds two paths of different lengths that an add joins: a -> a2 and b."""
    rng = np.random.default_rng(seed)
    g = TaskGraph("join")
    g.input("x", rows, 8)
    g.gemm("a", "x", rng.integers(-8, 8, (8, 6)), acc=Int(20))
    g.requant("a8", "a", multiplier=1 << 16, shift=18)
    g.gemm("a2", "a8", rng.integers(-8, 8, (6, 6)), acc=Int(20))
    g.requant("a28", "a2", multiplier=1 << 16, shift=17)
    g.gemm("b", "x", rng.integers(-8, 8, (8, 6)), acc=Int(20))
    g.requant("b8", "b", multiplier=1 << 16, shift=18)
    g.add("s", "a28", "b8")
    g.gemm("o", "s", rng.integers(-8, 8, (6, 5)), acc=Int(20))
    return g


def inputs(g: TaskGraph, seed=3):
    rng = np.random.default_rng(seed)
    return {n: rng.integers(-128, 128, (t.rows, t.cols)) for n, t in g.tasks.items() if t.op == "input"}


CASES = {
    # two cores, everything fits: the tiny chain
    "chain-2core": (
        chain([8, 12, 6]),
        Machine(cores=2, lanes=4, onchip_bytes=4096, offchip_bytes_per_cycle=2, offchip_latency=5),
    ),
    # one core, a small buffer: sequential tensors spill off-chip; k < lanes stalls
    "chain-spill": (
        chain([4, 24, 3, 8], rows=5),
        Machine(cores=1, lanes=8, onchip_bytes=180, offchip_bytes_per_cycle=0.5, offchip_latency=7),
    ),
    # three cores: ops split over several cores by columns
    "chain-3core": (
        chain([6, 16, 10], rows=2, relu=False),
        Machine(cores=3, lanes=2, onchip_bytes=2048, offchip_bytes_per_cycle=3, offchip_latency=2, switch_cycles=3),
    ),
    # a 2-column layer on 4 cores: an op never gets more cores than it has columns
    "narrow-4core": (
        chain([8, 2, 6], rows=2),
        Machine(cores=4, lanes=2, onchip_bytes=1024, offchip_bytes_per_cycle=2, offchip_latency=3),
    ),
    # fork/join: in all-dataflow the add waits a slot for the longer path (a 4-row input ring)
    "join": (join(), Machine(cores=4, lanes=2, onchip_bytes=2048, offchip_bytes_per_cycle=2, offchip_latency=3)),
    "fork": (fork(), Machine(cores=3, lanes=4, onchip_bytes=1024, offchip_bytes_per_cycle=1, offchip_latency=4)),
    # registered requantization epilogues: every core result a cycle (two) later, in the model and the engine
    "chain-spill-epi2": (
        chain([4, 24, 3, 8], rows=5),
        Machine(cores=1, lanes=8, onchip_bytes=180, offchip_bytes_per_cycle=0.5, offchip_latency=7, epilogue_stages=2),
    ),
    "join-epi1": (
        join(),
        Machine(cores=4, lanes=2, onchip_bytes=2048, offchip_bytes_per_cycle=2, offchip_latency=3, epilogue_stages=1),
    ),
}


@pytest.mark.parametrize("policy", ["auto", "dataflow", "sequential"])
@pytest.mark.parametrize("case", CASES)
def test_engine_matches_golden_model_and_cost_report(case, policy):
    g, m = CASES[case]
    x = inputs(g)
    golden = {o: g.run(x)[o] for o in g.outputs()}
    run = run_schedule(g, m, policy, x)
    assert run.compare(golden) == []


def test_the_cases_cover_every_kind_of_boundary_and_core_split():
    kinds, split = set(), False
    for g, m in CASES.values():
        for policy in ("auto", "dataflow", "sequential"):
            s = compile_schedule(g, m, policy)
            kinds |= set(s.decisions.values())
            split |= any(c > 1 for c in s.cores.values())
    assert kinds == {"dataflow", "sequential-onchip", "sequential-offchip"} and split


def test_a_slower_memory_than_modelled_costs_cycles_not_correctness():
    g, m = CASES["chain-spill"]
    x = inputs(g)
    golden = {o: g.run(x)[o] for o in g.outputs()}
    run = run_schedule(g, m, "sequential", x, memory_latency=m.offchip_latency + 40)
    problems = run.compare(golden)
    assert len(problems) == 1 and "cycles measured, the cost report says" in problems[0]
    assert run.cycles > run.schedule.cycles


def test_stage_switch_cost_measured():
    """The same schedule with a 2-cycle and a 7-cycle stage switch: measured cycles differ by 5 per stage."""
    g = chain([8, 12, 6])
    base = dict(cores=2, lanes=4, onchip_bytes=4096, offchip_bytes_per_cycle=2, offchip_latency=5)
    x = inputs(g)
    fast = run_schedule(g, Machine(switch_cycles=2, **base), "sequential", x)
    slow = run_schedule(g, Machine(switch_cycles=7, **base), "sequential", x)
    stages = len(fast.schedule.stages)
    assert stages == 2 and slow.cycles - fast.cycles == 5 * stages


@pytest.mark.parametrize("case", ["fork", "join", "decoder_layer"])
def test_engine_verilog_lints_clean(case):
    if case == "decoder_layer":  # norm, attention, activation units and the adders besides the cores
        from pathlib import Path

        from hwgen.spec import load_schedule

        g, m, _ = load_schedule(Path(__file__).resolve().parents[2] / "examples" / "schedules" / "decoder_layer.py")
    else:
        g, m = CASES[case]
    v = to_verilog(build_engine(g, m, compile_schedule(g, m, "dataflow")), "eng")
    assert lint(v, "eng") == []


def test_join_in_dataflow_holds_the_short_path_rows_longer():
    g, m = CASES["join"]
    s = compile_schedule(g, m, "dataflow")
    assert s.stages == [["a", "a2", "b", "s"], ["o"]] and s.plans[0].depth == {"a": 0, "a2": 1, "b": 0, "s": 2}
    ring = {str(k): v // 6 for k, v in s.buffers.items() if k.kind == BufferKind.INPUT and k.op == "s"}
    assert ring == {"in:s:a28": 2, "in:s:b8": 4}


def _unbuildable(kind):
    g = TaskGraph("bad")
    g.input("x", 2, 4)
    w = np.ones((4, 4), dtype=np.int64)
    if kind == "add-relu":
        g.gemm("a", "x", w)
        g.gemm("b", "x", w)
        g.add("s", "a", "b")
        g.relu("r", "s")
    elif kind == "saturate":
        g.gemm("a", "x", w, overflow="saturate")
    elif kind == "accs":
        g.gemm("a", "x", w, acc=Int(20))
        g.gemm("b", "a", w, acc=Int(24))
    elif kind == "order":
        g.gemm("a", "x", w)
        g.relu("r", "a")
        g.requant("q", "r", multiplier=1, shift=1)
    return g


@pytest.mark.parametrize(
    "kind, pattern",
    [
        ("add-relu", r"graph\.r: the engine does not fuse requant/relu after an add \(s\)"),
        ("saturate", r"graph\.a\.overflow: the engine's accumulators wrap"),
        ("accs", r"graph: all gemm tasks must share one accumulator type .*Int\(20\), Int\(24\)"),
        (
            "order",
            r"graph\.q: the engine fuses 'requant' then 'relu' after a gemm; a -> r -> q is \['relu', 'requant'\]",
        ),
    ],
)
def test_what_the_engine_cannot_build_is_a_clear_error(kind, pattern):
    g = _unbuildable(kind)
    m = Machine(cores=2, lanes=4)
    with pytest.raises(ConfigError, match=pattern):
        build_engine(g, m, compile_schedule(g, m, "sequential"))


def test_missing_input_data():
    g, m = CASES["chain-2core"]
    with pytest.raises(ConfigError, match=r"graph\.x: no data given for this input"):
        run_schedule(g, m, "auto", {})


def test_core_stages_delay_core_results_in_the_model_and_the_engine_alike():
    """Registered requantization epilogues and MAC stages (``Machine.epilogue_stages``, ``mac_stages``)
    make a compute-bound schedule longer by whole cycles per row slot; the engine measures exactly the
    modelled cycles at each setting (``compare`` checks cycles against the cost report)."""
    g, m = CASES["chain-2core"]
    x = inputs(g)
    golden = {o: g.run(x)[o] for o in g.outputs()}
    cycles = {}
    for epi, mac in ((0, 0), (1, 0), (2, 0), (0, 1), (2, 2), (5, 2)):
        run = run_schedule(g, replace(m, epilogue_stages=epi, mac_stages=mac), "dataflow", x)
        assert run.compare(golden) == []
        cycles[epi, mac] = run.cycles
    assert cycles[0, 0] < cycles[1, 0] < cycles[2, 0] < cycles[2, 2] < cycles[5, 2]
    assert cycles[0, 1] == cycles[1, 0]  # one stage either way: one cycle more per row


def test_ties_to_even_requantization_runs_in_the_engine():
    """A graph requantized the ONNX way (``rounding="half_even"``, a multiplier that makes ties common): the
    engine equals the golden model, which differs from rounding ties away from zero."""
    rng = np.random.default_rng(5)

    def graph(rounding: str) -> TaskGraph:
        g = TaskGraph("even")
        g.input("x", 4, 8)
        g.gemm("a", "x", rng_w, acc=Int(20))
        g.requant("q", "a", multiplier=1 << 20, shift=22, zero_point=3, rounding=rounding)
        g.gemm("b", "q", rng_w2, acc=Int(20))
        return g

    rng_w, rng_w2 = rng.integers(-8, 8, (8, 6)), rng.integers(-8, 8, (6, 5))
    g, x = graph("half_even"), {"x": rng.integers(-4, 5, (4, 8))}
    golden = {o: g.run(x)[o] for o in g.outputs()}
    assert not np.array_equal(g.run(x)["q"], graph("half_away").run(x)["q"])  # the ties matter here
    m = Machine(cores=2, lanes=4, onchip_bytes=4096, offchip_bytes_per_cycle=2, offchip_latency=3)
    run = run_schedule(g, m, "dataflow", x)
    assert run.compare(golden) == []


def test_per_channel_requantization_and_bias_run_in_the_engine():
    """A layer with an int32 bias per column and per-channel multipliers and shifts (ONNX per-channel
    weights), split over three cores by columns (each core's slice gets its columns' parameters): the
    engine equals the golden model; a per-tensor layer follows on the same cores."""
    rng = np.random.default_rng(9)
    g = TaskGraph("perchannel")
    g.input("x", 3, 8)
    g.gemm("a", "x", rng.integers(-8, 8, (8, 10)), acc=Int(24), bias=rng.integers(-3000, 3000, 10))
    mult = [int(v) for v in rng.integers(1 << 29, 1 << 31, 10)]
    shift = [int(v) for v in rng.integers(34, 38, 10)]
    g.requant("q", "a", multiplier=mult, shift=shift, zero_point=-4, rounding="half_even")
    g.relu("r", "q")
    g.gemm("b", "r", rng.integers(-8, 8, (10, 6)), acc=Int(24))
    g.requant("bq", "b", multiplier=1 << 28, shift=32)
    x = inputs(g)
    golden = {o: g.run(x)[o] for o in g.outputs()}
    m = Machine(cores=3, lanes=2, onchip_bytes=2048, offchip_bytes_per_cycle=2, offchip_latency=3)
    for policy in ("dataflow", "sequential"):
        run = run_schedule(g, m, policy, x)
        assert run.compare(golden) == [], policy


def test_rescaling_adds_run_in_the_engine():
    """Rescaling adds (ONNX QLinearAdd): of two quantized tensors (a residual) and of a constant row (a
    quantized bias after a MatMul); the engine equals the golden model, which equals the rule written out."""
    rng = np.random.default_rng(12)
    g = TaskGraph("qadd")
    g.input("x", 3, 8, "UInt(8)")
    g.gemm("a", "x", rng.integers(-8, 8, (8, 6)), acc=Int(24))
    g.requant("aq", "a", multiplier=1 << 22, shift=30, zero_point=120, out="UInt(8)", rounding="half_even")
    bias = rng.integers(0, 256, 6)
    g.add(
        "ab", "aq", bias, multipliers=(1 << 30, 3 << 28), shift=31, zero_points=(120, 114), zero_point=7, out="UInt(8)"
    )
    g.gemm("c", "x", rng.integers(-8, 8, (8, 6)), acc=Int(24))
    g.requant("cq", "c", multiplier=1 << 23, shift=30, zero_point=100, out="UInt(8)", rounding="half_even")
    g.add(
        "s", "ab", "cq", multipliers=(5 << 27, 1 << 30), shift=31, zero_points=(7, 100), zero_point=128, out="UInt(8)"
    )
    g.gemm("o", "s", rng.integers(-8, 8, (6, 4)), acc=Int(24))
    x = {"x": rng.integers(0, 256, (3, 8))}
    env = g.run(x)

    def rule(a, b, ma, mb, za, zb, n, zp):  # round half to even, written out with Python integers
        t = (int(a) - za) * ma + (int(b) - zb) * mb
        q, r = divmod(t, 1 << n)
        q += 1 if 2 * r > (1 << n) or (2 * r == (1 << n) and q % 2) else 0
        return min(255, max(0, zp + q))

    expect = [[rule(env["aq"][i, j], bias[j], 1 << 30, 3 << 28, 120, 114, 31, 7) for j in range(6)] for i in range(3)]
    assert env["ab"].tolist() == expect
    golden = {o: env[o] for o in g.outputs()}
    m = Machine(cores=2, lanes=4, onchip_bytes=4096, offchip_bytes_per_cycle=2, offchip_latency=3)
    for policy in ("dataflow", "sequential"):
        run = run_schedule(g, m, policy, x)
        assert run.compare(golden) == [], policy


def test_registered_feeds_delay_every_unit_row_by_one_cycle_in_the_model_and_the_engine():
    """``Machine.feed_stages = 1`` puts a register stage on every unit's input feed: each unit's row takes a
    cycle more (a gemm's first activation arrives a cycle later, an add's operands too); the engine measures
    exactly the modelled cycles and computes the same outputs, with the cores' stages at 0 and at (5, 2)."""
    for case in ("chain-2core", "join"):
        g, m = CASES[case]
        x = inputs(g)
        golden = {o: g.run(x)[o] for o in g.outputs()}
        for epi, mac in ((0, 0), (5, 2)):
            plain = run_schedule(g, replace(m, epilogue_stages=epi, mac_stages=mac, feed_stages=0), "dataflow", x)
            fed = run_schedule(g, replace(m, epilogue_stages=epi, mac_stages=mac, feed_stages=1), "dataflow", x)
            assert plain.compare(golden) == [] and fed.compare(golden) == [], (case, epi, mac)
            assert fed.cycles > plain.cycles, (case, epi, mac)


def test_a_clock_that_needs_the_fastest_core_stages_also_registers_the_feeds():
    g, m = CASES["chain-2core"]

    def chosen(clock: float, feed: int | None = None) -> Machine:
        auto = replace(m, epilogue_stages=None, mac_stages=None, feed_stages=feed, family="ecp5", clock_mhz=clock)
        return compile_schedule(g, auto, "dataflow").machine

    fast, slow, pinned = chosen(200), chosen(20), chosen(200, feed=0)
    assert (fast.mac_stages, fast.feed_stages) == (2, 1) and (slow.mac_stages, slow.feed_stages) == (0, 0)
    assert (pinned.mac_stages, pinned.feed_stages) == (2, 0)


def test_fastest_ecp5_cores_use_mult18x18d_cells_and_run_exactly_in_the_native_bench():
    """At epilogue 5 / MAC 2 on ECP5 the cores' multipliers are MULT18X18D cells with their own registers
    (:func:`hwgen.schedule.timing.core_dsp_cells`); the generated Verilog (with hwgen's cell model) runs in
    the native Verilator bench with the golden outputs and exactly the modelled cycles; on xc7 the same
    stages keep inferred multipliers."""
    g, m = CASES["chain-2core"]
    x = inputs(g)
    golden = {o: g.run(x)[o] for o in g.outputs()}
    fast = replace(m, epilogue_stages=5, mac_stages=2, feed_stages=1)
    run = run_schedule(g, fast, "dataflow", x, sim="native")
    assert run.compare(golden) == []
    verilog = to_verilog(build_engine(g, fast, compile_schedule(g, fast, "dataflow")), "engine")
    xc7 = replace(fast, family="xc7")
    plain = to_verilog(build_engine(g, xc7, compile_schedule(g, xc7, "dataflow")), "engine")
    assert verilog.count("MULT18X18D ") > 0 and "MULT18X18D" not in plain
