"""The generated Verilog at scale: designs larger than the blocks' configuration tables (tests/test_levels.py
runs those), in the native Verilator bench (and one on Icarus under cocotb).

Systolic arrays of 8×8 to 16×16 PEs: random GEMMs with M, K, N not multiples of the array, extreme values,
random back-pressure; exact equality and exact cycles for every run."""

from __future__ import annotations

import pytest
from conftest import SIMULATORS, require_pass

from hwgen import Design, Int, UInt
from hwgen.blocks import MacPEConfig, SystolicArrayConfig
from hwgen.sim.verify import verify_cocotb, verify_native

INT8 = MacPEConfig(act=Int(8), weight=Int(8), acc=Int(32), pipeline=0, max_len=4096)
U8S8_SAT = MacPEConfig(act=UInt(8), weight=Int(8), acc=Int(20), overflow="saturate", pipeline=0)

ARRAYS = {
    "ws8": SystolicArrayConfig(rows=8, cols=8, pe=INT8),
    "os8_sat": SystolicArrayConfig(rows=8, cols=8, dataflow="output_stationary", pe=U8S8_SAT),
    "ws16": SystolicArrayConfig(rows=16, cols=16, pe=INT8),
    "os16": SystolicArrayConfig(rows=16, cols=16, dataflow="output_stationary", pe=INT8),
    "ws12x10_t3_sat": SystolicArrayConfig(rows=12, cols=10, tile=3, pe=U8S8_SAT),
}
#: The 16×16 output-stationary array is the slowest to verilate and compile: `make test-full` only.
SLOW = {"os16"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in ARRAYS])
def test_array_matches_numpy_gemm_with_exact_cycles(name):
    verdict = verify_native(Design(name=f"sa_{name}", top=ARRAYS[name]), vectors=4000, seed=11)
    require_pass(verdict)
    assert any("equal NumPy" in l for l in verdict.lines)


@pytest.mark.parametrize("sim", [s for s in SIMULATORS if s.id == "icarus"])
def test_array_on_icarus(sim):
    require_pass(verify_cocotb(Design(name="sa_ws8", top=ARRAYS["ws8"]), sim=sim, vectors=1000, seed=12))


def test_ice40_array_keeps_its_delay_lines_in_block_ram():
    """On iCE40 (no distributed RAM) the long delay lines read through a register (block RAM); that
    Verilog, too, equals NumPy with exact cycles."""
    design = Design(name="sa_ws8_ice40", top=ARRAYS["ws8"], board="icebreaker")
    assert "<= psum_ram[" in design.verilog and "<= psum_ram[" not in design.verilog_for("ecp5")
    require_pass(verify_native(design, vectors=2000, seed=13))


def test_lattice_output_stationary_array_reads_out_through_its_and_or_bus():
    """LUT4 families read an output-stationary column out through an AND-OR bus on the done flags, LUT6
    families through a multiplexer on a select register: the ECP5 Verilog, too, equals NumPy with exact
    cycles (the default xc7 Verilog runs in test_array_matches_numpy_gemm_with_exact_cycles)."""
    design = Design(name="sa_os8_ecp5", top=ARRAYS["os8_sat"], board="ulx3s_85f")
    assert "col0_sel" not in design.verilog and "col0_sel" in design.verilog_for("xc7")
    require_pass(verify_native(design, vectors=2000, seed=14))
