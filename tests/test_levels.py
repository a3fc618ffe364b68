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
* ``verilator`` / ``icarus``: the same on the generated Verilog under cocotb
  (one build per configuration, 1,000 random cases); Icarus runs the first
  configuration of each block and is skipped without ``iverilog``.
"""

from __future__ import annotations

import numpy as np
import pytest

from hwgen import Design
from hwgen.blocks import BLOCKS
from hwgen.sim.verify import verify_amaranth, verify_cocotb
from hwgen.tools import have_icarus

from .references import REFERENCES

#: random cases per level (the Amaranth simulator runs ~1k cycles/s; cocotb on Verilator ~10k)
CASES = {"numpy": 300, "amaranth": 40, "verilator": 1000, "icarus": 150}


def table() -> list:
    params = []
    for block, cls in BLOCKS.items():
        for k, name in enumerate(cls.test_configs()):
            for level in ("numpy", "amaranth", "verilator", "icarus"):
                if level == "icarus" and k > 0:
                    continue
                marks = [pytest.mark.icarus, pytest.mark.skipif(not have_icarus(), reason="iverilog not on PATH")]
                params.append(
                    pytest.param(
                        block, name, level, id=f"{block}-{name}-{level}", marks=marks if level == "icarus" else []
                    )
                )
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
    else:
        verdict = verify_cocotb(Design(name=f"{block}_{name}", top=cfg), sim=level, vectors=CASES[level], seed=7)
        if not verdict.passed:
            pytest.fail("simulation did not match the golden/timing model:\n" + str(verdict), pytrace=False)
