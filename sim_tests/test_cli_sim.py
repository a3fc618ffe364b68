"""`hwgen sim` from the command line, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SIMULATORS

ROOT = Path(__file__).resolve().parents[1]
HWGEN = str(Path(sys.executable).parent / "hwgen")


@pytest.mark.parametrize("sim", SIMULATORS)
def test_hwgen_sim_passes_on_an_example(sim):
    proc = subprocess.run(
        [HWGEN, "sim", str(ROOT / "examples" / "mac_pe_int8.toml"), "--sim", sim, "--vectors", "1000", "--seed", "3"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ.copy(),
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS" in proc.stdout
    assert "latency 2 cycles (model 2)" in proc.stdout or "cycle model predicts" in proc.stdout
    assert "[hwgen]" in proc.stderr  # progress went to stderr


def test_hwgen_sim_reports_unknown_simulator_cleanly():
    proc = subprocess.run(
        [HWGEN, "sim", str(ROOT / "examples" / "mac_pe_int8.toml"), "--sim", "xcelium"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_hwgen_sim_on_the_gemm_example():
    proc = subprocess.run(
        [HWGEN, "sim", str(ROOT / "examples" / "gemm_ws_8x8.py"), "--vectors", "1000"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ.copy(),
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS" in proc.stdout and "equal NumPy" in proc.stdout


def test_bitmod_matvec_example_from_the_cli():
    proc = subprocess.run(
        [
            HWGEN,
            "sim",
            str(ROOT / "examples" / "bitmod_matvec.py"),
            "--vectors",
            "10",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ.copy(),
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS" in proc.stdout and "BitMoD-quantized matrix" in proc.stdout
