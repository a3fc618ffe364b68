"""Proof that a wrong golden model or a broken design fails pytest on both Verilog benches (native, cocotb).

The inner tests run in a child pytest process, as CI would run them; the
outer test asserts that the child's pytest exits with failures and that the
cocotb results and the native bench's records themselves hold the failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import SIMULATORS

from hwgen import Design, Int
from hwgen.blocks import MacPEConfig
from hwgen.sim.check import DEFAULT_PHASES
from hwgen.sim.native import run_native
from hwgen.sim.raw import to_raw
from hwgen.sim.runner import run_cocotb
from hwgen.sim.verify import make_vectors

HERE = Path(__file__).resolve().parent
CFG = MacPEConfig(lanes=2, acc=Int(20), overflow="wrap")

INNER = textwrap.dedent("""
    import numpy as np
    from conftest import require_pass
    from hwgen import Design, Int
    from hwgen.blocks import MacPEConfig
    from hwgen.blocks.mac_pe import hardware
    import pytest
    from hwgen.sim.verify import make_vectors, verify_cocotb, verify_native

    CFG = MacPEConfig(lanes=2, acc=Int(20), overflow="wrap")
    BENCHES = {"cocotb": verify_cocotb, "native": verify_native}

    @pytest.mark.parametrize("bench", BENCHES)
    def test_wrong_golden_model(bench):
        design = Design(name="pe_fail", top=CFG)
        stim = make_vectors(CFG, 100, seed=3)
        stim.expected["o"] = stim.expected["o"] ^ 1          # the deliberately wrong model (LSB flipped)
        require_pass(BENCHES[bench](design, stim=stim))

    @pytest.mark.parametrize("bench", BENCHES)
    def test_broken_design(monkeypatch, bench):
        original = hardware.adder_tree
        monkeypatch.setattr(hardware, "adder_tree", lambda v: original(v[:-1]))   # drops a lane
        require_pass(BENCHES[bench](Design(name="pe_fail", top=CFG), vectors=100))
""")


def test_failing_comparisons_fail_pytest(tmp_path):
    inner = tmp_path / "test_inner.py"
    inner.write_text(INNER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--rootdir",
            str(tmp_path),
            str(inner),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=900,
    )
    report = proc.stdout + proc.stderr
    assert proc.returncode == 1, report
    assert "4 failed" in report, report
    for bench in ("cocotb", "native"):
        wrong = report.split(f"_ test_wrong_golden_model[{bench}] _")[1].split("\n_")[0]
        assert "first mismatch at beat #0" in wrong, report  # wrong model: every beat differs
        broken = report.split(f"_ test_broken_design[{bench}] _")[1].split("\n_")[0]
        assert "mismatch" in broken, report


def test_cocotb_itself_records_the_failure():
    """Below pytest: cocotb's results XML counts the bench as failed."""
    design = Design(name="pe_fail", top=CFG)
    stim = make_vectors(CFG, 50, seed=4)
    stim.expected["o"] = stim.expected["o"] ^ 2
    raw_in, raw_exp = to_raw(design.component(), stim)
    run = run_cocotb(design.verilog, design.name, raw_in, raw_exp, DEFAULT_PHASES)
    assert (run.tests, run.failed) == (1, 1)
    assert not run.passed
    assert any("mismatch" in e for p in run.phases for e in p.errors)


def test_native_bench_itself_records_the_failure():
    """Below the checker: the native bench's own records carry the mismatch, and the run does not pass."""
    design = Design(name="pe_fail", top=CFG)
    stim = make_vectors(CFG, 50, seed=4)
    stim.expected["o"] = stim.expected["o"] ^ 2
    raw_in, raw_exp = to_raw(design.component(), stim)
    run = run_native(design.verilog, design.name, design.component(), raw_in, raw_exp, DEFAULT_PHASES)
    assert not run.passed
    assert all(any("mismatch" in e for e in p.errors) for p in run.phases)


@pytest.mark.parametrize("sim", [s for s in SIMULATORS if s.id == "icarus"])
def test_x_in_a_valid_payload_fails_on_icarus(sim):
    """X/Z bits in a payload whose valid is high fail the cocotb bench (Verilator has no X: Icarus only);
    X while valid is low is allowed (test_scale's 8×8 array on Icarus holds X there at cycle 0)."""
    design = Design(name="pe_fail", top=CFG)
    register = "    o__payload <= \\$17 ;"
    assert register in design.verilog
    broken = design.verilog.replace(register, "    o__payload <= \\$17  ^ 20'bx;")
    raw_in, raw_exp = to_raw(design.component(), make_vectors(CFG, 20, seed=5))
    run = run_cocotb(broken, design.name, raw_in, raw_exp, DEFAULT_PHASES, sim="icarus")
    assert not run.passed
    assert any("o__payload carry X/Z bits" in e for p in run.phases for e in p.errors), run.phases
