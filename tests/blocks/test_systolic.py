"""Systolic array (hwgen/blocks/systolic): golden fold, GEMM tiler, cycle model, configuration errors, edge cases."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from hwgen import ConfigError, Fixed, Int, UFixed, UInt
from hwgen.blocks import MacPEConfig, SystolicArrayConfig
from hwgen.blocks.systolic import Gemm, assemble, gemm_cycles, gemm_vectors, mac_fold
from hwgen.blocks.systolic import config as sa_config
from hwgen.sim.verify import verify_amaranth

INT8 = MacPEConfig(act=Int(8), weight=Int(8), acc=Int(32), pipeline=0, max_len=4096)
U8S8_SAT = MacPEConfig(act=UInt(8), weight=Int(8), acc=Int(12), overflow="saturate", pipeline=0)
S4_WRAP = MacPEConfig(act=Int(4), weight=Int(4), acc=Int(6), overflow="wrap", pipeline=0)
FIXED = MacPEConfig(act=UFixed(8, 8), weight=Fixed(8, 6), acc=Fixed(24, 14), overflow="saturate", pipeline=0)


def reference_gemm(pe: MacPEConfig, a, b) -> np.ndarray:
    """Element by element, in k order, with Python integers."""
    M, K = a.shape
    out = np.zeros((M, b.shape[1]), dtype=object)
    for i in range(M):
        for j in range(b.shape[1]):
            acc = 0
            for k in range(K):
                acc += int(a[i, k]) * int(b[k, j])
                if pe.overflow == "saturate":
                    acc = max(pe.acc.min, min(pe.acc.max, acc))
                elif pe.overflow == "wrap":
                    acc = (acc - pe.acc.min) % (1 << pe.acc.width) + pe.acc.min
            out[i, j] = acc
    return out


@pytest.mark.parametrize("pe", [INT8, U8S8_SAT, S4_WRAP, FIXED], ids=["int8", "u8s8-sat", "s4-wrap", "fixed"])
def test_fold_equals_reference(pe):
    rng = np.random.default_rng(1)
    a = rng.integers(pe.act.min, pe.act.max + 1, (5, 23))
    b = rng.integers(pe.weight.min, pe.weight.max + 1, (23, 7))
    got = mac_fold(pe, np.zeros((5, 7), dtype=np.int64), a, b)
    assert np.array_equal(got.astype(object), reference_gemm(pe, a, b))


def test_saturation_is_per_step_in_k_order():
    pe = MacPEConfig(act=Int(8), weight=Int(8), acc=Int(8), overflow="saturate", pipeline=0)
    # 100 + 100 -> 127 (clamped), then - 50 -> 77; a single final clamp would give 127
    got = mac_fold(pe, np.zeros((1, 1), dtype=np.int64), np.array([[10, 10, -10]]), np.array([[10], [10], [5]]))
    assert got.tolist() == [[77]]


@pytest.mark.parametrize("dataflow", ["weight_stationary", "output_stationary"])
@pytest.mark.parametrize("pe", [INT8, U8S8_SAT], ids=["int8", "u8s8-sat"])
def test_tiler_reassembles_the_golden_gemm(dataflow, pe):
    cfg = SystolicArrayConfig(rows=3, cols=4, dataflow=dataflow, pe=pe)
    rng = np.random.default_rng(2)
    gemms = [
        Gemm(rng.integers(pe.act.min, pe.act.max + 1, (M, K)), rng.integers(pe.weight.min, pe.weight.max + 1, (K, N)))
        for M, K, N in [(1, 1, 1), (5, 7, 9), (3, 3, 4), (7, 10, 2)]
    ]
    vec = gemm_vectors(cfg, gemms)
    for g, c in zip(gemms, assemble(cfg, vec.extra["plan"], vec.expected["o"])):
        assert np.array_equal(c.astype(object), reference_gemm(pe, g.a, g.b))


def test_cycle_model_of_a_tiled_gemm():
    cfg = SystolicArrayConfig(rows=8, cols=8)
    g = gemm_cycles(cfg, 20, 13, 9)
    tiles = math.ceil(13 / 8) * math.ceil(9 / 8)
    # per tile: R weight rows + M activation rows, NJ drain between tiles; results NI + NJ after the last row
    assert g["cycles"] == tiles * (8 + 20) + (tiles - 1) * (cfg.ws_drain - 1) + cfg.ws_latency
    assert g["pe_utilization"] == pytest.approx(13 * 9 / (16 * 16))
    os_cfg = SystolicArrayConfig(rows=4, cols=4, dataflow="output_stationary")
    g = gemm_cycles(os_cfg, 6, 3, 5)
    assert g["pe_utilization"] == pytest.approx(6 * 5 / (8 * 8))
    # K = 3 < R = 4: each tile's `last` waits R cycles after the previous one
    assert g["cycles"] == 3 + (4 - 1) * 4 + os_cfg.os_latency(3) - 0


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        ({"rows": 0}, r"systolic_array\.rows: 0 is out of range; allowed 1\.\.64"),
        ({"cols": 65}, r"systolic_array\.cols: 65 is out of range; allowed 1\.\.64"),
        (
            {"dataflow": "row_stationary"},
            r"systolic_array\.dataflow: 'row_stationary' is not one of "
            r"'weight_stationary', 'output_stationary'",
        ),
        ({"dataflow": "output_stationary", "tile": 2}, r"systolic_array\.tile: 2: output_stationary .* needs tile=1"),
        ({"pe": MacPEConfig(lanes=4)}, r"systolic_array\.pe\.lanes: 4"),
        ({"pe": "int8"}, r"systolic_array\.pe: expected a MacPEConfig"),
        ({"pe": MacPEConfig(pipeline=5)}, r"systolic_array\.pe\.pipeline: 5 is out of range; allowed 0\.\.4"),
        ({"tile": 2, "span": 3}, r"systolic_array\.span: 3 is not a multiple of tile=2"),
        ({"dataflow": "output_stationary", "span": 4}, r"systolic_array\.span: 4: output_stationary .* span=1"),
        (
            {"dataflow": "output_stationary", "pe": MacPEConfig(pipeline=1, dsp_cells="mult18x18d")},
            r"systolic_array\.pe\.dsp_cells: mult18x18d: an output-stationary PE's operands move",
        ),
        (
            {"pack_int8": True, "dataflow": "output_stationary"},
            r"systolic_array\.dataflow: with pack_int8: packing shares",
        ),
        (
            {"pack_int8": True, "pe": U8S8_SAT},
            r"systolic_array\.pe\.act: with pack_int8: packing needs Int\(8\) x Int\(8\), not UInt\(8\)",
        ),
        (
            {"pack_int8": True, "rows": 9},
            r"systolic_array\.rows: with pack_int8: 9: a packed column sum is exact for at most 8 rows",
        ),
        ({"pack_int8": True, "cols": 5}, r"systolic_array\.cols: with pack_int8: 5: columns pack in pairs"),
        ({"pack_int8": True, "tile": 2}, r"systolic_array\.tile: with pack_int8: 2: packed arrays use tile=1"),
        ({"pack_int8": True, "span": 3}, r"systolic_array\.span: with pack_int8: 3: a span holds whole column pairs"),
        ({"pack_int8": True, "pe": MacPEConfig(pipeline=2)}, r"systolic_array\.pe\.pipeline: with pack_int8: 2 splits"),
        (
            {"pack_int8": True, "pe": MacPEConfig(overflow="saturate")},
            r"systolic_array\.pe\.overflow: with pack_int8: saturate",
        ),
        (
            {"pack_int8": True, "pe": MacPEConfig(dsp_cells="mult18x18d")},
            r"systolic_array\.pe\.dsp_cells: with pack_int8: mult18x18d",
        ),
    ],
)
def test_bad_configs(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        SystolicArrayConfig(**kwargs)


def test_narrow_accumulator_for_k_is_rejected_in_the_pe():
    with pytest.raises(ConfigError, match=re.escape("mac_pe.acc: Int(16) cannot hold the sum of 4096 products")):
        SystolicArrayConfig(pe=MacPEConfig(acc=Int(16), max_len=4096))


@pytest.mark.parametrize(
    "a_shape,b_shape,pattern",
    [
        ((4, 5), (6, 3), r"A is 4×5 but B is 6×3: A's columns must equal B's rows"),
        ((4, 5000), (5000, 3), r"K=5000 exceeds pe\.max_len=4096"),
        ((0, 5), (5, 3), r"empty matrix"),
    ],
)
def test_bad_gemm_shapes(a_shape, b_shape, pattern):
    cfg = SystolicArrayConfig(rows=4, cols=4)
    with pytest.raises(ConfigError, match=pattern):
        gemm_vectors(cfg, [Gemm(np.zeros(a_shape, dtype=np.int64), np.zeros(b_shape, dtype=np.int64))])


def test_k_beyond_r_needs_psum_input():
    cfg = SystolicArrayConfig(rows=4, cols=4, psum_input=False)
    with pytest.raises(ConfigError, match="needs psum_input=True"):
        gemm_vectors(cfg, [Gemm(np.zeros((2, 5), dtype=np.int64), np.zeros((5, 2), dtype=np.int64))])


def test_toml_style_nested_params():
    cfg = SystolicArrayConfig.from_params(
        {"rows": 4, "pe": {"act": "UInt(8)", "acc": "Int(24)", "overflow": "saturate"}}, where="d.toml:params"
    )
    assert cfg.pe.act == UInt(8) and cfg.rows == 4
    with pytest.raises(ConfigError, match=r"d\.toml:params\.pe\.lanes: 3 is out of range|d\.toml:params\.pe\.acc"):
        SystolicArrayConfig.from_params({"pe": {"lanes": 3, "acc": "Int(8)"}}, where="d.toml:params")


#: edge configurations beyond the block's table (tests/test_levels.py runs the table at every level)
EDGE_CASES = {
    "ws-4x4-s4-wrap": dict(rows=4, cols=4, pe=S4_WRAP),
    "ws-1x1": dict(rows=1, cols=1, pe=INT8),
    "os-2x2-int8": dict(rows=2, cols=2, dataflow="output_stationary", pe=INT8),
    "os-1x1": dict(rows=1, cols=1, dataflow="output_stationary", pe=INT8),
}


@pytest.mark.parametrize("name", EDGE_CASES)
def test_amaranth_sim_matches_numpy_and_cycle_model(name):
    cfg = SystolicArrayConfig(**EDGE_CASES[name])
    verdict = verify_amaranth(cfg, vectors=60, seed=3)
    assert verdict.passed, str(verdict)
    assert any("GEMMs reassembled" in l and "equal NumPy" in l for l in verdict.lines)


def test_cycle_model_error_is_caught(monkeypatch):
    """A cycle model one drain cycle too long between tiles fails the run, naming the transfer."""
    cfg = SystolicArrayConfig(rows=3, cols=4, pe=INT8)
    real = SystolicArrayConfig.tile_cycles

    def one_too_many(self, tiles):
        accepts, outs = real(self, tiles)
        first = tiles[0]
        return accepts, outs[:first] + [c + 1 for c in outs[first:]]

    monkeypatch.setattr(SystolicArrayConfig, "tile_cycles", one_too_many)
    verdict = verify_amaranth(cfg, stim=cfg.stimulus(np.random.default_rng(1), 30, corners=False))
    assert not verdict.passed and any("the cycle model says" in p for p in verdict.problems)


def test_the_drain_is_as_short_as_it_can_be(monkeypatch):
    """One drain cycle fewer lets the next weight tile overwrite weights still in use."""
    monkeypatch.setattr(sa_config.SystolicArrayConfig, "ws_drain", property(lambda self: self.span_count - 1))
    cfg = SystolicArrayConfig(rows=3, cols=4, span=1, pe=INT8)
    verdict = verify_amaranth(cfg, stim=cfg.stimulus(np.random.default_rng(1), 30, corners=False))
    assert not verdict.passed and any("mismatch" in p for p in verdict.problems)


@pytest.mark.parametrize(
    "kw",
    [
        dict(rows=4, cols=4),
        dict(rows=5, cols=3, tile=2),
        dict(rows=3, cols=5, psum_input=False),
        dict(rows=4, cols=4, dataflow="output_stationary"),
        dict(rows=1, cols=1),
        dict(rows=3, cols=2, pe=U8S8_SAT, dataflow="output_stationary"),
        dict(rows=8, cols=8, pack_int8=True),
    ],
    ids=["ws4", "ws5x3t2", "ws-nopsum", "os4", "ws1", "os-sat", "ws8-pack"],
)
def test_verilog_is_lint_clean(kw):
    from hwgen import Design
    from hwgen.verilog import lint

    d = Design(name="sa", top=SystolicArrayConfig(**kw))
    assert lint(d.verilog, "sa") == []


def test_repeated_mesh_rows_are_emitted_once():
    """Identical mesh rows (here every column sum wraps at the accumulator's 6 bits) are one module, stacked
    in halves: 6 = 3 + 3 = (1 + 2) + ..., six instances."""
    from hwgen import Design

    text = Design(name="sa", top=SystolicArrayConfig(rows=6, cols=4, pe=S4_WRAP)).verilog
    row_modules = re.findall(r"^module (sa__ws_row_\w+)\(", text, flags=re.M)
    assert len(row_modules) == 1
    bodies = dict(re.findall(r"^module \\?(\S+?) ?\((.*?)^endmodule", text, flags=re.M | re.S))

    def count(module: str) -> int:
        if module == row_modules[0]:
            return 1
        return sum(count(child) for child in re.findall(r"^\s+(sa__\w+) \w+ \(", bodies[module], flags=re.M))

    assert count("sa.mesh") == 6


def test_int8_packing_halves_the_multipliers_where_the_operand_fits():
    """A packed pair's 8×27 product is one DSP48E2 (xcup), two DSP48E1 (xc7: 25-bit port) or two MULT18X18D."""
    plain = SystolicArrayConfig(rows=8, cols=8)
    packed = SystolicArrayConfig(rows=8, cols=8, pack_int8=True)
    want = {"xcup": 32, "xc7": 64, "ecp5": 64}
    assert {f: packed.features(f)["PEs"]["dsp"] for f in want} == want
    assert {f: plain.features(f)["PEs"]["dsp"] for f in want} == {f: 64 for f in want}
    assert packed.timing().latency == plain.timing().latency
