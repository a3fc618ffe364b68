"""cocotb on the generated MAC PE Verilog (Verilator; Icarus when installed).

Each parameter set is compiled once and receives >= 1,000 random
accumulations plus the corner sequences, at full rate (exact latency and
II checked) and with random input gaps / output stalls.
"""

from __future__ import annotations

import pytest
from conftest import SIMULATORS, require_pass

from hwgen import Design, Fixed, Int, UFixed, UInt
from hwgen.blocks import MacPEConfig
from hwgen.sim.verify import verify_cocotb

DESIGNS = {
    "int8_exact": MacPEConfig(max_len=65536),
    "int8_l64_sat": MacPEConfig(lanes=64, pipeline=3, acc=Int(24), overflow="saturate", max_len=8),
    "u8s8_l3_wrap_p0": MacPEConfig(lanes=3, pipeline=0, act=UInt(8), acc=Int(10), overflow="wrap"),
    "fixed_l8_sat": MacPEConfig(
        lanes=8, pipeline=2, act=UFixed(8, 8), weight=Fixed(8, 6), acc=Fixed(20, 14), overflow="saturate"
    ),
    "int32_l2_wrap96": MacPEConfig(lanes=2, pipeline=2, act=Int(32), weight=Int(32), acc=Int(96), overflow="wrap"),
}


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("name", DESIGNS)
def test_generated_verilog_matches_golden_model(name, sim):
    design = Design(name=f"pe_{name}", top=DESIGNS[name])
    verdict = verify_cocotb(design, sim=sim, vectors=1000, seed=7)
    require_pass(verdict)
    assert verdict.latency_measured == [DESIGNS[name].timing().latency]
