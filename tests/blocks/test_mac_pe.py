"""MAC PE (hwgen/blocks/mac_pe): golden model, cycle model, configuration checks, and what the checker catches."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from hwgen import ConfigError, Fixed, Int, UFixed, UInt
from hwgen.blocks import MacPEConfig
from hwgen.blocks.mac_pe import hardware
from hwgen.sim.verify import make_vectors, verify_amaranth
from hwgen.vectors import StreamVectors

from .. import references

TABLE = MacPEConfig.test_configs()

CONFIGS = [
    MacPEConfig(),
    MacPEConfig(lanes=4, acc=Int(12), overflow="saturate"),
    MacPEConfig(lanes=3, act=UInt(8), acc=Int(10), overflow="wrap"),
    MacPEConfig(lanes=2, act=UInt(4), weight=UInt(4), acc=UInt(9), overflow="saturate"),
    MacPEConfig(lanes=2, act=UInt(4), weight=UInt(4), acc=UInt(9), overflow="wrap"),
    MacPEConfig(lanes=8, act=Int(32), weight=Int(32), acc=Int(80), overflow="wrap"),
    MacPEConfig(lanes=8, act=UFixed(8, 8), weight=Fixed(8, 6), acc=Fixed(20, 14), overflow="saturate"),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.act}x{c.weight}->{c.acc}-{c.overflow}-L{c.lanes}")
def test_model_equals_reference_on_random_and_corner_streams(cfg):
    stim = cfg.stimulus(np.random.default_rng(11), 300)
    i = stim.inputs["i"]
    got = cfg.model(i["a"], i["w"], i["last"])
    assert got.tolist() == references.mac_pe(cfg, stim)["o"]
    assert len(got) == int(np.sum(i["last"]))


def test_hand_computed_cases():
    cfg = MacPEConfig(lanes=2)
    # (-128)(-128) + (-128)(-128) = 32768 ; then 3*4 + (-2)*5 = 2 over two beats with the second last
    a = [[-128, -128], [3, 0], [0, -2]]
    w = [[-128, -128], [4, 0], [0, 5]]
    assert cfg.model(a, w, [1, 0, 1]).tolist() == [32768, 2]
    sat = MacPEConfig(lanes=1, acc=Int(8), overflow="saturate", max_len=4)
    # 100 -> 127 (clamped from 200) -> 77: saturation is per beat, so the sum comes back down
    assert sat.model([[10], [10], [-10]], [[10], [10], [5]], [0, 0, 1]).tolist() == [77]
    wrap = MacPEConfig(lanes=1, acc=Int(8), overflow="wrap")
    assert wrap.model([[10], [10]], [[10], [3]], [0, 1]).tolist() == [-126]  # 130 wraps to -126
    # beats after the last `last` are an open accumulation: no result
    assert cfg.model([[1, 1], [1, 1]], [[1, 1], [1, 1]], [1, 0]).tolist() == [2]


def test_outputs_share_the_activations_and_packing_keeps_the_results():
    # two outputs: w[0:2] for output 0, w[2:4] for output 1; the extremes of a packed pair's fields
    a = [[-128, -128], [3, 1]]
    w = [[-128, -128, 127, -128], [4, 0, -1, 2]]
    want = [[32768 + 12, -128 * 127 + 16384 - 3 + 2]]
    assert MacPEConfig(lanes=2, outputs=2).model(a, w, [0, 1]).tolist() == want
    assert MacPEConfig(lanes=2, outputs=2, pack_int8=True).model(a, w, [0, 1]).tolist() == want
    # 8 lanes of (-128)·(-128) in one packed group: the low field's sum is -2^17, the exactness edge
    edge = MacPEConfig(lanes=8, outputs=2, pack_int8=True, pipeline=0)
    assert edge.pack_groups == [(0, 8)] and MacPEConfig(lanes=11, outputs=2, pack_int8=True).pack_groups == [
        (0, 8),
        (8, 11),
    ]


def test_error_mode_rejects_streams_longer_than_max_len():
    cfg = MacPEConfig(max_len=3)
    with pytest.raises(ValueError, match="exceeds max_len=3"):
        cfg.model([[1]] * 4, [[1]] * 4, [0, 0, 0, 1])


def test_out_of_range_inputs_are_rejected():
    with pytest.raises(ValueError, match="outside -128..127"):
        MacPEConfig().model([[128]], [[1]], [1])


def test_corners_reach_the_accumulator_edges():
    cfg = MacPEConfig(lanes=4, acc=Int(12), overflow="wrap")
    stim = cfg.stimulus(np.random.default_rng(0), 0)
    i = stim.inputs["i"]
    # the exact sums (without wrap) must include acc.max, acc.max + 1, acc.min and acc.min - 1
    exact = MacPEConfig(lanes=4, acc=Int(40), overflow="wrap").model(i["a"], i["w"], i["last"]).tolist()
    for edge in (cfg.acc.max, cfg.acc.max + 1, cfg.acc.min, cfg.acc.min - 1):
        assert edge in exact
    assert "min×min for 1024 beats" in stim.corners


def test_narrow_accumulator_message_names_field_value_and_fix():
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "mac_pe.acc: Int(12) cannot hold the sum of 64 products of Int(8)×Int(8) without overflow; "
            "need ≥ 22 bits or set overflow='wrap'"
        ),
    ):
        MacPEConfig(acc=Int(12), lanes=64, max_len=1)


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        ({"lanes": 0}, r"mac_pe\.lanes: 0 is out of range; allowed 1\.\.64"),
        ({"lanes": 65}, r"mac_pe\.lanes: 65 is out of range; allowed 1\.\.64"),
        ({"pipeline": 6}, r"mac_pe\.pipeline: 6 is out of range; allowed 0\.\.5"),
        ({"max_len": 0}, r"mac_pe\.max_len: 0 is out of range"),
        ({"overflow": "clip"}, r"mac_pe\.overflow: 'clip' is not one of 'wrap', 'saturate', 'error'"),
        ({"lanes": "4"}, r"mac_pe\.lanes: expected an integer, not '4'"),
        ({"lanes": True}, r"mac_pe\.lanes: expected an integer"),
        ({"act": 8}, r"mac_pe\.act: expected a number type such as Int\(8\), not 8"),
        ({"act": Int(33)}, r"mac_pe\.act: Int\(33\) is wider than 32 bits"),
        (
            {"acc": Fixed(32, 4)},
            r"mac_pe\.acc: Fixed\(32, frac=4\) has 4 fractional bits but products of "
            r"Int\(8\)×Int\(8\) have 0; use an accumulator with frac=0",
        ),
        ({"acc": UInt(40)}, r"mac_pe\.acc: UInt\(40\) cannot hold .* need ≥ 26 signed bits"),
        ({"outputs": 0}, r"mac_pe\.outputs: 0 is out of range; allowed 1\.\.64"),
        ({"pack_int8": True, "outputs": 3}, r"mac_pe\.outputs: with pack_int8: 3: outputs pack in pairs"),
        ({"pack_int8": True, "outputs": 2, "act": UInt(8)}, r"mac_pe\.act: with pack_int8: packing needs Int\(8\)"),
        ({"pack_int8": True, "outputs": 2, "pipeline": 5}, r"mac_pe\.pipeline: with pack_int8: 5: the tree is split"),
        (
            {"pack_int8": True, "outputs": 2, "dsp_cells": "mult18x18d"},
            r"mac_pe\.dsp_cells: with pack_int8: mult18x18d: the 27-bit operand is not one cell",
        ),
    ],
)
def test_bad_configs_raise_config_errors(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        MacPEConfig(**kwargs)


def test_configs_are_frozen_and_keyword_only():
    cfg = MacPEConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lanes = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        MacPEConfig(Int(8))  # type: ignore[misc]


def test_timing_model():
    for p in range(5):
        t = MacPEConfig(pipeline=p, lanes=16).timing()
        assert (t.latency, t.ii, t.ops_per_beat) == (p + 1, 1, 16)
    # cycle model: one beat per cycle, each result pipeline + 1 cycles after its last beat
    cfg = MacPEConfig(pipeline=2)
    vec = StreamVectors(inputs={"i": {"a": [[0]] * 5, "w": [[0]] * 5, "last": [0, 1, 0, 0, 1]}}, expected={})
    assert cfg.cycle_model(vec) == {"i": [0, 1, 2, 3, 4], "o": [4, 7]}
    # inputs offered late: each beat is taken when it arrives (and never before the previous one + 1)
    late = cfg.cycle_model(vec, arrivals={"i": [3, 3, 9, 9, 10]})
    assert late == {"i": [3, 4, 9, 10, 11], "o": [7, 14]}


def test_wrong_golden_model_is_caught():
    cfg = TABLE["int8_l4_sat_p3"]
    stim = make_vectors(cfg, 50, seed=1)
    stim.expected["o"] = stim.expected["o"].copy()
    stim.expected["o"][10] ^= 1
    verdict = verify_amaranth(cfg, stim=stim)
    assert not verdict.passed
    assert any("first mismatch at beat #10" in p for p in verdict.problems)


def test_broken_design_is_caught(monkeypatch):
    original = hardware.adder_tree
    monkeypatch.setattr(hardware, "adder_tree", lambda values: original(values[:-1]) if len(values) > 1 else values[0])
    verdict = verify_amaranth(TABLE["int8_l4_sat_p3"], vectors=50)
    assert not verdict.passed
    assert any("mismatch" in p for p in verdict.problems)


def test_wrong_latency_model_is_caught(monkeypatch):
    cfg = TABLE["int8_exact_p1"]
    real = type(cfg).timing
    monkeypatch.setattr(
        type(cfg),
        "timing",
        lambda self: type(real(self))(latency=real(self).latency + 1, ii=1, ops_per_beat=self.lanes),
    )
    verdict = verify_amaranth(cfg, vectors=20)
    assert not verdict.passed
    assert any("the cycle model says" in p for p in verdict.problems)


def test_backpressure_phase_really_stalls():
    cfg = TABLE["int8_l4_sat_p3"]
    verdict = verify_amaranth(cfg, vectors=100)
    assert verdict.cycles["backpressure"] > verdict.cycles["full-rate"] * 1.2


def test_vectors_are_reproducible_from_the_seed():
    cfg = TABLE["u8s8_l3_wrap_p0"]
    a, b = make_vectors(cfg, 20, seed=9), make_vectors(cfg, 20, seed=9)
    assert np.array_equal(a.inputs["i"]["a"], b.inputs["i"]["a"])
    assert np.array_equal(a.expected["o"], b.expected["o"])


def test_packing_halves_the_multipliers():
    from hwgen.verilog import to_verilog

    def multipliers(pack: bool) -> int:
        return to_verilog(MacPEConfig(lanes=4, outputs=4, pack_int8=pack, pipeline=1).component(), "u").count(" * ")

    assert (multipliers(False), multipliers(True)) == (16, 8)
