"""Server-drawn SVG charts for console pages, and the number formats they and the pages share.

Pure: figures in, markup out (escaped). Two shapes:

- ``log_bars``: horizontal bars on a log scale with labelled decade ticks, each bar labelled
  with its figure, and a minimum width, so 36 orders stay visible next to 33,632.
- ``columns``: a column per day (or any label) with a y axis of round ticks and a few x labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape


def thousands(value: float | int | None) -> str:
    """12345 → "12,345"; 1234.5 → "1,234.5"; None → ""."""
    if value is None:
        return ""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def amount(value: str | None) -> str:
    """A decimal money string with thousands separators: "33632.50" → "33,632.50"."""
    if not value:
        return ""
    sign, digits = ("-", value[1:]) if value.startswith("-") else ("", value)
    whole, dot, frac = digits.partition(".")
    return sign + (f"{int(whole):,}" if whole.isdigit() else whole) + dot + frac


def duration(seconds: int | float | None) -> str:
    """Time as an operator reads it: "45 min", "7 h", "3 d 4 h"."""
    if seconds is None:
        return ""
    s = max(0, int(seconds))
    minutes, hours = s // 60, s // 3600
    if hours < 1:
        return f"{minutes} min"
    return f"{hours} h" if hours < 24 else f"{thousands(hours // 24)} d {hours % 24} h"


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its label, figure, where it links to and a data attribute naming it."""

    label: str
    value: int
    href: str = ""
    key: str = ""  # written as data-{attr}="key" on the bar's group


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{escape(text)}</text>'


def log_bars(
    bars: Sequence[Bar], *, title: str, attr: str = "key", width: int = 560, row: int = 22, label_w: int = 150
) -> Markup:
    """Horizontal bars, log scale (decades 1, 10, 100, … labelled on the axis), each with its
    figure after it; a bar of 1 is still ``MIN_W`` wide. Zero bars are left out."""
    shown = [b for b in bars if b.value > 0]
    if not shown:
        return Markup('<p class="muted small">nothing yet</p>')
    decades = max(1, math.ceil(math.log10(max(b.value for b in shown)) + 1e-9))
    value_w, top, axis_h = 64, 4, 26
    plot_w = width - label_w - value_w
    height = top + row * len(shown) + axis_h

    def x(v: float) -> float:
        return label_w + plot_w * (math.log10(v) / decades if v > 1 else 0)

    parts = [
        f'<svg class="c-chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)} (log scale)</title>"
    ]
    for d in range(decades + 1):  # grid lines and tick labels at 1, 10, 100, …
        gx = x(10**d)
        parts.append(f'<line class="c-grid" x1="{gx:.1f}" y1="{top}" x2="{gx:.1f}" y2="{height - axis_h + 4}"/>')
        parts.append(_text(gx, height - 8, thousands(10**d), anchor="middle", cls="c-tick"))
    for i, b in enumerate(shown):
        y = top + i * row
        bar_w = max(MIN_W, x(b.value) - label_w)
        label = escape(b.label)
        link = (
            f'<a href="{escape(b.href)}">{_text(label_w - 6, y + row * 0.68, b.label, anchor="end", cls="c-label")}</a>'
        )
        parts.append(
            f'<g class="c-bar" data-{attr}="{escape(b.key or b.label)}">'
            f"{link if b.href else _text(label_w - 6, y + row * 0.68, b.label, anchor='end', cls='c-label')}"
            f'<rect class="c-fill" x="{label_w}" y="{y + 3}" width="{bar_w:.1f}" height="{row - 6}">'
            f"<title>{label}: {thousands(b.value)}</title></rect>"
            f"{_text(label_w + bar_w + 5, y + row * 0.68, thousands(b.value), cls='n')}</g>"
        )
    parts.append(
        f'<line class="c-axis" x1="{label_w}" y1="{height - axis_h + 4}" x2="{label_w + plot_w}" y2="{height - axis_h + 4}"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


MIN_W = 3  # px: the narrowest a non-zero bar is drawn


def nice_ticks(top: int, count: int = 4) -> list[int]:
    """Round tick values from 0 to at least ``top`` (1, 2 or 5 × a power of ten apart)."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    step = max(1, int(step))
    return list(range(0, math.ceil(top / step) * step + 1, step))


def columns(points: Sequence[tuple[str, int]], *, title: str, width: int = 1100, height: int = 190) -> Markup:
    """A column per point (label, figure) with a labelled y axis (round ticks, thousands
    separators) and about six x labels; each column's tooltip names its label and figure."""
    if not points:
        return Markup('<p class="muted small">nothing yet</p>')
    left, bottom, top = 52, 22, 8
    ticks = nice_ticks(max(n for _, n in points))
    peak = ticks[-1] or 1
    plot_w, plot_h = width - left - 6, height - top - bottom
    slot = plot_w / len(points)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / peak)

    parts = [
        f'<svg class="c-chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    ]
    for t in ticks:
        parts.append(f'<line class="c-grid" x1="{left}" y1="{y(t):.1f}" x2="{width - 6}" y2="{y(t):.1f}"/>')
        parts.append(_text(left - 6, y(t) + 4, thousands(t), anchor="end", cls="c-tick"))
    every = max(1, math.ceil(len(points) / 6))
    for i, (label, n) in enumerate(points):
        cx = left + i * slot
        h = plot_h * n / peak
        parts.append(
            f'<rect class="c-fill" data-label="{escape(label)}" x="{cx + slot * 0.1:.1f}" y="{y(n):.1f}" '
            f'width="{slot * 0.8:.1f}" height="{h:.1f}"><title>{escape(label)}: {thousands(n)}</title></rect>'
        )
        if i % every == 0:
            parts.append(_text(cx + slot / 2, height - 6, label, anchor="middle", cls="c-tick"))
    parts.append(f'<line class="c-axis" x1="{left}" y1="{y(0):.1f}" x2="{width - 6}" y2="{y(0):.1f}"/>')
    parts.append(f'<line class="c-axis" x1="{left}" y1="{top}" x2="{left}" y2="{y(0):.1f}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
