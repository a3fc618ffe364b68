"""hwgen: a Python hardware generator for machine-learning accelerators.

Describe a block with a frozen config (``MacPEConfig(lanes=16, ...)``), wrap
it in a :class:`Design`, and get Verilog (through Amaranth), a manifest, a
bit-exact NumPy golden model, a cycle-exact timing model, resource estimates
and cocotb verification.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import BoardError, ConfigError, HwgenError, SimulationError, SpecError, ToolError  # noqa: E402
from .numtype import Fixed, Int, NumType, UFixed, UInt  # noqa: E402

__all__ = [
    "__version__",
    "Design",
    "Int",
    "UInt",
    "Fixed",
    "UFixed",
    "NumType",
    "HwgenError",
    "ConfigError",
    "SpecError",
    "BoardError",
    "ToolError",
    "SimulationError",
]


def __getattr__(name: str) -> object:
    # Design pulls in Amaranth; import it lazily so `import hwgen` stays cheap.
    if name == "Design":
        from .design import Design

        return Design
    raise AttributeError(name)
