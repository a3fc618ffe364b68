"""FPGA flow scripts for a design on a board, rendered from ``templates/flows``.

* Xilinx boards (xc7, xcup): a Vivado non-project, out-of-context TCL script
  and an XDC with the clock constraint (Vivado is not needed to generate them).
* Lattice boards (ecp5, ice40): a Makefile running YoWASP Yosys, nextpnr and
  the packer (``ecppack`` / ``icepack``) on the design in a serial I/O
  harness (:class:`hwgen.estimate.pnr.SerialHarness`).
"""

from __future__ import annotations

from pathlib import Path

from . import __version__
from .boards import load_board
from .design import Design, write_files
from .estimate.pnr import device_flags, harness_verilog
from .render import environment


def flow_files(design: Design, board_name: str | None = None) -> dict[str, tuple[str, str]]:
    """The flow's files as ``{kind: (file name, text)}`` (nothing written)."""
    board = load_board(board_name or design.board or "")
    env = environment()
    clock = design.clock_mhz or board.default_clock_mhz
    ctx = {"name": design.name, "board": board, "version": __version__, "clock_mhz": clock, "period_ns": 1000.0 / clock}
    if board.family in ("xc7", "xcup"):
        return {
            "verilog": (f"{design.name}.v", design.verilog),
            "xdc": (f"{design.name}.xdc", env.get_template("flows/clock.xdc.j2").render(**ctx)),
            "tcl": ("vivado_ooc.tcl", env.get_template("flows/vivado_ooc.tcl.j2").render(**ctx)),
            "readme": ("README.md", env.get_template("flows/README.md.j2").render(vendor="xilinx", **ctx)),
        }
    flags, _ = device_flags(board.family, board)
    lattice = {
        "ecp5": dict(
            packer="ecppack",
            synth="synth_ecp5",
            pnr_kind="textcfg",
            pnr_output="design.config",
            bitstream=f"{design.name}.bit",
            allow_flag="--lpf-allow-unconstrained",
        ),
        "ice40": dict(
            packer="icepack",
            synth="synth_ice40 -dsp",
            pnr_kind="asc",
            pnr_output="design.asc",
            bitstream=f"{design.name}.bin",
            allow_flag="--pcf-allow-unconstrained",
        ),
    }[board.family]
    ctx.update(lattice, device_flags=" ".join(flags))
    return {
        "verilog": (f"{design.name}_harness.v", harness_verilog(design.top.component(), design.name, board.family)),
        "makefile": ("Makefile", env.get_template("flows/Makefile.lattice.j2").render(**ctx)),
        "readme": ("README.md", env.get_template("flows/README.md.j2").render(vendor="lattice", **ctx)),
    }


def write_flow(design: Design, out_dir: str | Path, board_name: str | None = None) -> dict[str, Path]:
    """Write the flow for ``design`` on ``board_name`` (default: the design's board) into ``out_dir``."""
    return write_files(out_dir, flow_files(design, board_name))
