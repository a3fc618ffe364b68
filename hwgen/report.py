"""Reports rendered from a design's manifest through the jinja2 templates in ``templates/``.

``report.md.j2`` (Markdown) and ``report.html.j2`` (one self-contained HTML
page, inline CSS and SVG) show the parameters, the ports, timing, resources
(analytic estimate vs synthesis when a synthesis result is given, with the
error), utilization of the board with fit / no-fit, Fmax and the critical
path when place and route ran, and a resource-breakdown chart.
"""

from __future__ import annotations

from typing import Any

from .boards import load_board
from .render import environment
from .svg import bar_chart

RESOURCES = ("lut", "ff", "dsp", "bram", "carry")


def utilization(resources: dict[str, float], board_name: str | None) -> list[dict[str, Any]]:
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


def comparison(analytic: dict[str, float] | None, synth: dict[str, float] | None) -> list[dict[str, Any]]:
    """Analytic vs synthesized per resource with the relative error (analytic - synth) / synth; ``analytic``
    None (a block that is not estimated) gives None entries."""
    rows = []
    for key in RESOURCES:
        a = None if analytic is None else analytic.get(key, 0)
        s = None if synth is None else synth.get(key, 0)
        err = None if s is None or a is None else (0.0 if a == s else ((a - s) / s * 100 if s else float("inf")))
        rows.append({"resource": key.upper(), "analytic": a, "synth": s, "error_pct": err})
    return rows


def context(manifest: dict[str, Any], synth: Any = None, pnr: Any = None) -> dict[str, Any]:
    """Everything the report templates use."""
    used = synth.resources if synth is not None else manifest["estimate"]["analytic"]
    util = utilization(used, manifest.get("board")) if used is not None else []
    board = load_board(manifest["board"]) if manifest.get("board") else None
    clock = manifest["clock_mhz"]
    est_clock = min(clock, pnr.fmax_mhz) if pnr is not None else clock
    t = manifest["timing"]
    breakdown = manifest["estimate"]["breakdown"]
    chart = bar_chart(breakdown, ["lut", "ff", "dsp"], "analytic resources per sub-block") if breakdown else ""
    return {
        "m": manifest,
        "util": util,
        "fits": all(r["fits"] for r in util) if util else None,
        "board": board,
        "synth": synth,
        "pnr": pnr,
        "compare": comparison(manifest["estimate"]["analytic"], synth.resources if synth else None),
        "est_clock": est_clock,
        "est_gops": t["ops_per_cycle"] * est_clock * 1e6 / 1e9,
        "chart": chart,
        "util_source": "synthesis" if synth is not None else "analytic estimate",
    }


def render(template: str, manifest: dict[str, Any], synth: Any = None, pnr: Any = None) -> str:
    """Render ``template`` (``report.md.j2`` or ``report.html.j2``) for one design."""
    return environment().get_template(template).render(**context(manifest, synth, pnr))
