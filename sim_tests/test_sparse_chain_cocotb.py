"""cocotb on the generated sparse-chain Verilog: every pattern and dense mode, run-time mode switches,
extreme values, back-pressure; exact equality and exact latency."""

from __future__ import annotations

import pytest
from conftest import SIMULATORS, require_pass

from hwgen import Design, Int
from hwgen.blocks import SparseChainConfig
from hwgen.sim.verify import verify_cocotb

CHAINS = {
    "s16_int8": SparseChainConfig(stages=16),
    "s16_int4w_sat": SparseChainConfig(stages=16, weight=Int(4), acc=Int(16), overflow="saturate"),
    "s8_pack": SparseChainConfig(stages=8, pack_int8=True, overflow="wrap", acc=Int(28)),
}


@pytest.mark.parametrize("name", CHAINS)
def test_chain_matches_golden_model(name):
    require_pass(verify_cocotb(Design(name=f"chain_{name}", top=CHAINS[name]), vectors=1000, seed=5))


@pytest.mark.parametrize("sim", [s for s in SIMULATORS if s.id == "icarus"])
def test_chain_on_icarus(sim):
    require_pass(verify_cocotb(Design(name="chain_s16_int8", top=CHAINS["s16_int8"]), sim=sim, vectors=1000, seed=6))
