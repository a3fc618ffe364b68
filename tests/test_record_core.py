"""Record-driven GEMM core: programs of records over several slices, exact cycles, the switch cost."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen import ConfigError, Design, UInt
from hwgen.blocks import GemmCoreConfig, RecordCoreConfig
from hwgen.blocks.record_core import SWITCH_CYCLES
from hwgen.sim.amaranth_sim import run_amaranth
from hwgen.sim.check import FULL_RATE
from hwgen.sim.verify import make_vectors, verify_amaranth
from hwgen.verilog import lint

RNG = np.random.default_rng(8)


def _w(k, n):
    return tuple(tuple(int(v) for v in r) for r in RNG.integers(-128, 128, (k, n)))


SLICES = (
    GemmCoreConfig(
        weights=_w(8, 10), lanes=4, requant=True, multiplier=(1 << 30) + 5, shift=33, zero_point=-2, relu=True
    ),
    GemmCoreConfig(weights=_w(3, 6), lanes=4),  # k < lanes: passes wait for the drain
    GemmCoreConfig(weights=_w(5, 4), lanes=4, requant=True, multiplier=7, shift=0, out=UInt(8)),
)
PROGRAMS = {
    "one-record": ((0,), (3,)),
    "three-slices": ((0, 1, 2), (2, 3, 1)),
    "repeat-slice": ((1, 1, 0), (1, 2, 2)),
    "relu-then-raw": ((0, 1), (1, 1)),
}


@pytest.mark.parametrize("name", PROGRAMS)
def test_amaranth_sim_exact_values_and_cycles(name):
    prog, rows = PROGRAMS[name]
    verdict = verify_amaranth(RecordCoreConfig(slices=SLICES, program=prog, rows=rows), vectors=3, seed=2)
    assert verdict.passed, str(verdict)


def test_model_is_each_slice_on_its_rows():
    cfg = RecordCoreConfig(slices=SLICES, program=(2, 0), rows=(2, 1))
    x = RNG.integers(-128, 128, 2 * 5 + 8)
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


def test_verilog_lints_clean():
    cfg = RecordCoreConfig(slices=SLICES, program=(0, 1, 2), rows=(2, 3, 1))
    assert lint(Design(name="rc", top=cfg).verilog, "rc") == []


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"program": (3,), "rows": (1,)}, r"record_core\.program: record 0 names slice 3; there are 3"),
        ({"program": (0, 1), "rows": (1,)}, r"record_core\.rows: 1 entries for 2 records"),
        ({"program": (0,), "rows": (0,)}, r"record_core\.rows\[0\]: 0 is out of range"),
    ],
)
def test_bad_configs(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        RecordCoreConfig(slices=SLICES, **kwargs)


def test_slices_must_share_the_datapath():
    other = GemmCoreConfig(weights=_w(2, 2), lanes=8)
    with pytest.raises(ConfigError, match=r"record_core\.slices: slice 1 has lanes = 8, slice 0 has 4"):
        RecordCoreConfig(slices=(SLICES[0], other), program=(0,), rows=(1,))


def test_params_round_trip_through_plain_values():
    """Nested configs and weight tables survive params() -> from_params() (TOML/JSON manifests)."""
    cfg = RecordCoreConfig(slices=SLICES, program=(0, 2), rows=(1, 3))
    assert RecordCoreConfig.from_params(cfg.params()) == cfg
