"""Small self-contained SVG charts for reports (no plotting dependency).

:func:`bar_chart`: grouped horizontal bars (e.g. resources per sub-block).
:func:`scatter_loglog`: predicted vs measured points with the y = x line and
±10 % bands (estimator accuracy).
"""

from __future__ import annotations

import math
from html import escape

PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"]


def bar_chart(rows: dict[str, dict[str, float]], series: list[str], title: str, width: int = 640) -> str:
    """Horizontal bars: one group per row label, one bar per series, each series scaled to its own maximum."""
    labels = list(rows)
    bar_h, gap, left, top = 12, 10, 150, 34
    height = top + len(labels) * (len(series) * bar_h + gap) + 30
    peak = {s: max([rows[l].get(s, 0) for l in labels] + [1e-9]) for s in series}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        f'font-size="11"><text x="{width / 2}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>'
    ]
    for k, s in enumerate(series):
        out.append(
            f'<rect x="{left + k * 90}" y="22" width="10" height="8" fill="{PALETTE[k % 8]}"/>'
            f'<text x="{left + k * 90 + 14}" y="30">{escape(s.upper())} (max {peak[s]:,.0f})</text>'
        )
    y = top + 6
    for label in labels:
        out.append(
            f'<text x="{left - 6}" y="{y + len(series) * bar_h / 2 + 4}" text-anchor="end">{escape(label)}</text>'
        )
        for k, s in enumerate(series):
            v = rows[label].get(s, 0)
            w = (width - left - 70) * v / peak[s]
            out.append(
                f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{PALETTE[k % 8]}"/>'
                f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 3}">{v:,.0f}</text>'
            )
            y += bar_h
        y += gap
    out.append("</svg>")
    return "".join(out)


def scatter_loglog(
    points: dict[str, list[tuple[float, float]]], title: str, xlabel: str, ylabel: str, size: int = 420
) -> str:
    """Log-log scatter of (measured, predicted) per series, with y = x and ±10 % lines."""
    vals = [v for pts in points.values() for p in pts for v in p if v > 0]
    if not vals:
        return ""
    lo, hi = math.log10(min(vals) * 0.8), math.log10(max(vals) * 1.25)
    pad = 48

    def scale(v: float) -> float:
        return pad + (math.log10(max(v, 10**lo)) - lo) / (hi - lo) * (size - 2 * pad)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size + 120}" height="{size}" font-family="sans-serif" '
        f'font-size="11"><text x="{size / 2}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>',
        f'<rect x="{pad}" y="{pad}" width="{size - 2 * pad}" height="{size - 2 * pad}" fill="none" stroke="#999"/>',
    ]
    for f, dash in ((1.0, ""), (1.1, ' stroke-dasharray="4 3"'), (1 / 1.1, ' stroke-dasharray="4 3"')):
        x0, x1 = 10**lo, 10**hi
        out.append(
            f'<line x1="{scale(x0):.1f}" y1="{size - scale(x0 * f):.1f}" x2="{scale(x1 / f if f > 1 else x1):.1f}" '
            f'y2="{size - scale((x1 / f if f > 1 else x1) * f):.1f}" stroke="#bbb"{dash}/>'
        )
    for d in range(math.ceil(lo), math.floor(hi) + 1):
        p = scale(10**d)
        out.append(
            f'<text x="{p:.1f}" y="{size - pad + 14}" text-anchor="middle">1e{d}</text>'
            f'<text x="{pad - 4}" y="{size - p + 4:.1f}" text-anchor="end">1e{d}</text>'
        )
    for k, (name, pts) in enumerate(points.items()):
        color = PALETTE[k % 8]
        for x, y in pts:
            out.append(
                f'<circle cx="{scale(x):.1f}" cy="{size - scale(y):.1f}" r="2.5" fill="{color}" fill-opacity="0.7"/>'
            )
        out.append(
            f'<rect x="{size - 30}" y="{pad + k * 16}" width="9" height="9" fill="{color}"/>'
            f'<text x="{size - 16}" y="{pad + k * 16 + 9}">{escape(name)}</text>'
        )
    out.append(
        f'<text x="{size / 2}" y="{size - 8}" text-anchor="middle">{escape(xlabel)}</text>'
        f'<text x="12" y="{size / 2}" transform="rotate(-90 12 {size / 2})" text-anchor="middle">'
        f"{escape(ylabel)}</text></svg>"
    )
    return "".join(out)
