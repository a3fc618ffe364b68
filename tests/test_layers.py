"""The package's layers (pyproject.toml [tool.importlinter], run by `make lint`): kept today, and broken by an
upward import, an import cycle (even one hidden in a function) or a module outside every layer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint_imports(tmp_path: Path, edit: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``lint-imports`` on a copy of the package with ``edit`` (module path -> code appended)."""
    pkg = tmp_path / "src" / "hwgen"
    shutil.copytree(ROOT / "hwgen", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for rel, code in (edit or {}).items():
        path = pkg / rel
        path.write_text((path.read_text() if path.exists() else "") + "\n" + code + "\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    return subprocess.run(
        [LINT_IMPORTS, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )


def test_the_package_keeps_its_layers(tmp_path: Path) -> None:
    proc = lint_imports(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 2 kept, 0 broken." in proc.stdout


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # numerics importing a block: a layer violation
        ({"numtype.py": "from .blocks import BLOCKS"}, "hwgen.numtype -> hwgen.blocks"),
        # a block importing the simulator
        ({"blocks/mac_pe/config.py": "from ...sim import check"}, "hwgen.blocks.mac_pe.config -> hwgen.sim.check"),
        # a cycle inside one layer, hidden in a function
        ({"hierarchy.py": "def _late():\n    from .verilog import lint"}, "No cycles are allowed in hwgen."),
        # a module outside every layer
        ({"misc.py": "X = 1"}, "hwgen.misc"),
    ],
    ids=["upward-import", "block-imports-sim", "hidden-cycle", "unlisted-module"],
)
def test_a_violation_fails_lint(tmp_path: Path, edit: dict[str, str], expected: str) -> None:
    proc = lint_imports(tmp_path, edit)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "BROKEN" in proc.stdout and expected in proc.stdout, proc.stdout
