"""A design: a named top block for a board at a clock, and its build outputs.

``Design.build(out_dir)`` writes ``<name>.v`` (Verilog) and ``<name>.json``
(the manifest: block parameters, ports with widths and directions, latency,
throughput, resource estimate, hwgen version, the Verilog's SHA-256). The
same design always gives byte-identical files: nothing time- or
path-dependent goes into either. Files appear atomically (written to a
temporary name, then renamed), so a failed build leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from amaranth.hdl import Value
from amaranth.lib import wiring

from . import __version__
from .boards import Board, load_board
from .config import BlockConfig
from .errors import BoardError, ConfigError, HwgenError, SpecError
from .estimate import estimate
from .estimate.timing import estimate_fmax, for_clock
from .ports import field_summary, stream_ports
from .report import render
from .verilog import sha256, to_verilog

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
DEFAULT_CLOCK_MHZ = 100.0


@dataclass(frozen=True, kw_only=True)
class Design:
    """A top block, its name, target board and clock.

    Args:
        name: Verilog module and file name (an identifier).
        top: the top block's config, e.g. ``MacPEConfig(lanes=16)``.
        board: a board name from ``boards/`` (``hwgen boards`` lists them), or None.
        clock_mhz: target clock; defaults to the board's default clock, else 100 MHz. Timing
            parameters of ``top`` left out ("auto", e.g. ``pipeline``) are chosen to meet it on the
            board's family by the Fmax estimate (:func:`hwgen.estimate.timing.for_clock`); ``top``
            then holds the chosen values.
        stimulus: optional ``f(rng, n) -> StreamVectors`` that ``hwgen sim`` uses instead of the
            block's random stimulus (e.g. a real quantized matrix-vector product).
    """

    name: str
    top: BlockConfig
    board: str | None = None
    clock_mhz: float | None = None
    stimulus: Callable[..., Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        self.validate()
        top, note = for_clock(self.top, self.clock, self.family)
        object.__setattr__(self, "top", top)  # the auto timing parameters, chosen for this clock
        object.__setattr__(self, "timing_choice", note)
        object.__setattr__(self, "_verilog_by_family", {})  # family -> Verilog text (verilog_for)
        for cell, family in top.vendor_cells().items():
            if family != self.family:
                raise ConfigError(
                    "design.board",
                    f"{self.top.block_name} instantiates {family.upper()} {cell} cells (dsp_cells), but the design "
                    f"targets {self.family}; use a {family} board or dsp_cells = 'inferred'",
                )

    def validate(self) -> None:
        if not isinstance(self.name, str) or not _IDENT.fullmatch(self.name):
            raise ConfigError(
                "design.name",
                f"{self.name!r} is not a Verilog identifier "
                f"(letters, digits, _; not starting with a digit; ≤ 63 chars)",
            )
        if not isinstance(self.top, BlockConfig):
            raise ConfigError("design.top", f"expected a block config (e.g. MacPEConfig(...)), not {self.top!r}")
        if self.board is not None:
            try:
                load_board(self.board)
            except BoardError as e:
                if e.where != "board":  # a malformed board file: its own file:key says where
                    raise
                raise BoardError("design.board", e.detail) from None
        if self.clock_mhz is not None and (
            isinstance(self.clock_mhz, bool)
            or not isinstance(self.clock_mhz, (int, float))
            or not 0 < self.clock_mhz <= 2000
        ):
            raise ConfigError("design.clock_mhz", f"{self.clock_mhz!r} is not a clock in (0, 2000] MHz")

    # ----------------------------------------------------------- derived
    @property
    def board_info(self) -> Board | None:
        return load_board(self.board) if self.board else None

    @property
    def clock(self) -> float:
        """The clock in MHz actually used for throughput figures."""
        if self.clock_mhz is not None:
            return float(self.clock_mhz)
        b = self.board_info
        return b.default_clock_mhz if b else DEFAULT_CLOCK_MHZ

    @property
    def family(self) -> str:
        """The board's family; without a board, that of the vendor cells the top instantiates, else xc7."""
        b = self.board_info
        if b:
            return b.family
        cells = set(self.top.vendor_cells().values())
        return cells.pop() if len(cells) == 1 else "xc7"

    @cached_property
    def _component(self) -> wiring.Component:
        with self._user_code("component()"):
            comp = self.top.component()
        if not isinstance(comp, wiring.Component):
            raise SpecError(
                f"design {self.name}",
                f"{type(self.top).__name__}.component() gave {comp!r}, not an amaranth.lib.wiring.Component",
            )
        return comp

    @contextmanager
    def _user_code(self, what: str) -> Iterator[None]:
        """Exceptions from a block defined outside hwgen (a user's own block) become one-line errors."""
        if type(self.top).__module__.split(".")[0] == "hwgen":
            yield
            return
        try:
            yield
        except HwgenError:
            raise
        except Exception as e:
            text = " ".join(str(e).split())[:300]
            raise SpecError(
                f"design {self.name}", f"{type(self.top).__name__}.{what} raised {type(e).__name__}: {text}"
            ) from None

    def component(self) -> wiring.Component:
        """The top component (one instance per Design, shared by Verilog and manifest)."""
        return self._component

    @property
    def verilog(self) -> str:
        """The Verilog text for the design's :attr:`family` (generated once per Design object, by
        :meth:`verilog_for`)."""
        return self.verilog_for(self.family)

    def verilog_for(self, family: str) -> str:
        """The Verilog text as generated for ``family`` (synthesis of one design for several families:
        a few blocks map memories differently on iCE40)."""
        if family in self._verilog_by_family:
            return self._verilog_by_family[family]
        header = f"Generated by hwgen {__version__}: design '{self.name}', block {self.top.block_name}\n" + "\n".join(
            f"  {k} = {v}" for k, v in self.top.params().items()
        )
        comp = self.component()
        with self._user_code("elaborate()"):
            text = to_verilog(comp, self.name, header, family=family)
        self._verilog_by_family[family] = text
        return text

    def manifest(self, *, with_verilog: bool = True) -> dict[str, Any]:
        """Everything a tool or a report needs to know about the built design. ``with_verilog=False`` leaves
        out the Verilog's hash, so nothing is elaborated (``hwgen estimate``)."""
        comp = self.component()
        timing = self.top.timing()
        ports = []
        for path, member, value in comp.signature.flatten(comp):
            width = len(Value.cast(value))
            ports.append(
                {
                    "name": "__".join(str(p) for p in path),
                    "dir": "in" if member.flow == wiring.In else "out",
                    "width": width,
                }
            )
        ports = [{"name": "clk", "dir": "in", "width": 1}, {"name": "rst", "dir": "in", "width": 1}] + ports
        ins, outs = stream_ports(comp)
        streams = {}
        for p in ins + outs:
            shape = getattr(comp, p).payload.shape()
            streams[p] = {"dir": "in" if p in ins else "out", "payload": field_summary(shape)}
        est = estimate(self.top, self.family)
        fmax = estimate_fmax(self.top, self.family)
        if not with_verilog:  # only the signature was read: the component is not meant to be elaborated
            comp._MustUse__used = True
        return {
            "hwgen_version": __version__,
            "design": self.name,
            "block": self.top.block_name,
            "params": self.top.params(),
            "board": self.board,
            "family": self.family,
            "clock_mhz": self.clock,
            "ports": ports,
            "streams": streams,
            "timing": {
                "latency_cycles": timing.latency,
                "initiation_interval": timing.ii,
                "ops_per_beat": timing.ops_per_beat,
                "ops_per_cycle": timing.ops_per_beat / timing.ii,
                "throughput_gops": timing.throughput_ops_per_s(self.clock) / 1e9,
                "notes": timing.notes,
            },
            "estimate": est.summary(),
            "fmax_estimate": fmax.summary() if fmax else None,
            "auto_params": sorted(self.top.auto_params),
            "timing_choice": self.timing_choice,
            "verilog_file": f"{self.name}.v",
            **({"verilog_sha256": sha256(self.verilog)} if with_verilog else {}),
        }

    # ------------------------------------------------------------- build
    def files(self, *, report: bool = False) -> dict[str, tuple[str, str]]:
        """The build outputs as ``{kind: (file name, text)}``: verilog, manifest, and report."""
        manifest = self.manifest()
        files = {
            "verilog": (f"{self.name}.v", self.verilog),
            "manifest": (f"{self.name}.json", json.dumps(manifest, indent=2) + "\n"),
        }
        if report:
            files["report"] = (f"{self.name}.md", render("report.md.j2", manifest))
        return files

    def build(self, out_dir: str | Path = "rtl_out", *, report: bool = False) -> dict[str, Path]:
        """Write ``<name>.v`` and ``<name>.json`` (and ``<name>.md`` with ``report``) into ``out_dir``."""
        return write_files(out_dir, self.files(report=report))


def write_files(out_dir: str | Path, files: dict[str, tuple[str, str | bytes]]) -> dict[str, Path]:
    """Write every file atomically into ``out_dir`` (created if needed); on any failure none of them is left
    behind, nor any folder this call created. A folder that cannot be made or written is a
    :class:`ConfigError` naming ``--out``."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError("--out", f"{out} exists and is not a folder")
    created = _topmost_missing(out)
    staged: list[tuple[Path, Path]] = []
    done = False
    try:
        out.mkdir(parents=True, exist_ok=True)
        umask = os.umask(0)
        os.umask(umask)
        for _key, (name, text) in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out)
            with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as f:
                f.write(text)
            os.chmod(tmp, 0o666 & ~umask)
            staged.append((Path(tmp), out / name))
        for tmp, final in staged:
            os.replace(tmp, final)
        done = True
    except OSError as e:
        raise ConfigError("--out", f"cannot write into {out}: {e.strerror or e}") from None
    finally:
        for tmp, _ in staged:
            if tmp.exists():
                tmp.unlink()
        if not done and created is not None:
            shutil.rmtree(created, ignore_errors=True)
    return {key: out / name for key, (name, _) in files.items()}


def _topmost_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` that does not exist yet (what ``mkdir -p`` would create first)."""
    missing = None
    for p in [path, *path.parents]:
        if p.exists():
            break
        missing = p
    return missing
