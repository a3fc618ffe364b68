"""Reports rendered from a design's manifest through the jinja2 templates in ``templates/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from .boards import load_board


def template_dirs() -> list[Path]:
    here = Path(__file__).resolve().parent
    return [d for d in (here.parent / "templates", here / "_data" / "templates") if d.is_dir()]


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(d) for d in template_dirs()]),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=jinja2.select_autoescape(["html"]))
    env.filters["thousands"] = lambda n: f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"
    return env


def utilization(resources: dict[str, int], board_name: str | None) -> list[dict[str, Any]]:
    """Rows of (resource, used, available, percent, fits) against the board's capacity."""
    if not board_name:
        return []
    board = load_board(board_name)
    rows = []
    for key in ("lut", "ff", "dsp", "bram"):
        cap = board.capacity.get(key, 0)
        used = resources.get(key, 0)
        pct = 100.0 * used / cap if cap else (0.0 if used == 0 else float("inf"))
        rows.append({"resource": key.upper(), "used": used, "available": cap, "percent": pct, "fits": used <= cap})
    return rows


def render(template: str, manifest: dict[str, Any], **extra: Any) -> str:
    """Render ``template`` (e.g. ``report.md.j2``) for one design's manifest."""
    util = utilization(manifest["estimate"]["analytic"], manifest.get("board"))
    board = load_board(manifest["board"]) if manifest.get("board") else None
    return environment().get_template(template).render(
        m=manifest, util=util, fits=all(r["fits"] for r in util), board=board, **extra)
