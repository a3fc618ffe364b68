"""Emit repeated sub-blocks once: shared Verilog modules instead of flattened copies.

Amaranth elaborates and netlists every instance of a sub-component anew, so a
32×32 array costs 32× the work of one row. When converting to Verilog, hwgen
passes a :class:`Hierarchy` as the elaboration ``platform``; a block that
knows its children are identical calls :func:`add_shared` instead of adding a
submodule. The child is converted to Verilog once per distinct key (as its
own module) and the parent gets an ``Instance`` of it wired to the child's
port signals. Under Amaranth's simulator (``platform=None``) :func:`add_shared`
adds the child as an ordinary submodule, so both paths run the same code.
"""

from __future__ import annotations

import hashlib

from amaranth.hdl import ClockSignal, Instance, Module, ResetSignal, Value
from amaranth.lib import wiring


class Hierarchy:
    """Collects the shared modules of one Verilog conversion (pass as ``platform``)."""

    def __init__(self, top_name: str):
        self.top_name = top_name
        self.modules: dict[str, str] = {}  # module name -> Verilog text

    def module_name(self, key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()[:10]
        return f"{self.top_name}__{key.split('(')[0]}_{digest}"

    def define(self, key: str, make) -> str:
        """Verilog module name for ``key``; converts ``make()`` the first time."""
        from .verilog import convert_module

        name = self.module_name(key)
        if name not in self.modules:
            self.modules[name] = ""  # reserve: recursion-safe
            self.modules[name] = convert_module(make(), name, self)
        return name


def add_shared(m: Module, platform, name: str, child: wiring.Component, key: str, make) -> None:
    """Add ``child`` to ``m`` as submodule ``name`` — or, under a :class:`Hierarchy`,
    as an instance of a shared module built once from ``make()`` for this ``key``.

    ``child`` is a constructed (never elaborated) component whose port
    signals the parent drives and reads either way; ``make`` must build an
    identical component (same class and parameters as ``key`` says).
    """
    if not isinstance(platform, Hierarchy):
        m.submodules[name] = child
        return
    module = platform.define(key, make)
    ports: dict[str, Value] = {"i_clk": ClockSignal(), "i_rst": ResetSignal()}
    for path, member, value in child.signature.flatten(child):
        prefix = "i_" if member.flow == wiring.In else "o_"
        ports[prefix + "__".join(str(p) for p in path)] = Value.cast(value)
    m.submodules[name] = Instance(module, **ports)
    child._MustUse__used = True  # its ports are used; the logic lives in the shared module
