"""Every block's configuration table at every level: NumPy, Amaranth's simulator, the generated Verilog.

One table per block (``cfg.test_configs()``, kept in the block's
``testdata`` module) drives all levels, as PyMTL3 reuses one test class per
level:

* ``numpy``: the golden model's responses equal an independent reference
  written with plain Python loops (:mod:`tests.references`), on random
  vectors plus the block's corner cases;
* ``amaranth``: the component in Amaranth's simulator matches the golden
  model beat for beat, every transfer in the cycle the cycle model predicts
  (full rate), and nothing is lost under random stalls;
* ``native``: the same on the generated Verilog in the native Verilator bench
  (one build per configuration, 1,000 random cases, both phases);
* ``cocotb``: cocotb on Verilator sees exactly what the native bench sees —
  every transfer in the same cycle with the same payload, the same errors —
  and passes (the first configuration of each block; all in ``make
  test-full``);
* ``icarus``: cocotb on Icarus passes (first configuration of each block;
  skipped without ``iverilog``).
"""

from __future__ import annotations

import numpy as np
import pytest

from hwgen import Design
from hwgen.blocks import BLOCKS
from hwgen.sim.check import DEFAULT_PHASES, check_run
from hwgen.sim.native import run_native
from hwgen.sim.raw import to_raw
from hwgen.sim.runner import run_cocotb
from hwgen.sim.verify import make_vectors, verify_amaranth, verify_cocotb, verify_native
from hwgen.tools import have_icarus

from .references import REFERENCES

#: random cases per level (the Amaranth simulator runs ~1k cycles/s, cocotb on Verilator ~10k, the
#: native bench ~100k at -O0)
CASES = {"numpy": 300, "amaranth": 40, "native": 1000, "cocotb": 150, "icarus": 150}
ICARUS = [pytest.mark.icarus, pytest.mark.skipif(not have_icarus(), reason="iverilog not on PATH")]


def _marks(level: str, k: int) -> list | None:
    """Marks of a level for the ``k``-th configuration of a block; None: not run at all."""
    if level == "icarus":
        return ICARUS if k == 0 else None
    if level == "cocotb":
        return [] if k == 0 else [pytest.mark.slow]
    return []


def table() -> list:
    params = []
    for block, cls in BLOCKS.items():
        for k, name in enumerate(cls.test_configs()):
            for level in ("numpy", "amaranth", "native", "cocotb", "icarus"):
                marks = _marks(level, k)
                if marks is not None:
                    params.append(pytest.param(block, name, level, id=f"{block}-{name}-{level}", marks=marks))
    return params


def _plain(x) -> object:
    """Expected outputs as nested Python ints (dicts of fields kept), for comparison with the reference."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return [_plain(v) for v in x] if isinstance(x, list | tuple | np.ndarray) else int(x)


@pytest.mark.parametrize(("block", "name", "level"), table())
def test_every_level_matches_the_golden_model(block: str, name: str, level: str) -> None:
    cfg = BLOCKS[block].test_configs()[name]
    if level == "numpy":
        stim = cfg.stimulus(np.random.default_rng(3), CASES[level])
        assert _plain(stim.expected) == _plain(REFERENCES[block](cfg, stim))
        assert stim.corners, "the stimulus must include corner cases"
    elif level == "amaranth":
        verdict = verify_amaranth(cfg, vectors=CASES[level], seed=5)
        assert verdict.passed, str(verdict)
        assert any("transfers in the cycle the cycle model predicts" in line for line in verdict.lines)
    elif level == "native":
        _require(verify_native(Design(name=f"{block}_{name}", top=cfg), vectors=CASES[level], seed=7))
    elif level == "cocotb":
        _native_equals_cocotb(Design(name=f"{block}_{name}", top=cfg), seed=9)
    else:
        _require(verify_cocotb(Design(name=f"{block}_{name}", top=cfg), sim=level, vectors=CASES[level], seed=7))


def _require(verdict) -> None:
    if not verdict.passed:
        pytest.fail("simulation did not match the golden/timing model:\n" + str(verdict), pytrace=False)


def _native_equals_cocotb(design: Design, seed: int) -> None:
    """Both benches on the same vectors and phases: identical transfers (cycles and payloads) and errors;
    and the run passes the checker."""
    stim = make_vectors(design.top, CASES["cocotb"], seed)
    comp = design.component()
    raw_in, raw_exp = to_raw(comp, stim)
    native = run_native(design.verilog, design.name, comp, raw_in, raw_exp, DEFAULT_PHASES)
    cocotb = run_cocotb(design.verilog, design.name, raw_in, raw_exp, DEFAULT_PHASES)
    assert len(native.phases) == len(cocotb.phases) == len(DEFAULT_PHASES)
    for n, c in zip(native.phases, cocotb.phases):
        for what, value in n.transfers().items():
            assert value == c.transfers()[what], f"phase {n.name}: {what} differ between native and cocotb"
        assert (n.errors, n.timeout_cycle) == (c.errors, c.timeout_cycle)
    _require(check_run(design.top, comp, stim, cocotb.phases, DEFAULT_PHASES))
