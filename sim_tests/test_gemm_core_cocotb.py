"""cocotb on the generated GEMM compute core (InTAR schedules): exact values and per-transfer cycles."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SIMULATORS, require_pass

from hwgen import Design
from hwgen.blocks import GemmCoreConfig
from hwgen.sim.verify import verify_cocotb

RNG = np.random.default_rng(21)


def _w(k, n):
    return tuple(tuple(int(v) for v in r) for r in RNG.integers(-128, 128, (k, n)))


CORES = {
    "k24_n20_l8_requant_relu": GemmCoreConfig(weights=_w(24, 20), lanes=8, requant=True,
                                              multiplier=(1 << 30) + 99, shift=36, zero_point=1, relu=True),
    "k3_n9_l4_stalls": GemmCoreConfig(weights=_w(3, 9), lanes=4),
}


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("name", CORES)
def test_core_matches_golden_model(name, sim):
    require_pass(verify_cocotb(Design(name=f"gc_{name}", top=CORES[name]), sim=sim, vectors=200, seed=4))
