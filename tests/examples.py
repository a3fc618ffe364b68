"""Loading the repository's example files (plain Python modules under examples/) in tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_example(*parts: str) -> ModuleType:
    """The module ``examples/<parts...>``, executed (e.g. ``load_example("pruning", "head_pruning.py")``)."""
    path = ROOT.joinpath("examples", *parts)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
