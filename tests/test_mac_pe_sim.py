"""MAC PE in the Amaranth simulator: same vectors, same checker as cocotb."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen import Fixed, Int, UFixed, UInt
from hwgen.blocks import MacPEConfig, mac_pe
from hwgen.sim.verify import make_vectors, verify_amaranth

CONFIGS = {
    "int8-error-p1": MacPEConfig(),
    "int8-sat-p3-L4": MacPEConfig(lanes=4, pipeline=3, acc=Int(12), overflow="saturate"),
    "u8xs8-wrap-p0-L3": MacPEConfig(lanes=3, pipeline=0, act=UInt(8), acc=Int(10), overflow="wrap"),
    "u4xu4-sat-p2-L2": MacPEConfig(lanes=2, pipeline=2, act=UInt(4), weight=UInt(4), acc=UInt(9), overflow="saturate"),
    "fixed-sat-p2-L8": MacPEConfig(
        lanes=8, pipeline=2, act=UFixed(8, 8), weight=Fixed(8, 6), acc=Fixed(20, 14), overflow="saturate"
    ),
    "int32-wrap-p1-L2": MacPEConfig(lanes=2, act=Int(32), weight=Int(32), acc=Int(80), overflow="wrap"),
    "int8-L64-p3": MacPEConfig(lanes=64, pipeline=3, acc=Int(24), overflow="saturate", max_len=8),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_amaranth_sim_matches_golden_model_with_exact_latency(name):
    verdict = verify_amaranth(CONFIGS[name], vectors=300, seed=5)
    assert verdict.passed, str(verdict)
    assert verdict.latency_measured == [CONFIGS[name].timing().latency]


def test_wrong_golden_model_is_caught():
    cfg = CONFIGS["int8-sat-p3-L4"]
    stim = make_vectors(cfg, 50, seed=1)
    stim.expected["o"] = stim.expected["o"].copy()
    stim.expected["o"][10] ^= 1
    verdict = verify_amaranth(cfg, stim=stim)
    assert not verdict.passed
    assert any("first mismatch at beat #10" in p for p in verdict.problems)


def test_broken_design_is_caught(monkeypatch):
    original = mac_pe._adder_tree
    monkeypatch.setattr(mac_pe, "_adder_tree", lambda values: original(values[:-1]) if len(values) > 1 else values[0])
    verdict = verify_amaranth(CONFIGS["int8-sat-p3-L4"], vectors=50)
    assert not verdict.passed
    assert any("mismatch" in p for p in verdict.problems)


def test_wrong_latency_model_is_caught(monkeypatch):
    cfg = CONFIGS["int8-error-p1"]
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
    cfg = CONFIGS["int8-sat-p3-L4"]
    verdict = verify_amaranth(cfg, vectors=100)
    assert verdict.cycles["backpressure"] > verdict.cycles["full-rate"] * 1.2


def test_vectors_are_reproducible_from_the_seed():
    cfg = CONFIGS["u8xs8-wrap-p0-L3"]
    a, b = make_vectors(cfg, 20, seed=9), make_vectors(cfg, 20, seed=9)
    assert np.array_equal(a.inputs["i"]["a"], b.inputs["i"]["a"])
    assert np.array_equal(a.expected["o"], b.expected["o"])
