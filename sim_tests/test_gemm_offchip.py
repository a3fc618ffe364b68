"""The generated GEMM core fed by the off-chip memory model: exact values and per-transfer cycles, in the native
bench; cocotb sees the same transfers."""

from __future__ import annotations

import numpy as np
from conftest import require_pass

from hwgen import Design
from hwgen.blocks import GemmCoreConfig
from hwgen.sim.check import DEFAULT_PHASES
from hwgen.sim.native import run_native
from hwgen.sim.raw import to_raw
from hwgen.sim.runner import run_cocotb
from hwgen.sim.streams import OffchipMemory, Phase
from hwgen.sim.verify import make_vectors, verify_native

RNG = np.random.default_rng(21)


def _w(k, n):
    return tuple(tuple(int(v) for v in r) for r in RNG.integers(-128, 128, (k, n)))


CORES = {
    "k24_n20_l8_requant_relu": GemmCoreConfig(
        weights=_w(24, 20), lanes=8, requant=True, multiplier=(1 << 30) + 99, shift=36, zero_point=1, relu=True
    ),
    "k3_n9_l4_stalls": GemmCoreConfig(weights=_w(3, 9), lanes=4),
}


def test_core_fed_by_the_offchip_memory_model_exact_cycles():
    """Inputs from the off-chip memory model (0.75 B/cycle, 30-cycle latency): every transfer in the
    cycle the core's cycle model predicts from the memory's arrival times."""
    cfg = CORES["k24_n20_l8_requant_relu"]
    mem = OffchipMemory(bytes_per_cycle=0.75, latency=30)
    stim = make_vectors(cfg, 600, 9)
    verdict = verify_native(
        Design(name="gc_offchip", top=cfg), stim=stim, phases=DEFAULT_PHASES + [Phase("offchip", memory=mem)]
    )
    require_pass(verdict)
    assert any("off-chip memory" in line and "the cycle model predicts" in line for line in verdict.lines)


def test_cocotb_sees_the_same_memory_fed_transfers():
    cfg = CORES["k3_n9_l4_stalls"]
    design = Design(name="gc_small", top=cfg)
    phases = [Phase("offchip", memory=OffchipMemory(bytes_per_cycle=0.6, latency=7, beat_bytes=3))]
    raw_in, raw_exp = to_raw(design.component(), make_vectors(cfg, 40, 3))
    native = run_native(design.verilog, design.name, design.component(), raw_in, raw_exp, phases)
    cocotb = run_cocotb(design.verilog, design.name, raw_in, raw_exp, phases)
    assert native.passed and cocotb.passed
    assert native.phases[0].transfers() == cocotb.phases[0].transfers()
