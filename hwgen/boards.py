"""Board and device definitions: one TOML file per board in ``boards/``.

A board file has three tables:

``[board]``
    ``title``, ``family`` (one of :data:`FAMILIES`), ``part``, ``package``,
    ``speed_grade``, ``oscillator_mhz``, ``default_clock_mhz`` and, where
    amaranth-boards has one, ``amaranth_platform = "module:Class"``.
``[capacity]``
    ``lut``, ``ff``, ``dsp``, ``bram`` (in the family's native block:
    RAMB36 on Xilinx, 18 Kb EBR on ECP5, 4 Kb EBR on iCE40) and optional
    ``uram``/``spram``.
``[sources]``
    for every capacity figure, the datasheet (document, table) it comes from.

Files are looked up in ``$HWGEN_BOARDS`` (``:``-separated folders), then
the repository's ``boards/``, then the copy installed with the package.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BoardError
from .structure import FAMILIES

#: Native block-RAM size in Kb per family.
BRAM_KBITS = {"xc7": 36, "xcup": 36, "ecp5": 18, "ice40": 4}

_BOARD_KEYS = {
    "title": str,
    "family": str,
    "part": str,
    "package": str,
    "speed_grade": str,
    "oscillator_mhz": float,
    "default_clock_mhz": float,
    "amaranth_platform": str,
}
_BOARD_REQUIRED = {"title", "family", "part", "package", "default_clock_mhz"}
_CAPACITY_KEYS = ("lut", "ff", "dsp", "bram", "uram", "spram")
_CAPACITY_REQUIRED = ("lut", "ff", "dsp", "bram")


@dataclass(frozen=True)
class Board:
    """A validated board/device definition."""

    name: str
    title: str
    family: str
    part: str
    package: str
    speed_grade: str
    oscillator_mhz: float | None
    default_clock_mhz: float
    amaranth_platform: str | None
    capacity: dict[str, int]
    sources: dict[str, str]
    path: Path

    @property
    def bram_kbits(self) -> int:
        return BRAM_KBITS[self.family]


def board_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("HWGEN_BOARDS", "").split(os.pathsep) if p]
    here = Path(__file__).resolve().parent
    dirs += [here.parent / "boards", here / "_data" / "boards"]
    return [d for d in dirs if d.is_dir()]


def available_boards() -> list[str]:
    names: set[str] = set()
    for d in board_dirs():
        names |= {p.stem for p in d.glob("*.toml")}
    return sorted(names)


def find_board_file(name: str) -> Path:
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise BoardError("board", f"{name!r} is not a board name; available: {', '.join(available_boards())}")
    for d in board_dirs():
        p = d / f"{name}.toml"
        if p.is_file():
            return p
    raise BoardError("board", f"unknown board {name!r}; available: {', '.join(available_boards())}")


def load_board(name_or_path: str | Path) -> Board:
    """Load and validate a board by name (``arty_a7_100t``) or by path to a TOML file."""
    p = Path(name_or_path)
    path = p if p.suffix == ".toml" and p.exists() else find_board_file(str(name_or_path))
    return parse_board(read_board_text(path), path)


def read_board_text(path: Path) -> str:
    """The text of a board file; unreadable or non-UTF-8 files are a :class:`BoardError` naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise BoardError(str(path), f"not a UTF-8 text file (byte {e.start}: {e.reason})") from None
    except OSError as e:
        raise BoardError(str(path), f"cannot be read: {e.strerror}") from None


#: Part numbers each family's flows understand: device size / name -> nextpnr device argument.
_PART_RULES = {
    "xc7": (r"xc7[aksvz]\w+-\w+", "a Xilinx 7-series part such as xc7a100tcsg324-1"),
    "xcup": (r"xc(zu|ku|vu|au|u)\w+(-\w+)+", "an UltraScale+ part such as xczu7ev-ffvc1156-2-e"),
    "ecp5": (r"LFE5UM?5?G?-(12|25|45|85)F-[678]\w*", "an ECP5 part LFE5U-{12,25,45,85}F-<speed><package>"),
    "ice40": (r"iCE40(UP5K|UP3K|HX8K|HX4K|HX1K|LP8K|LP4K|LP1K|LP384)-\w+", "an iCE40 part such as iCE40UP5K-SG48"),
}


def check_part(family: str, part: str, where: str) -> None:
    """Raise unless ``part`` is a part number the ``family``'s flows can target."""
    pattern, example = _PART_RULES[family]
    if not re.fullmatch(pattern, part, flags=re.IGNORECASE):
        raise BoardError(where, f"{part!r} is not a {family} part number; expected {example}")


def parse_board(text: str, path: Path) -> Board:
    """Validate a board file's text; errors name ``file:table.key``."""
    where = path.name
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise BoardError(where, f"not valid TOML: {e}") from None
    for table in doc:
        if table not in ("board", "capacity", "sources"):
            raise BoardError(f"{where}:{table}", "unknown table; allowed: [board], [capacity], [sources]")
    board = _table(doc, "board", where)
    for key, value in board.items():
        if key not in _BOARD_KEYS:
            raise BoardError(f"{where}:board.{key}", f"unknown key; allowed: {', '.join(_BOARD_KEYS)}")
        want = _BOARD_KEYS[key]
        ok = (
            isinstance(value, (int, float)) and not isinstance(value, bool)
            if want is float
            else isinstance(value, want)
        )
        if not ok:
            raise BoardError(
                f"{where}:board.{key}", f"expected {'a number' if want is float else 'text'}, not {value!r}"
            )
    for key in sorted(_BOARD_REQUIRED - board.keys()):
        raise BoardError(f"{where}:board.{key}", "missing")
    if board["family"] not in FAMILIES:
        raise BoardError(
            f"{where}:board.family", f"{board['family']!r} is not supported; supported: {', '.join(FAMILIES)}"
        )
    for key in ("title", "package"):
        if not board[key].strip():
            raise BoardError(f"{where}:board.{key}", "is empty")
    check_part(board["family"], board["part"], f"{where}:board.part")
    for key in ("default_clock_mhz", "oscillator_mhz"):
        if key in board and not 0 < board[key] <= 2000:
            raise BoardError(f"{where}:board.{key}", f"{board[key]} MHz is not in (0, 2000]")
    cap = _table(doc, "capacity", where)
    for key, value in cap.items():
        if key not in _CAPACITY_KEYS:
            raise BoardError(f"{where}:capacity.{key}", f"unknown resource; allowed: {', '.join(_CAPACITY_KEYS)}")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BoardError(f"{where}:capacity.{key}", f"expected a count (integer ≥ 0), not {value!r}")
    for key in _CAPACITY_REQUIRED:
        if key not in cap:
            raise BoardError(f"{where}:capacity.{key}", "missing")
    sources = _table(doc, "sources", where) if "sources" in doc else {}
    for key in cap:
        if not isinstance(sources.get(key), str) or not sources[key].strip():
            raise BoardError(f"{where}:sources.{key}", "every capacity figure must cite its datasheet")
    return Board(
        name=path.stem,
        title=board["title"],
        family=board["family"],
        part=board["part"],
        package=board["package"],
        speed_grade=board.get("speed_grade", ""),
        oscillator_mhz=board.get("oscillator_mhz"),
        default_clock_mhz=float(board["default_clock_mhz"]),
        amaranth_platform=board.get("amaranth_platform"),
        capacity=dict(cap),
        sources=dict(sources),
        path=path,
    )


def _table(doc: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    t = doc.get(name)
    if t is None:
        raise BoardError(f"{where}:{name}", "missing table")
    if not isinstance(t, dict):
        raise BoardError(f"{where}:{name}", f"expected a table [{name}], not {t!r}")
    return t
