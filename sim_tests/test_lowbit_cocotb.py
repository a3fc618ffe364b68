"""cocotb on the generated low-bit units: >= 1,000 random groups per configuration, every datatype and
code, extreme activations, back-pressure; exact equality and exact cycle counts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_pass

from hwgen import Design, Int
from hwgen.blocks import BitSerialPEConfig, MixPEConfig, OliveMACConfig, TernaryPEConfig
from hwgen.lowbit import BITMOD_FP3, BITMOD_FP4
from hwgen.sim.verify import verify_cocotb

ROOT = Path(__file__).resolve().parents[1]
UNITS = {
    "bitmod_fp4_serial": BitSerialPEConfig(rows=2, lanes=4, formats=BITMOD_FP4),
    "bitmod_mixed_mult": BitSerialPEConfig(
        lanes=4, formats=("INT8", "INT4", "FLINT4", BITMOD_FP3[3]), dequant="multiplier"
    ),
    "mixpe_s4": MixPEConfig(lanes=8),
    "mixpe_u3_a16": MixPEConfig(lanes=4, asymmetric=True, weight_bits=3, act=Int(16)),
    "olive": OliveMACConfig(pairs=4),
    "ternary": TernaryPEConfig(lanes=16, acc=Int(28)),
}


@pytest.mark.parametrize("name", UNITS)
def test_unit_matches_golden_model(name):
    require_pass(verify_cocotb(Design(name=f"lb_{name}", top=UNITS[name]), vectors=1000, seed=8))


def test_bitmod_matvec_example_from_the_cli():
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "hwgen"),
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
