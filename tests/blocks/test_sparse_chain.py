"""N:M sparse DSP chain (hwgen/blocks/sparse_chain): golden model against dense NumPy, configuration errors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hwgen import ConfigError, Design, Int, UInt
from hwgen.blocks import SparseChainConfig
from hwgen.sparse import NMPattern, compress, prune


def beats_for(cfg: SparseChainConfig, mode: int, W: np.ndarray, x: np.ndarray):
    """Stream the compressed W (rows = groups) against x, chunk by chunk (independent of the stimulus code)."""
    p = cfg.nm[mode]
    g = cfg.group_len(p)
    c = compress(W, p)
    nb = x.size // cfg.stages
    w = [np.concatenate([c.values[q, b * g : (b + 1) * g] for q in range(W.shape[0])]) for b in range(nb)]
    idx = [np.concatenate([c.indices[q, b * g : (b + 1) * g] for q in range(W.shape[0])]) for b in range(nb)]
    xs = x.reshape(nb, cfg.stages)
    return xs, np.array(w), np.array(idx), np.full(nb, mode), (np.arange(nb) == nb - 1).astype(int)


@pytest.mark.parametrize("pattern", ["dense", "1:2", "2:4", "1:4", "2:8", "4:8"])
def test_model_is_the_dense_matrix_vector_product(pattern):
    cfg = SparseChainConfig(stages=16, overflow="wrap", acc=Int(40))
    mode = list(cfg.patterns).index(pattern)
    rng = np.random.default_rng(3)
    p = NMPattern.parse(pattern)
    rows = cfg.stages // cfg.group_len(p)
    W = prune(rng.integers(-128, 128, (rows, 16 * 5)), p)
    x = rng.integers(-128, 128, 16 * 5)
    y, _ = cfg.model(*beats_for(cfg, mode, W, x))
    assert y.shape == (1, cfg.taps)
    assert np.array_equal(y[0, :rows], W @ x) and not y[0, rows:].any()


def test_packed_batch_of_two_equals_two_products():
    cfg = SparseChainConfig(stages=8, pack_int8=True, overflow="wrap", acc=Int(32))
    rng = np.random.default_rng(4)
    W = prune(rng.integers(-128, 128, (2, 24)), "2:4")
    x0, x1 = rng.integers(-128, 128, 24), rng.integers(-128, 128, 24)
    xs, w, idx, mode, last = beats_for(cfg, cfg.patterns.index("2:4"), W, x0)
    y, y1 = cfg.model(xs, w, idx, mode, last, x1=x1.reshape(-1, 8))
    assert np.array_equal(y[0, :2], W @ x0) and np.array_equal(y1[0, :2], W @ x1)


def test_speedup_is_m_over_n():
    cfg = SparseChainConfig(stages=16)
    for p in cfg.nm:
        assert cfg.stages // cfg.group_len(p) == p.speedup  # rows advanced per beat


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        (
            {"stages": 12},
            r"sparse_chain\.stages: chain length 12 is not a multiple of the block size M=8 of pattern 2:8",
        ),
        ({"stages": 6, "patterns": ("dense", "1:4")}, r"chain length 6 is not a multiple of the block size M=4"),
        ({"patterns": ("dense", "3:5")}, r"sparse_chain\.patterns: 3:5 is not an N:M pattern"),
        ({"patterns": ("dense", "2:4", "2:4")}, r"lists a pattern twice"),
        ({"patterns": ("dense", "sparse")}, r"'sparse' is not a pattern"),
        ({"stages": 1}, r"sparse_chain\.stages: 1 is out of range; allowed 2\.\.64"),
        ({"pack_int8": True, "act": UInt(8)}, r"packing needs Int\(8\) activations and weights"),
        ({"acc": Int(20)}, r"sparse_chain\.acc: Int\(20\) cannot hold 1024 beats of 16 products"),
        ({"patterns": ()}, r"sparse_chain\.patterns: expected a non-empty list"),
        ({"pipeline": 3}, r"sparse_chain\.pipeline: 3 is out of range; allowed 0\.\.2"),
        ({"dsp_cells": "dsp48"}, r"sparse_chain\.dsp_cells: "),
        (
            {"pack_int8": True, "overflow": "wrap", "dsp_cells": "mult18x18d"},
            r"sparse_chain\.dsp_cells: mult18x18d multiplies operands of up to 18 bits; a packed INT8 pair is 26",
        ),
    ],
)
def test_bad_configs(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        SparseChainConfig(**kwargs)


def test_bad_stream_data():
    cfg = SparseChainConfig(stages=8)
    x = np.zeros((1, 8), dtype=np.int64)
    with pytest.raises(ConfigError, match=r"idx: beat 0, stage 3: index 5 does not fit pattern 2:4 \(2-bit indices"):
        idx = np.zeros((1, 8), dtype=np.int64)
        idx[0, 3] = 5
        cfg.model(x, x, idx, [cfg.patterns.index("2:4")], [1])
    with pytest.raises(ConfigError, match=r"beat 1 switches to 2:4 inside an accumulation of dense"):
        cfg.model(np.zeros((2, 8)), np.zeros((2, 8)), np.zeros((2, 8)), [0, 2], [0, 1])
    with pytest.raises(ConfigError, match=r"mode: 9 selects no pattern"):
        cfg.model(x, x, x, [9], [1])


def test_toml_params_take_pattern_lists():
    cfg = SparseChainConfig.from_params({"stages": 8, "patterns": ["dense", "2:4"]}, where="d.toml:params")
    assert cfg.patterns == ("dense", "2:4") and cfg.params()["patterns"] == ["dense", "2:4"]


def test_pipeline_stages_add_latency_and_put_the_registers_in_the_cells():
    """Each pipeline stage is one more cycle from ``last`` to the results; with MULT18X18D cells the operand
    and product registers are the cell's own."""
    base = SparseChainConfig(stages=8, dsp_cells="inferred")
    assert [base.with_params({"pipeline": p}).timing().latency for p in (0, 1, 2)] == [11, 12, 13]
    v = Design(name="c", top=replace(base, pipeline=2, dsp_cells="mult18x18d"), board="ulx3s_85f").verilog
    assert v.count("MULT18X18D") >= 8 and '.REG_INPUTA_CLK("CLK0")' in v and '.REG_OUTPUT_CLK("CLK0")' in v
    with pytest.raises(ConfigError, match=r"MULT18X18D"):
        Design(name="c", top=replace(base, pipeline=1, dsp_cells="mult18x18d"), board="arty_a7_100t")
