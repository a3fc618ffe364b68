"""GEMM cores (hwgen/blocks/gemm): the fixed and the record core — golden models, requant rounding, cycle models,
inputs from an off-chip memory model, the record switch cost, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen import ConfigError, Design, Int, UInt
from hwgen.blocks import GemmCoreConfig, RecordCoreConfig
from hwgen.blocks.gemm import SWITCH_CYCLES, gemm_cycles
from hwgen.schedule import TaskGraph
from hwgen.sim.amaranth_sim import run_amaranth
from hwgen.sim.check import DEFAULT_PHASES, FULL_RATE
from hwgen.sim.streams import OffchipMemory, Phase
from hwgen.sim.verify import make_vectors, verify_amaranth
from hwgen.verilog import lint


def _w(rng, k, n, lo=-128, hi=128):
    return tuple(tuple(int(v) for v in r) for r in rng.integers(lo, hi, (k, n)))


CORES = GemmCoreConfig.test_configs()


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
    cfg = CORES["k8_n10_l4_requant_relu"]
    accepts, outs = gemm_cycles(cfg.k, cfg.n, cfg.lanes, 5)
    assert accepts[-1] - accepts[0] + 1 == 5 * cfg.passes * cfg.k - (cfg.passes - 1) * cfg.k
    assert outs[-1] == 5 * cfg.passes * cfg.k - 1 + 3 + (cfg.n - (cfg.passes - 1) * cfg.lanes) - 1


def test_verilog_lints_clean_and_is_deterministic():
    cfg = CORES["k8_n10_l4_requant_relu"]
    v1 = Design(name="gc", top=cfg).verilog
    assert lint(v1, "gc") == []
    assert Design(name="gc", top=cfg).verilog == v1


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"weights": ((1, 2), (3,))}, r"gemm_core\.weights: rows of different lengths \[1, 2\]"),
        ({"weights": ((1, 300),)}, r"gemm_core\.weights: W\[0\]\[1\] = 300 is outside Int\(8\)"),
        ({"weights": ((1,),), "lanes": 0}, r"gemm_core\.lanes: 0 is out of range; allowed 1\.\.64"),
        (
            {"weights": ((1,),), "requant": True, "zero_point": 200},
            r"gemm_core\.zero_point: 200 is not an integer within Int\(8\) \(-128\.\.127\)",
        ),
        ({"weights": ((1,),), "acc": Int(64)}, r"gemm_core\.acc: .*signed integer of 8\.\.48 bits"),
        ({"weights": ((1.5,),)}, r"gemm_core\.weights: expected a non-empty list of lists of int"),
    ],
)
def test_bad_configs(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        GemmCoreConfig(**kwargs)


@pytest.mark.parametrize("name", ["k8_n10_l4_requant_relu", "k16_n3_l8_uint_relu"])
@pytest.mark.parametrize("bandwidth, latency", [(0.5, 40), (1.0, 7), (3.0, 0)])
def test_exact_cycles_with_inputs_from_an_offchip_memory_model(name, bandwidth, latency):
    cfg = CORES[name]
    mem = OffchipMemory(bytes_per_cycle=bandwidth, latency=latency, beat_bytes=1)
    stim = make_vectors(cfg, 12, 5)
    beats = len(stim.inputs["i"])
    accepts = cfg.cycle_model(stim, arrivals={"i": mem.arrivals(beats)})["i"]
    verdict = verify_amaranth(cfg, stim=stim, phases=DEFAULT_PHASES + [Phase("offchip", memory=mem)])
    assert verdict.passed, str(verdict)
    assert any("off-chip memory" in line and "the cycle model predicts" in line for line in verdict.lines)
    if bandwidth == 0.5 and cfg.passes == 1:
        # one pass per row: the core keeps up, so every activation is taken the cycle it arrives,
        # and at half a byte per cycle beat j arrives at latency + 2j + 1
        assert accepts == [latency + 2 * j + 1 for j in range(beats)]


def test_offchip_memory_model_rejects_bad_figures():
    from hwgen.sim.streams import OffchipMemory

    with pytest.raises(ConfigError, match=r"memory\.bytes_per_cycle: 0 must be > 0"):
        OffchipMemory(bytes_per_cycle=0)


# ---------------------------------------------------------------------------- record core
RNG8 = np.random.default_rng(8)


def _w8(k, n):
    return tuple(tuple(int(v) for v in r) for r in RNG8.integers(-128, 128, (k, n)))


SLICES = (
    GemmCoreConfig(
        weights=_w8(8, 10), lanes=4, requant=True, multiplier=(1 << 30) + 5, shift=33, zero_point=-2, relu=True
    ),
    GemmCoreConfig(weights=_w8(3, 6), lanes=4),  # k < lanes: passes wait for the drain
    GemmCoreConfig(weights=_w8(5, 4), lanes=4, requant=True, multiplier=7, shift=0, out=UInt(8)),
)
PROGRAMS = {
    "one-record": ((0,), (3,)),
    "three-slices": ((0, 1, 2), (2, 3, 1)),
    "repeat-slice": ((1, 1, 0), (1, 2, 2)),
    "relu-then-raw": ((0, 1), (1, 1)),
}


def test_model_is_each_slice_on_its_rows():
    cfg = RecordCoreConfig(slices=SLICES, program=(2, 0), rows=(2, 1))
    x = RNG8.integers(-128, 128, 2 * 5 + 8)
    want = np.concatenate(
        [SLICES[2].model(x[:10].reshape(2, 5)).reshape(-1), SLICES[0].model(x[10:].reshape(1, 8)).reshape(-1)]
    )
    assert np.array_equal(cfg.model(x), want)


def test_a_record_switch_costs_two_cycles_measured():
    """Two one-pass records: the second record's first activation is taken SWITCH_CYCLES + 1 cycles after
    the first record's last one (1 without a switch)."""
    cfg = RecordCoreConfig(slices=SLICES, program=(2, 2), rows=(1, 1))
    stim = make_vectors(cfg, 1, 1)
    res = run_amaranth(cfg.component(), stim, [FULL_RATE])[0]
    acc = res.accepted["i"]
    k = SLICES[2].k
    assert acc[:k] == list(range(SWITCH_CYCLES, SWITCH_CYCLES + k))  # 2 cycles to load the first record
    assert acc[k] - acc[k - 1] - 1 == SWITCH_CYCLES == 2


def test_record_core_lints_clean():
    cfg = RecordCoreConfig(slices=SLICES, program=(0, 1, 2), rows=(2, 3, 1))
    assert lint(Design(name="rc", top=cfg).verilog, "rc") == []


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"program": (3,), "rows": (1,)}, r"record_core\.program: record 0 names slice 3; there are 3"),
        ({"program": (0, 1), "rows": (1,)}, r"record_core\.rows: 1 entries for 2 records"),
        ({"program": (0,), "rows": (0,)}, r"record_core\.rows\[0\]: 0 is out of range"),
        ({"program": (0,), "rows": (1,), "dsp_cells": "dsp48"}, r"record_core\.dsp_cells: 'dsp48': one of"),
        (
            {"program": (0,), "rows": (1,), "dsp_cells": "mult18x18d", "epilogue_stages": 4, "mac_stages": 2},
            r"record_core\.dsp_cells: .*set epilogue_stages 5 and mac_stages 2 \(they are 4 and 2\)",
        ),
    ],
)
def test_bad_record_configs(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        RecordCoreConfig(slices=SLICES, **kwargs)


def test_mult18x18d_cells_need_operands_of_at_most_18_bits():
    wide = GemmCoreConfig(weights=((1, 2),), lanes=2, act=Int(20), weight=Int(8), acc=Int(40))
    with pytest.raises(ConfigError, match=r"record_core\.dsp_cells: .*up to 18 bits; act is Int\(20\)"):
        RecordCoreConfig(slices=(wide,), epilogue_stages=5, mac_stages=2, dsp_cells="mult18x18d")


def test_slices_must_share_the_datapath():
    other = GemmCoreConfig(weights=_w8(2, 2), lanes=8)
    with pytest.raises(ConfigError, match=r"record_core\.slices: slice 1 has lanes = 8, slice 0 has 4"):
        RecordCoreConfig(slices=(SLICES[0], other), program=(0,), rows=(1,))


def test_params_round_trip_through_plain_values():
    """Nested configs and weight tables survive params() -> from_params() (TOML/JSON manifests)."""
    cfg = RecordCoreConfig(slices=SLICES, program=(0, 2), rows=(1, 3))
    assert RecordCoreConfig.from_params(cfg.params()) == cfg
