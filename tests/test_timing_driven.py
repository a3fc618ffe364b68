"""Timing-driven generation: auto timing parameters, the Fmax estimate, and the choice for a clock.

The estimate's accuracy against nextpnr is a benchmark (``make bench``: ``timing.fmax_estimate``); these
tests check the mechanics: what is auto and what is explicit, that a choice meets the clock by the
estimate and is the cheapest that does, and that the chosen stages reach the hardware and the cycle model.
"""

from __future__ import annotations

import pickle
from dataclasses import replace

import pytest

from hwgen import Design
from hwgen.blocks import BLOCKS, BitSerialPEConfig, MacPEConfig, MixPEConfig, SparseChainConfig
from hwgen.blocks.systolic import SystolicArrayConfig
from hwgen.errors import ConfigError
from hwgen.estimate.timing import TIMING_MARGIN, coefficients, estimate_fmax, for_clock
from hwgen.numtype import Int, UInt
from hwgen.structure import multiplier_path


def test_left_out_timing_parameters_are_auto_and_take_the_block_default():
    assert MacPEConfig().pipeline == 1 and MacPEConfig().auto_params == {"pipeline", "dsp_cells"}
    assert MacPEConfig(pipeline=1, dsp_cells="inferred").auto_params == frozenset()
    s = SystolicArrayConfig()
    assert s.pe.pipeline == 0 and s.auto_params == {"pe.pipeline", "pe.dsp_cells"}
    # a PE table given without pipeline is auto inside the array too, with the array's default
    s = SystolicArrayConfig(pe=MacPEConfig(act=Int(8), weight=Int(8), acc=Int(32), max_len=4096))
    assert s.pe.pipeline == 0 and "pe.pipeline" in s.auto_params
    rows = {name: default for name, default, _, _ in MacPEConfig.describe_params()}
    assert rows["pipeline"] == "auto"


def test_config_dict_holds_only_fields_and_copies_still_work():
    base = MacPEConfig(lanes=4)
    assert set(base.__dict__) == {f for f in base.params()}
    copy = MacPEConfig(**{**base.__dict__, "overflow": "wrap"})
    assert copy.pipeline == base.pipeline and copy.overflow == "wrap"


def test_with_params_keeps_auto_marks_and_reaches_nested_configs():
    s = SystolicArrayConfig()
    t = s.with_params({"pe.pipeline": 2})
    assert t.pe.pipeline == 2 and t.auto_params == {"pe.pipeline", "pe.dsp_cells"}
    assert t == SystolicArrayConfig(pe=replace(s.pe, pipeline=2))
    again = pickle.loads(pickle.dumps(t))  # the marks stay beside the config, pickles are plain
    assert again == t


@pytest.mark.skipif("ecp5" not in coefficients(), reason="no ECP5 Fmax coefficients")
@pytest.mark.parametrize("clock", [60, 90, 100, 110, 130, 150, 200])
@pytest.mark.parametrize(
    "cfg",
    [
        SystolicArrayConfig(),
        SystolicArrayConfig(dataflow="output_stationary"),
        SystolicArrayConfig(
            rows=4, cols=4, pe=MacPEConfig(act=UInt(8), weight=Int(8), acc=Int(12), overflow="saturate")
        ),
        MacPEConfig(lanes=16),
        MacPEConfig(),
        SparseChainConfig(),
        SparseChainConfig(stages=8, pack_int8=True, overflow="wrap"),
        BitSerialPEConfig(),
        BitSerialPEConfig(rows=4, lanes=8, dequant="multiplier"),
    ],
    ids=["ws8", "os8", "ws4_sat", "mac16", "mac1", "chain16", "chain8_pack", "bitmod4", "bitmod4x8_mult"],
)
def test_the_choice_is_the_cheapest_candidate_meeting_the_clock_by_estimate(cfg, clock):
    chosen, note = for_clock(cfg, clock, "ecp5")
    assert note
    options = []
    for cand in cfg.timing_candidates("ecp5"):
        try:
            options.append(cfg.with_params(cand))
        except ConfigError:
            continue  # e.g. a split accumulate with saturation
    fmax = [estimate_fmax(c, "ecp5").fmax_mhz for c in options]
    k = options.index(chosen)
    need = clock * (1 + TIMING_MARGIN)
    if fmax[k] >= need:
        assert all(f < need for f in fmax[:k]), "a cheaper setting already met the clock"
    else:
        assert fmax[k] == max(fmax) and "no setting reaches" in note


def test_explicit_stage_counts_win_and_families_without_an_estimate_keep_defaults():
    pe = MacPEConfig(act=Int(8), weight=Int(8), acc=Int(32), pipeline=0, max_len=4096)
    explicit = SystolicArrayConfig(pe=replace(pe, dsp_cells="inferred"))
    assert for_clock(explicit, 200, "ecp5") == (explicit, "")
    partly = SystolicArrayConfig(pe=pe)  # the cells are still hwgen's choice, the stage count is not
    assert for_clock(partly, 200, "ecp5")[0].pe.pipeline == 0
    auto = SystolicArrayConfig()
    assert for_clock(auto, 200, "xc7") == (auto, "")  # no nextpnr for xc7: no estimate, nothing chosen


@pytest.mark.skipif("ecp5" not in coefficients(), reason="no ECP5 Fmax coefficients")
def test_a_design_applies_the_choice_to_its_hardware_manifest_and_cycle_model():
    cfg = SystolicArrayConfig()
    first, second = cfg.timing_candidates("ecp5")[:2]
    f0, f1 = (estimate_fmax(cfg.with_params(c), "ecp5").fmax_mhz for c in (first, second))
    assert f1 > f0, "the second setting must shorten the slowest path"
    slow = Design(name="a", top=cfg, board="ulx3s_85f", clock_mhz=round(0.95 * f0 / (1 + TIMING_MARGIN), 1))
    fast = Design(name="a", top=cfg, board="ulx3s_85f", clock_mhz=round(0.99 * f1 / (1 + TIMING_MARGIN), 1))
    assert slow.top == cfg.with_params(first) and fast.top == cfg.with_params(second)
    assert fast.top.timing().latency > slow.top.timing().latency
    m = fast.manifest(with_verilog=False)
    assert m["params"]["pe"]["pipeline"] == second["pe.pipeline"]
    assert m["auto_params"] == ["pe.dsp_cells", "pe.pipeline"]
    assert (
        m["fmax_estimate"]["fmax_mhz"] >= fast.clock and f"pe.pipeline = {second['pe.pipeline']}" in m["timing_choice"]
    )
    # the chosen cells are in the RTL: the weight in the cell's B register at pipeline 0, A and P registered after
    assert '.REG_INPUTA_CLK("NONE")' in slow.verilog and '.REG_INPUTB_CLK("CLK0")' in slow.verilog
    assert '.REG_INPUTA_CLK("CLK0")' in fast.verilog and '.REG_OUTPUT_CLK("CLK0")' in fast.verilog


#: Blocks whose Fmax is estimated but which have no pipelining options yet: the transformer units of issue 16
#: (softmax, norm, top-k: phases of one-bit-per-cycle arithmetic and one insertion array; the table activation
#: is a memory read between two registers, nothing to cut; decode attention: its value update and output
#: multiplies are single-cycle, pipelining them is left to a later round).
NO_TIMING_OPTIONS = {"softmax", "norm", "topk", "activation", "decode_attention"}


def test_every_block_with_a_path_model_has_candidates_that_apply():
    for block, cls in BLOCKS.items():
        cfg = cls()
        if not cfg.timing_paths("ecp5"):
            continue
        if block in NO_TIMING_OPTIONS:
            assert not cfg.auto_params and not cfg.timing_candidates("ecp5"), f"{block} has options now"
            continue
        assert cfg.timing_candidates("ecp5"), block
        for cand in cfg.timing_candidates("ecp5"):
            assert set(cand) <= cfg.auto_params | {k for k in cand if k in cfg.auto_params}, block


def test_ice40_estimates_lut_only_designs_and_not_dsp_multiplies():
    """The iCE40 fit covers designs nextpnr-ice40 can time (no SB_MAC16): a 4-bit MAC PE's LUT multipliers
    and the bit-serial PE get an estimate, an INT8 MAC PE (SB_MAC16 multipliers) none, so its default stays."""
    small = MacPEConfig(lanes=8, act=Int(4), weight=Int(4), acc=Int(16), overflow="wrap")
    assert estimate_fmax(small, "ice40") is not None and estimate_fmax(BitSerialPEConfig(), "ice40") is not None
    assert estimate_fmax(MacPEConfig(lanes=8), "ice40") is None
    assert for_clock(MacPEConfig(lanes=8), 50, "ice40") == (MacPEConfig(lanes=8), "")


@pytest.mark.parametrize("clock", [25, 35, 45])
def test_an_ice40_design_gets_the_cheapest_pipeline_that_meets_its_clock(clock):
    d = Design(name="b", top=BitSerialPEConfig(), board="icebreaker", clock_mhz=clock)
    need = clock * (1 + TIMING_MARGIN)
    ests = [estimate_fmax(BitSerialPEConfig(pipeline=p), "ice40").fmax_mhz for p in (0, 1, 2)]
    meets = [p for p, e in enumerate(ests) if e >= need]
    assert d.top.pipeline == (meets[0] if meets else max(range(3), key=ests.__getitem__))
    assert "ice40" in d.timing_choice


def test_a_product_wider_than_one_dsp_block_adds_the_partial_product_adder():
    """ECP5's MULT18X18D takes 18×18: a 20×8 product is two blocks whose partial products one 28-bit carry
    chain sums (nextpnr's critical path of MixPE at pipeline 3 runs through it); 24×32 is four, two levels."""
    assert multiplier_path(16, 8, "ecp5") == {"mult": 1}
    assert multiplier_path(20, 8, "ecp5") == {"mult": 1, "adders": 1, "carry_bits": 28}
    assert multiplier_path(24, 32, "ecp5") == {"mult": 1, "adders": 2, "carry_bits": 56}


def test_mixpe_at_100_mhz_registers_the_scaled_product():
    """Placed on ECP5 (nextpnr, seed 1): MixPE 8 lanes reaches 83.5 MHz at pipeline 3 and 112.8 MHz at
    pipeline 4, so a 100 MHz design must get pipeline 4 (it got 3 before the partial-product adder was
    modelled)."""
    chosen, _ = for_clock(MixPEConfig(lanes=8), 100, "ecp5")
    assert chosen.pipeline == 4
