"""Charts drawn on the server as inline SVG: pages that show them need no script, no network and no plugin, so the
same chart works in the review app, in the static report attached to an e-mail, and offline.

Only numbers and escaped text go into the markup (`markupsafe.escape`), so a reason named `<script>` is shown as
those characters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

PALETTE = ["#1b7f5b", "#3355aa", "#c0591b", "#8a5a00", "#6b4aa0", "#a02c2c", "#2b8a9e", "#777777", "#b5477f"]
INK, GRID, MUTED = "#222222", "#e3e3de", "#777777"


@dataclass(frozen=True)
class Line:
    """One series of a line chart: a value per date (None where there is none)."""

    name: str
    points: Sequence[tuple[date, float | None]]
    bold: bool = False


def line_chart(lines: Sequence[Line], title: str, unit: str, width: int = 760, height: int = 280) -> Markup:
    """Lines over dates with a y axis from zero, a date axis and a legend beside the plot."""
    legend_w = 210 if len(lines) > 1 else 0
    left, right, top, bottom = 52, 24 + legend_w, 30, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    days = sorted({d for line in lines for d, v in line.points if v is not None})
    values = [v for line in lines for _, v in line.points if v is not None and math.isfinite(v)]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="18" font-size="14" font-weight="600" fill="{INK}">{escape(title)}</text>',
    ]
    if not days or not values:
        parts.append(f'<text x="{left}" y="{top + 30}" font-size="13" fill="{MUTED}">no data to chart</text></svg>')
        return Markup("".join(parts))
    top_value = _nice(max(values))
    first, last = days[0], days[-1]
    span = max((last - first).days, 1)

    def x(d: date) -> float:
        return left + plot_w * ((d - first).days / span if len(days) > 1 else 0.5)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / top_value)

    for i in range(5):
        tick = top_value * i / 4
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end" fill="{MUTED}">'
            f"{_number(tick)}</text>"
        )
    step = max(1, math.ceil(len(days) / 7))
    for d in days[::step]:
        parts.append(
            f'<text x="{x(d):.1f}" y="{height - bottom + 18}" font-size="11" text-anchor="middle" fill="{MUTED}">'
            f"{d.strftime('%d %b')}</text>"
        )
    parts.append(
        f'<text x="12" y="{top + plot_h / 2:.0f}" font-size="11" fill="{MUTED}" '
        f'transform="rotate(-90 12 {top + plot_h / 2:.0f})" text-anchor="middle">{escape(unit)}</text>'
    )
    for i, line in enumerate(lines):
        colour = INK if line.bold else PALETTE[i % len(PALETTE)]
        stroke = 2.8 if line.bold else 1.6
        for run in _runs(line.points):
            if len(run) == 1:
                d, v = run[0]
                parts.append(f'<circle cx="{x(d):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"/>')
            else:
                path = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in run)
                parts.append(
                    f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="{stroke}" '
                    'stroke-linejoin="round" stroke-linecap="round"/>'
                )
        if legend_w:
            ly = top + 4 + 18 * i
            if ly > height - 10:
                break
            parts.append(
                f'<rect x="{width - legend_w + 4}" y="{ly - 8}" width="12" height="4" fill="{colour}"/>'
                f'<text x="{width - legend_w + 22}" y="{ly - 3}" font-size="12" fill="{INK}">'
                f"{escape(_short(line.name, 28))}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def sparkline(values: Sequence[float], width: int = 110, height: int = 24, colour: str = PALETTE[0]) -> Markup:
    """A small line of weekly counts, last week marked; its label says first, last and most."""
    if not values:
        return Markup("")
    most = max(max(values), 1)
    step = width / max(len(values) - 1, 1)
    points = [(i * step, height - 3 - (height - 6) * v / most) for i, v in enumerate(values)]
    label = f"weekly contacts: {_number(values[0])} first, {_number(values[-1])} last, {_number(max(values))} most"
    path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    last_x, last_y = points[-1]
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{label}" class="spark"><title>{label}</title>'
        f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5" stroke-linejoin="round"/>'
        f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2.2" fill="{colour}"/></svg>'
    )


def _runs(points: Sequence[tuple[date, float | None]]) -> list[list[tuple[date, float]]]:
    """The stretches of a series without gaps (a line is not drawn across a week that has no value)."""
    runs: list[list[tuple[date, float]]] = [[]]
    for d, v in sorted(points, key=lambda p: p[0]):
        if v is None or not math.isfinite(v):
            runs.append([])
        else:
            runs[-1].append((d, v))
    return [r for r in runs if r]


def _nice(value: float) -> float:
    """The round number at or above `value` that the y axis ends on (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3f}".rstrip("0").rstrip(".")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
