"""cocotb on the generated GEMM core fed by the off-chip memory model: exact values and per-transfer cycles."""

from __future__ import annotations

import numpy as np
from conftest import require_pass

from hwgen import Design
from hwgen.blocks import GemmCoreConfig
from hwgen.sim.verify import verify_cocotb

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
    from hwgen.sim.check import DEFAULT_PHASES
    from hwgen.sim.streams import OffchipMemory, Phase
    from hwgen.sim.verify import make_vectors

    cfg = CORES["k24_n20_l8_requant_relu"]
    mem = OffchipMemory(bytes_per_cycle=0.75, latency=30)
    stim = make_vectors(cfg, 60, 9)
    verdict = verify_cocotb(
        Design(name="gc_offchip", top=cfg), stim=stim, phases=DEFAULT_PHASES + [Phase("offchip", memory=mem)]
    )
    require_pass(verdict)
    assert any("off-chip memory" in line and "the cycle model predicts" in line for line in verdict.lines)
