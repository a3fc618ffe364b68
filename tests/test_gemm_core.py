"""GEMM compute core (InTAR schedules): golden model, epilogue rounding, exact cycles in Amaranth, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen import ConfigError, Design, Int, UInt
from hwgen.blocks import GemmCoreConfig
from hwgen.schedule import TaskGraph
from hwgen.sim.verify import verify_amaranth
from hwgen.verilog import lint


def _w(rng, k, n, lo=-128, hi=128):
    return tuple(tuple(int(v) for v in r) for r in rng.integers(lo, hi, (k, n)))


RNG = np.random.default_rng(11)
CORES = {
    # k >= lanes: never stalls; several passes with a partial last pass
    "k8-n10-l4-requant-relu": GemmCoreConfig(
        weights=_w(RNG, 8, 10), lanes=4, requant=True, multiplier=(1 << 30) + 4321, shift=33, zero_point=-3, relu=True
    ),
    # k < lanes: every pass waits for the output register to drain
    "k2-n7-l4": GemmCoreConfig(weights=_w(RNG, 2, 7), lanes=4),
    "k1-n3-l2-requant": GemmCoreConfig(weights=_w(RNG, 1, 3), lanes=2, requant=True, multiplier=3, shift=2),
    "k16-n3-l8-uint-relu": GemmCoreConfig(weights=_w(RNG, 16, 3), lanes=8, act=UInt(8), relu=True, acc=Int(20)),
}


@pytest.mark.parametrize("name", CORES)
def test_amaranth_sim_exact_values_and_cycles(name):
    verdict = verify_amaranth(CORES[name], vectors=24, seed=3)
    assert verdict.passed, str(verdict)


def test_requant_rounds_half_away_from_zero_and_clamps():
    cfg = GemmCoreConfig(weights=((1,),), lanes=1, requant=True, multiplier=1, shift=1, out=Int(4))
    acc = np.array([-5, -3, -1, 1, 3, 5, 40, -40])
    assert cfg.epilogue(acc).tolist() == [-3, -2, -1, 1, 2, 3, 7, -8]
    relu = GemmCoreConfig(weights=((1,),), lanes=1, requant=True, multiplier=1, shift=1, out=Int(4), relu=True)
    assert relu.epilogue(acc).tolist() == [0, 0, 0, 1, 2, 3, 7, 0]


def test_model_matches_the_task_graph_semantics():
    rng = np.random.default_rng(5)
    w = rng.integers(-128, 128, (12, 9))
    x = rng.integers(-128, 128, (6, 12))
    g = TaskGraph("one")
    g.input("x", 6, 12)
    g.gemm("fc", "x", w, acc=Int(20))
    g.requant("q", "fc", multiplier=(1 << 29) + 77, shift=34, zero_point=2)
    g.relu("r", "q")
    golden = g.run({"x": x})["r"]
    cfg = GemmCoreConfig(
        weights=tuple(tuple(int(v) for v in r) for r in w),
        lanes=4,
        acc=Int(20),
        requant=True,
        multiplier=(1 << 29) + 77,
        shift=34,
        zero_point=2,
        relu=True,
    )
    assert np.array_equal(cfg.model(x), golden)


def test_wrap_to_the_accumulator():
    cfg = GemmCoreConfig(weights=((127,), (127,)), lanes=1, acc=Int(8))
    assert cfg.model([[127, 127]]).tolist() == [[(2 * 127 * 127 + 128) % 256 - 128]]


def test_no_stall_when_k_at_least_lanes():
    cfg = CORES["k8-n10-l4-requant-relu"]
    accepts, outs = cfg.schedule(5)
    assert accepts[-1] - accepts[0] + 1 == 5 * cfg.passes * cfg.k - (cfg.passes - 1) * cfg.k
    assert outs[-1] == 5 * cfg.passes * cfg.k - 1 + 3 + (cfg.n - (cfg.passes - 1) * cfg.lanes) - 1


def test_verilog_lints_clean_and_is_deterministic():
    cfg = CORES["k8-n10-l4-requant-relu"]
    v1 = Design(name="gc", top=cfg).verilog
    assert lint(v1, "gc") == []
    assert Design(name="gc", top=cfg).verilog == v1


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"weights": ((1, 2), (3,))}, r"gemm_core\.weights: rows of different lengths \[1, 2\]"),
        ({"weights": ((1, 300),)}, r"gemm_core\.weights: W\[0\]\[1\] = 300 is outside Int\(8\)"),
        ({"weights": ((1,),), "lanes": 0}, r"gemm_core\.lanes: 0 is out of range; allowed 1\.\.64"),
        ({"weights": ((1,),), "requant": True, "zero_point": 200}, r"gemm_core\.zero_point: 200 is out of range"),
        ({"weights": ((1,),), "acc": Int(64)}, r"gemm_core\.acc: .*signed integer of 8\.\.48 bits"),
        ({"weights": ((1.5,),)}, r"gemm_core\.weights: expected a non-empty list of lists of int"),
    ],
)
def test_bad_configs(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        GemmCoreConfig(**kwargs)


@pytest.mark.parametrize("name", ["k8-n10-l4-requant-relu", "k16-n3-l8-uint-relu"])
@pytest.mark.parametrize("bandwidth, latency", [(0.5, 40), (1.0, 7), (3.0, 0)])
def test_exact_cycles_with_inputs_from_an_offchip_memory_model(name, bandwidth, latency):
    from hwgen.sim.check import DEFAULT_PHASES
    from hwgen.sim.engine import OffchipMemory, Phase
    from hwgen.sim.verify import make_vectors

    cfg = CORES[name]
    mem = OffchipMemory(bytes_per_cycle=bandwidth, latency=latency, beat_bytes=1)
    stim = make_vectors(cfg, 12, 5)
    beats = len(stim.inputs["i"])
    accepts, outs = cfg.schedule(beats // cfg.k, mem.arrivals(beats))
    stim.extra["phase_schedules"] = {"offchip": {"i": accepts, "o": outs}}
    phases = DEFAULT_PHASES + [Phase("offchip", memory=mem)]
    verdict = verify_amaranth(cfg, stim=stim, phases=phases)
    assert verdict.passed, str(verdict)
    if bandwidth == 0.5 and cfg.passes == 1:
        # one pass per row: the core keeps up, so every activation is taken the cycle it arrives,
        # and at half a byte per cycle beat j arrives at latency + 2j + 1
        assert accepts == [latency + 2 * j + 1 for j in range(beats)]


def test_offchip_memory_model_rejects_bad_figures():
    from hwgen.sim.engine import OffchipMemory

    with pytest.raises(ConfigError, match=r"memory\.bytes_per_cycle: 0 must be > 0"):
        OffchipMemory(bytes_per_cycle=0)
