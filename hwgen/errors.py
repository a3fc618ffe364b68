"""The one exception hierarchy of hwgen.

Every error a user can cause derives from :class:`HwgenError`. The CLI catches
that class, prints its message as one line and exits with status 2; anything
else is a bug in hwgen and keeps its traceback.

Messages name the exact thing (``block.field`` or ``file:key``), the bad value,
and what is allowed, in the style of Amaranth's own errors.
"""

from __future__ import annotations


class HwgenError(Exception):
    """Base class of every error hwgen reports to a user."""


class ConfigError(HwgenError, ValueError):
    """A parameter has a value the generator cannot build.

    Args:
        where: dotted name of the parameter, e.g. ``"mac_pe.acc"`` or
            ``"design.toml:params.lanes"``.
        message: what is wrong and what is allowed.
    """

    def __init__(self, where: str, message: str):
        self.where = where
        self.detail = message
        super().__init__(f"{where}: {message}")


class SpecError(ConfigError):
    """A design file (TOML or Python) is malformed or names unknown things."""


class BoardError(ConfigError):
    """A board file is missing, malformed, or does not fit the design."""


class ToolError(HwgenError):
    """An external tool (Verilator, Yosys, nextpnr, Icarus) is missing or failed.

    Args:
        tool: the tool's name.
        message: one line saying what failed.
        log_tail: the tool's last output lines, shown under the message.
    """

    def __init__(self, tool: str, message: str, log_tail: str = ""):
        self.tool = tool
        self.log_tail = log_tail
        super().__init__(f"{tool}: {message}")


class SimulationError(HwgenError):
    """A simulation could not run to completion (not a mismatch: see results)."""
