"""Load designs from design files: Python (``design``/``designs``/``make_design()``) or TOML.

TOML form::

    [design]
    name = "mac16"          # Verilog identifier
    top = "mac_pe"          # a block from `hwgen blocks`
    board = "arty_a7_100t"  # optional, from `hwgen boards`
    clock_mhz = 150         # optional

    [params]                # the top block's parameters
    lanes = 16
    act = "Int(8)"

Every problem raises :class:`~hwgen.errors.SpecError` naming ``file:key``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tomllib
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .blocks import block_class
from .design import Design
from .errors import BoardError, ConfigError, HwgenError, SpecError
from .schedule import Machine, TaskGraph

_DESIGN_KEYS: dict[str, tuple[type, ...]] = {"name": (str,), "top": (str,), "board": (str,), "clock_mhz": (int, float)}


def load_designs(path: str | Path) -> list[Design]:
    """All designs defined by a ``.py`` or ``.toml`` file."""
    p = Path(path)
    check_file(p, "design")
    if p.suffix == ".toml":
        return [_load_toml(p)]
    if p.suffix == ".py":
        return _load_python(p)
    raise SpecError(str(path), "a design file must end in .py or .toml")


def load_design(path: str | Path) -> Design:
    """The single design of a file (an error if it defines several)."""
    designs = load_designs(path)
    if len(designs) != 1:
        names = ", ".join(d.name for d in designs)
        raise SpecError(str(path), f"defines {len(designs)} designs ({names}); this command takes one")
    return designs[0]


def _load_toml(p: Path) -> Design:
    f = str(p)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f, f"not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise SpecError(f, "not a UTF-8 text file") from None
    except OSError as e:
        raise SpecError(f, f"cannot be read: {e.strerror}") from None
    for key in doc:
        if key not in ("design", "params"):
            raise SpecError(f"{f}:{key}", "unknown table or key; a design file has [design] and [params]")
    design = doc.get("design")
    if not isinstance(design, dict):
        raise SpecError(f"{f}:design", "missing [design] table (name, top, and optional board, clock_mhz)")
    for key, value in design.items():
        if key not in _DESIGN_KEYS:
            raise SpecError(f"{f}:design.{key}", f"unknown key; allowed: {', '.join(_DESIGN_KEYS)}")
        if not isinstance(value, _DESIGN_KEYS[key]) or isinstance(value, bool):
            want = "a number" if key == "clock_mhz" else "text"
            raise SpecError(f"{f}:design.{key}", f"expected {want}, not {value!r}")
    for key in ("name", "top"):
        if key not in design:
            raise SpecError(f"{f}:design.{key}", "missing")
    params = doc.get("params", {})
    if not isinstance(params, dict):
        raise SpecError(f"{f}:params", "must be a table of the top block's parameters")
    try:
        cls = block_class(design["top"], where=f"{f}:design.top")
        config = cls.from_params(params, where=f"{f}:params")
        return Design(name=design["name"], top=config, board=design.get("board"), clock_mhz=design.get("clock_mhz"))
    except SpecError:
        raise
    except BoardError as e:
        if not e.where.startswith("design."):
            raise  # a malformed board file names itself
        raise SpecError(f"{f}:{e.where}", e.detail) from None
    except ConfigError as e:
        where = e.where if e.where.startswith(f) else f"{f}:{e.where}"
        raise SpecError(where, e.detail) from None


def check_file(p: Path, kind: str) -> None:
    """Raise :class:`SpecError` unless ``p`` is a readable regular file (naming what it is instead)."""
    if not p.exists():
        raise SpecError(str(p), f"no such {kind} file")
    if p.is_dir():
        raise SpecError(str(p), f"is a folder, not a {kind} file")
    if not p.is_file():
        raise SpecError(str(p), f"is not a regular file (a device, FIFO or socket); give a {kind} file")
    if not os.access(p, os.R_OK):
        raise SpecError(str(p), "cannot be read: permission denied")


def _exec_python(p: Path, pick: Callable[[Any], Any]) -> Any:
    """Run the user's file ``p`` and return ``pick(module)``; any failure becomes one-line SpecError."""
    f = str(p)
    mod_name = f"_hwgen_design_{abs(hash(str(p.resolve())))}"
    spec = importlib.util.spec_from_file_location(mod_name, p)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
        return pick(module)
    except HwgenError as e:
        if isinstance(e, SpecError):
            raise
        raise SpecError(f"{f}{_user_line(p, e)}", str(e)) from None
    except SystemExit as e:
        raise SpecError(
            f, f"called sys.exit({e.code!r}) while loading; a design or schedule file defines objects, it does not exit"
        ) from None
    except SyntaxError as e:
        if "null bytes" in str(e):
            raise SpecError(f, "is not a Python source file (it contains NUL bytes)") from None
        raise SpecError(f"{f}:{e.lineno}" if e.lineno else f, f"SyntaxError: {e.msg}") from None
    except Exception as e:  # the user's own code failed: say where, in one line
        raise SpecError(f"{f}{_user_line(p, e)}", f"{type(e).__name__}: {_one_line(e)}") from None
    finally:
        sys.modules.pop(mod_name, None)


def _user_line(p: Path, e: BaseException) -> str:
    """``:<line>`` of the last frame of the user's file ``p`` in ``e``'s traceback ('' if none)."""
    frames = [fr for fr in traceback.extract_tb(e.__traceback__) if fr.filename == str(p)]
    return f":{frames[-1].lineno}" if frames else ""


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 300 else text[:300] + " ..."


def _load_python(p: Path) -> list[Design]:
    f = str(p)

    def pick(module: Any) -> Any:
        if hasattr(module, "make_design"):
            return module.make_design()
        if hasattr(module, "designs"):
            return module.designs
        if hasattr(module, "design"):
            return module.design
        raise SpecError(f, "defines none of `design`, `designs` or `make_design()`")

    found = _exec_python(p, pick)
    designs = list(found) if isinstance(found, (list, tuple)) else [found]
    if not designs or not all(isinstance(d, Design) for d in designs):
        raise SpecError(f, "`design`/`designs`/`make_design()` must give hwgen.Design objects")
    names = [d.name for d in designs]
    if len(set(names)) != len(names):
        raise SpecError(f, f"two designs share a name: {names}")
    return designs


def load_schedule(path: str | Path) -> tuple[TaskGraph, Machine, dict | None]:
    """A schedule file: a ``.py`` defining ``graph`` (a :class:`hwgen.schedule.TaskGraph`), ``machine``
    (a :class:`hwgen.schedule.Machine`) and optionally ``inputs`` (input name -> array) for simulation.
    Returns ``(graph, machine, inputs or None)``."""
    p = Path(path)
    check_file(p, "schedule")
    if p.suffix != ".py":
        raise SpecError(str(path), "a schedule file is a .py defining `graph` and `machine`")

    def pick(module: Any) -> Any:
        graph, machine = getattr(module, "graph", None), getattr(module, "machine", None)
        if not isinstance(graph, TaskGraph) or not isinstance(machine, Machine):
            raise SpecError(str(p), "must define `graph` (a TaskGraph) and `machine` (a Machine)")
        inputs = getattr(module, "inputs", None)
        if inputs is not None and not isinstance(inputs, dict):
            raise SpecError(str(p), "`inputs` must map input names to arrays")
        graph.validate()
        return graph, machine, inputs

    return _exec_python(p, pick)
