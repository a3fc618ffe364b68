"""BitMoD bit-serial PE, MixPE, OliVe MAC and ternary PE: golden models, cycle model, config errors,
Amaranth simulation (every datatype, corner codes, back-pressure), lint."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen import ConfigError, Design, Int, UInt
from hwgen.blocks import BitSerialPEConfig, MixPEConfig, OliveMACConfig, TernaryPEConfig
from hwgen.lowbit import BITMOD_FP3, BITMOD_FP4, DATATYPES, olive_decode, olive_encode
from hwgen.sim.verify import verify_amaranth
from hwgen.verilog import lint


def test_bitserial_model_equals_grid_dot_products():
    cfg = BitSerialPEConfig(rows=2, lanes=4, formats=("FP4-ER-POS", "INT8", "FP3-EA-NEG", "TERNARY"))
    rng = np.random.default_rng(0)
    nb = 6
    fmt = rng.integers(0, 4, (nb, 2))
    code = np.array([[rng.integers(0, 1 << cfg.dts[f].bits, 4) for f in row] for row in fmt])
    a = rng.integers(-128, 128, (nb, 4))
    scale = rng.integers(0, 256, (nb, 2))
    gl = np.array([0, 1, 0, 0, 1, 1])
    last = np.array([0, 1, 0, 0, 0, 1])
    y = cfg.model(a, code, fmt, scale, gl, last)
    want, total, grp = [], np.zeros(2, dtype=object), np.zeros(2, dtype=object)
    for b in range(nb):
        for r in range(2):
            grp[r] += int((a[b] * DATATYPES[cfg.formats[fmt[b, r]]].decode(code[b, r])).sum())
        if gl[b]:
            total += grp * scale[b]
            grp[:] = 0
        if last[b]:
            want.append(list(total))
            total[:] = 0
    assert y.tolist() == want


def test_cycle_counts_per_datatype():
    for fmts, cycles in (
        (("INT8",), 4),
        (("INT6",), 3),
        (("INT4",), 2),
        (("FP4-ER-POS",), 2),
        (("FP3",), 2),
        (("TERNARY",), 1),
    ):
        cfg = BitSerialPEConfig(formats=fmts, dequant="multiplier")
        accepts, outs = cfg.schedule(np.zeros((3, 1), dtype=int), [0, 0, 1], [0, 0, 1])
        assert accepts == [0, cycles, 2 * cycles]
        assert outs == [3 * cycles + 1 + 1]  # last term, then D = 1 dequant cycle, then the output register


def test_serial_dequant_makes_short_groups_wait():
    cfg = BitSerialPEConfig(formats=("FP4",), dequant="serial")  # 2 cycles per beat, 8-cycle dequantizer
    accepts, outs = cfg.schedule(np.zeros((3, 1), dtype=int), [1, 1, 1], [0, 0, 1])
    # group ends at 2, then must wait for the dequantizer until 2+8 and 10+8
    assert accepts == [0, 2, 10] and outs == [18 + 8 + 1]


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        ({"formats": ("FP4", "FP5")}, r"bitserial_pe\.formats: unknown datatype 'FP5'"),
        ({"formats": ("FP4",) * 5}, r"5 formats; a group's format id is 2 bits"),
        ({"lanes": 17}, r"bitserial_pe\.lanes: 17 is out of range; allowed 1\.\.16"),
        ({"dequant": "dsp"}, r"bitserial_pe\.dequant: 'dsp' is not one of 'serial', 'multiplier'"),
    ],
)
def test_bitserial_bad_configs(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        BitSerialPEConfig(**kwargs)


def test_bad_stream_values_are_named():
    cfg = BitSerialPEConfig(formats=("FP3", "FP4"))
    with pytest.raises(ConfigError, match=r"code: beat 0, row 0: code 9 is not a 3-bit FP3 code"):
        cfg.model([[0] * 4], [[[9, 0, 0, 0]]], [[0]], [[1]], [1], [1])
    with pytest.raises(ConfigError, match=r"scale: group scales are 8-bit"):
        cfg.model([[0] * 4], [[[0] * 4]], [[0]], [[256]], [1], [1])
    with pytest.raises(ConfigError, match=r"zero: symmetric \(signed\) weights have zero point 0"):
        MixPEConfig(lanes=1).model([[1]], [[1]], [1], [3], [1], [1])


def test_mixpe_model():
    cfg = MixPEConfig(lanes=2, asymmetric=True, weight_bits=4)
    a = np.array([[10, -20], [3, 4]])
    q = np.array([[15, 0], [7, 8]])
    y = cfg.model(a, q, [5, 5], [8, 8], [0, 1], [0, 1])
    assert y.tolist() == [5 * ((10 * 15 + 3 * 7 + 4 * 8) - 8 * (10 - 20 + 3 + 4))]


def test_olive_model_uses_the_pair_decoder():
    cfg = OliveMACConfig(pairs=2)
    q = np.array([[50, 3, -7, 2]])
    pairs = olive_encode(q).reshape(1, 2)
    a = np.array([[2, 100, 3, 4]])
    assert cfg.model(a, pairs, [1]).tolist() == [int((a * olive_decode(pairs)).sum())]


def test_ternary_model():
    assert TernaryPEConfig(lanes=3).model([[5, 6, 7]], [[1, 3, 0]], [1]).tolist() == [5 - 6]


UNITS = {
    "bitmod-fp4": BitSerialPEConfig(rows=2, lanes=4, formats=BITMOD_FP4),
    "bitmod-fp3-mult": BitSerialPEConfig(lanes=3, formats=BITMOD_FP3, dequant="multiplier"),
    "bitmod-int-mixed": BitSerialPEConfig(rows=3, lanes=2, formats=("INT8", "INT4", "FLINT4", "INT2"), act=UInt(8)),
    "mixpe-s4-a8": MixPEConfig(lanes=8),
    "mixpe-u3-a16": MixPEConfig(lanes=4, asymmetric=True, weight_bits=3, act=Int(16)),
    "mixpe-s2": MixPEConfig(lanes=5, weight_bits=2),
    "olive-4pairs": OliveMACConfig(pairs=4),
    "olive-a16": OliveMACConfig(pairs=1, act=Int(16), acc=Int(40)),
    "ternary-8": TernaryPEConfig(),
    "ternary-u8": TernaryPEConfig(lanes=3, act=UInt(8), acc=Int(22)),
}


@pytest.mark.parametrize("name", UNITS)
def test_amaranth_sim(name):
    verdict = verify_amaranth(UNITS[name], vectors=150, seed=4)
    assert verdict.passed, str(verdict)


@pytest.mark.parametrize("name", ["bitmod-fp4", "bitmod-int-mixed", "mixpe-u3-a16", "olive-4pairs", "ternary-8"])
def test_lint(name):
    assert lint(Design(name="u", top=UNITS[name]).verilog, "u") == []
