"""Bar charts as inline SVG for the morning report: pure functions from numbers to markup.

Hand-built rather than drawn by a plotting library: the report needs three kinds of bar chart,
and SVG written here stays a few kilobytes each, keeps its text as text (selectable, in the
page's own font, legible at any zoom), scales with the page through its viewBox, and adds no
dependency. Every bar carries a ``<title>`` (a tooltip) with its exact value; the numbers are
also in the HTML table the report puts under each chart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 760
HEIGHT = 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 28, 10, 28
_MAX_SLOT = 44  # a bar's slot at most: one or two bars stay bars, not walls
_MAX_X_LABELS = 8


@dataclass(frozen=True)
class Series:
    """One named row of values, drawn in one colour (stacked on the series before it)."""

    name: str
    values: Sequence[float]
    color: str


def count_text(value: float) -> str:
    """A count as axis text: 1200 → 1.2k."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def duration_text(seconds: float) -> str:
    """Seconds as the largest whole unit that reads well: 90 → 1.5m, 7200 → 2h, 172800 → 2d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds:.3g}s"


# Steps for a duration axis, so that ticks fall on whole minutes, hours and days.
_DURATION_STEPS = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
    86400, 172800, 432000, 604800, 1209600, 2592000,
)  # fmt: skip


def ticks(top: float, *, durations: bool = False, most: int = 5) -> list[float]:
    """Tick values from 0 to at least ``top``: 1, 2 or 5 times a power of ten (for durations,
    whole seconds, minutes, hours or days), at most ``most`` steps."""
    if top <= 0:
        return [0.0, 1.0]
    if durations and 1 <= top <= _DURATION_STEPS[-1] * most:
        step = next(s for s in _DURATION_STEPS if top / s <= most)
    else:
        magnitude = 10 ** math.floor(math.log10(top / most))
        step = next(m * magnitude for m in (1, 2, 5, 10) if top / (m * magnitude) <= most)
    count = math.ceil(top / step - 1e-9)
    return [i * step for i in range(count + 1)]


def fills_width(bars: int) -> bool:
    """Whether ``bars`` bars fill a bar chart's width (fewer keep their slot's most, and leave
    the right of the chart empty)."""
    return bars * _MAX_SLOT >= WIDTH - _LEFT - _RIGHT


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    tooltips: Sequence[str] | None = None,
    axis_labels: Sequence[str] | None = None,
    durations: bool = False,
) -> Markup:
    """Vertical bars, one per label, the series stacked bottom-up in the order given.

    ``tooltips`` names each bar in full (its label by default); ``axis_labels`` is the shorter
    text under the axis, of which at most eight are shown. ``durations`` makes the values
    seconds: the axis then reads 30m, 1h, 2d.
    """
    n = len(labels)
    totals = [sum(s.values[i] for s in series) for i in range(n)]
    scale = ticks(max(totals, default=0), durations=durations)
    top = scale[-1]
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    slot = min(plot_w / max(n, 1), _MAX_SLOT)
    bar = slot * (0.9 if n > 40 else 0.75)
    fmt = duration_text if durations else count_text
    parts = [_open(title)]
    parts += _y_axis(scale, top, plot_h, fmt, _LEFT + max(n, 1) * slot)
    tooltips = tooltips or labels
    for i in range(n):
        x = _LEFT + i * slot + (slot - bar) / 2
        base = 0.0
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            y0 = _TOP + plot_h * (1 - base / top)
            y1 = _TOP + plot_h * (1 - (base + value) / top)
            shown = duration_text(value) if durations else f"{value:g}"
            parts.append(
                f'<rect class="bar" x="{x:.2f}" y="{y1:.2f}" width="{bar:.2f}" '
                f'height="{max(y0 - y1, 0.5):.2f}" fill="{escape(s.color)}">'
                f"<title>{escape(tooltips[i])}: {escape(s.name)} {escape(shown)}</title></rect>"
            )
            base += value
    parts += _x_axis(axis_labels or labels, slot, plot_h)
    parts.append("</svg>")
    return Markup("\n".join(parts))


def hbar_chart(
    labels: Sequence[str], values: Sequence[float], *, title: str, color: str, unit: str = ""
) -> Markup:
    """Horizontal bars, one per label (top to bottom as given), each with its value at its
    end; long labels are shortened on the chart and given whole in the tooltip."""
    row = 22
    left = 230
    height = _TOP + row * len(labels) + 24
    scale = ticks(max(values, default=0))
    top = scale[-1]
    plot_w = WIDTH - left - 48
    parts = [_open(title, height)]
    for tick in scale:
        x = left + plot_w * tick / top
        parts.append(
            f'<line class="grid" x1="{x:.2f}" x2="{x:.2f}" y1="{_TOP}" '
            f'y2="{height - 20}"></line>'
            f'<text class="tick" x="{x:.2f}" y="{height - 6}" text-anchor="middle">'
            f"{escape(count_text(tick))}</text>"
        )
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = _TOP + i * row
        width = max(plot_w * value / top, 0.5)
        short = label if len(label) <= 30 else label[:29] + "…"
        parts.append(
            f'<text class="label" x="{left - 6}" y="{y + row / 2 + 4:.2f}" '
            f'text-anchor="end">{escape(short)}</text>'
            f'<rect class="bar" x="{left}" y="{y + 4}" width="{width:.2f}" height="{row - 8}" '
            f'fill="{escape(color)}"><title>{escape(label)}: {value:g} {escape(unit)}</title>'
            f"</rect>"
            f'<text class="value" x="{left + width + 4:.2f}" y="{y + row / 2 + 4:.2f}">'
            f"{value:g}</text>"
        )
    parts.append("</svg>")
    return Markup("\n".join(parts))


def _open(title: str, height: int = HEIGHT) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    )


def _y_axis(
    scale: Sequence[float], top: float, plot_h: float, fmt: Callable, right: float
) -> list[str]:
    parts = []
    for tick in scale:
        y = _TOP + plot_h * (1 - tick / top)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{right:.2f}" y1="{y:.2f}" y2="{y:.2f}">'
            f'</line><text class="tick" x="{_LEFT - 6}" y="{y + 4:.2f}" text-anchor="end">'
            f"{escape(fmt(tick))}</text>"
        )
    return parts


def _x_axis(labels: Sequence[str], slot: float, plot_h: float) -> list[str]:
    n = len(labels)
    every = max(1, math.ceil(n / _MAX_X_LABELS))
    baseline = _TOP + plot_h
    parts = [
        f'<line class="axis" x1="{_LEFT}" x2="{_LEFT + max(n, 1) * slot:.2f}" y1="{baseline}" '
        f'y2="{baseline}"></line>'
    ]
    # Count back from the last bar, so that the newest (the one people look for) is labelled.
    for i in range(n - 1, -1, -every):
        x = _LEFT + (i + 0.5) * slot
        parts.append(
            f'<text class="tick" x="{x:.2f}" y="{baseline + 18}" text-anchor="middle">'
            f"{escape(labels[i])}</text>"
        )
    return parts
