"""The block contract (hwgen/config.py): every registered block builds, lints, simulates, estimates and reports.

A block that misses part of the contract fails here, not in a user's hands:
:func:`contract_problems` lists what a block class lacks, and a deliberately
incomplete block proves that it catches the gap.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from hwgen import Design, Int
from hwgen.blocks import BLOCKS, MacPEConfig
from hwgen.config import BlockConfig
from hwgen.estimate import estimate
from hwgen.sim.verify import verify_amaranth
from hwgen.structure import FAMILIES
from hwgen.vectors import StreamVectors
from hwgen.verilog import lint

HWGEN = str(Path(sys.executable).parent / "hwgen")
#: every method a block must implement itself (BlockConfig's defaults raise or estimate nothing)
CONTRACT = ("validate", "component", "model", "stimulus", "cycle_model", "timing", "features", "test_configs")


def contract_problems(cls: type[BlockConfig]) -> list[str]:
    """What ``cls`` lacks of the contract: methods left to the base class, a missing name or summary,
    an empty configuration table."""
    problems = [
        f"{cls.__name__}.{name} is not implemented"
        for name in CONTRACT
        if getattr(cls, name) is getattr(BlockConfig, name)
    ]
    if not cls.block_name or not cls.summary:
        problems.append(f"{cls.__name__} has no block_name or summary")
    if not problems and not cls.test_configs():
        problems.append(f"{cls.__name__}.test_configs() is empty")
    return problems


@pytest.mark.parametrize("block", BLOCKS)
def test_registered_block_meets_the_contract(block: str) -> None:
    cls = BLOCKS[block]
    assert contract_problems(cls) == []
    assert cls.block_name == block
    for name, cfg in cls.test_configs().items():
        assert isinstance(cfg, cls), name
        assert type(cfg).from_params(json.loads(json.dumps(cfg.params()))) == cfg, f"{name}: params round trip"


@pytest.mark.parametrize("block", BLOCKS)
def test_every_table_configuration_builds_lint_clean_and_deterministic(block: str) -> None:
    for name, cfg in BLOCKS[block].test_configs().items():
        text = Design(name=f"{block}_{name}", top=cfg).verilog
        assert lint(text, f"{block}_{name}") == [], name
        assert Design(name=f"{block}_{name}", top=cfg).verilog == text, f"{name}: Verilog not deterministic"


@pytest.mark.parametrize("block", BLOCKS)
def test_block_simulates_estimates_and_reports(block: str) -> None:
    cfg = next(iter(BLOCKS[block].test_configs().values()))
    vectors = cfg.stimulus(np.random.default_rng(0), 3, corners=False)
    assert isinstance(vectors, StreamVectors) and vectors.inputs and vectors.expected
    assert set(cfg.cycle_model(vectors)) == set(vectors.inputs) | set(vectors.expected)
    verdict = verify_amaranth(cfg, stim=vectors)
    assert verdict.passed, str(verdict)
    for family in FAMILIES:
        est = estimate(cfg, family)
        assert est.estimated and est.lut > 0 and est.ff > 0, (family, est)
    files = Design(name=f"r_{block}", top=cfg, board="arty_a7_100t").files(report=True)
    manifest = json.loads(files["manifest"][1])
    assert manifest["estimate"]["status"] in ("calibrated", "uncalibrated")
    assert (
        "## Resources" in files["report"][1] and "Fits." in files["report"][1] or "Does not fit" in files["report"][1]
    )


def toml_value(v: Any) -> str:
    """A parameter value as TOML (nested configs as inline tables)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"


def spec_file(tmp_path: Path, block: str, cfg: BlockConfig) -> Path:
    lines = ["[design]", f'name = "cli_{block}"', f'top = "{block}"', 'board = "ulx3s_85f"', "", "[params]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in cfg.params().items()]
    path = tmp_path / f"{block}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("block", BLOCKS)
def test_cli_builds_estimates_and_reports_every_block_from_toml(block: str, tmp_path: Path) -> None:
    cfg = next(iter(BLOCKS[block].test_configs().values()))
    spec = spec_file(tmp_path, block, cfg)
    out = tmp_path / "out"
    for args in (
        ["build", str(spec), "--out", str(out)],
        ["estimate", str(spec), "--json"],
        ["report", str(spec), "--no-synth", "--out", str(out)],
    ):
        proc = subprocess.run([HWGEN, *args], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"hwgen {args[0]}: {proc.stdout}{proc.stderr}"
    assert (out / f"cli_{block}.v").exists() and (out / f"cli_{block}.html").exists()
    assert (
        json.loads(subprocess.run([HWGEN, "estimate", str(spec), "--json"], capture_output=True, text=True).stdout)[
            "resources"
        ]["lut"]
        > 0
    )


@pytest.mark.synth
@pytest.mark.parametrize("block", ["gemm_core", "record_core"])
def test_cli_report_with_synthesis_for_the_gemm_cores(block: str, tmp_path: Path) -> None:
    """The two blocks `hwgen build` used to reject ("no analytic estimator") report estimate vs Yosys."""
    spec = spec_file(tmp_path, block, next(iter(BLOCKS[block].test_configs().values())))
    proc = subprocess.run(
        [HWGEN, "report", str(spec), "--out", str(tmp_path)], capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = (tmp_path / f"cli_{block}.md").read_text()
    assert "synthesized (Yosys)" in report and "Analytic estimate: uncalibrated" in report


@dataclass(frozen=True, kw_only=True)
class HalfBlock(BlockConfig):
    """A block that forgot its cycle model and estimator features."""

    block_name: ClassVar[str] = "half_block"
    summary: ClassVar[str] = "an incomplete block"

    def component(self) -> Any:
        return MacPEConfig().component()

    def model(self, *inputs: Any) -> Any:
        return None

    def stimulus(self, rng: np.random.Generator, n: int = 1, *, corners: bool = True) -> StreamVectors:
        return StreamVectors(inputs={}, expected={})

    def timing(self) -> Any:
        return MacPEConfig(acc=Int(32)).timing()


def test_an_incomplete_block_fails_the_contract_check() -> None:
    problems = contract_problems(HalfBlock)
    assert "HalfBlock.cycle_model is not implemented" in problems
    assert "HalfBlock.features is not implemented" in problems
    assert "HalfBlock.validate is not implemented" in problems
    # and the estimator says "not estimated" instead of failing
    est = estimate(HalfBlock(), "xc7")
    assert not est.estimated and est.summary()["status"] == "not estimated" and est.summary()["analytic"] is None
