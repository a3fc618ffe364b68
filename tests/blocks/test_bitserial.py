"""BitMoD bit-serial PE (hwgen/blocks/bitserial): golden model, cycle model, configuration and stream errors."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen import ConfigError
from hwgen.blocks import BitSerialPEConfig
from hwgen.lowbit import DATATYPES
from hwgen.vectors import StreamVectors


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


def cycle_model(cfg: BitSerialPEConfig, group_last: list[int], last: list[int]) -> tuple[list[int], list[int]]:
    """The cycle model of beats that all use format 0."""
    n = len(last)
    fields = {"fmt": np.zeros((n, cfg.rows), dtype=int), "group_last": group_last, "last": last}
    got = cfg.cycle_model(StreamVectors(inputs={"i": fields}, expected={}))
    return got["i"], got["o"]


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
        accepts, outs = cycle_model(cfg, [0, 0, 1], [0, 0, 1])
        assert accepts == [0, cycles, 2 * cycles]
        assert outs == [3 * cycles + 1 + 1]  # last term, then D = 1 dequant cycle, then the output register


def test_serial_dequant_makes_short_groups_wait():
    cfg = BitSerialPEConfig(formats=("FP4",), dequant="serial")  # 2 cycles per beat, 8-cycle dequantizer
    accepts, outs = cycle_model(cfg, [1, 1, 1], [0, 0, 1])
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
