"""Small server-rendered SVG charts for the privacy-team dashboard.

No script, no external resources: each chart is one inline ``<svg role="img">`` with a ``<title>``
and a ``<desc>`` that say what it shows, followed by the same numbers as an HTML table (inside a
``<details>`` element) for screen readers, keyboard users and anyone who wants the exact values.
Every piece of text is escaped here, so labels taken from a policy file cannot inject markup.

Colours come from CSS classes (``cg-bar``, ``cg-track``, ``cg-grid``, ``cg-text``) so the page's
stylesheet decides them (light and dark); the SVG itself carries only geometry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Bar", "PercentRow", "bar_chart", "data_table", "percent_bars"]

_FONT = 12
_LABEL_CHARS = 24


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a vertical bar chart (e.g. one day)."""

    label: str
    value: int
    tick: str | None = None
    """Shorter text under the bar (``None``: the label's last five characters, e.g. ``01-31``)."""


@dataclass(frozen=True, slots=True)
class PercentRow:
    """One horizontal bar: ``part`` of ``whole`` (``whole == 0`` means "no data")."""

    label: str
    part: int
    whole: int

    @property
    def rate(self) -> float | None:
        return None if self.whole <= 0 else self.part / self.whole

    def percent_text(self) -> str:
        rate = self.rate
        return "no data" if rate is None else f"{rate * 100:.0f}%"

    def detail_text(self) -> str:
        return f"{self.percent_text()} ({self.part} of {self.whole})" if self.whole > 0 else "no data"


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (at least 1)."""
    if value <= 1:
        return 1
    magnitude = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def _short(text: str, limit: int = _LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _open_svg(chart_id: str, width: int, height: int, title: str, description: str) -> list[str]:
    return [
        f'<svg class="cg-chart" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
    ]


def bar_chart(
    bars: Sequence[Bar],
    *,
    chart_id: str,
    title: str,
    description: str,
    unit: str = "decisions",
    width: int = 720,
    height: int = 240,
) -> Markup:
    """A vertical bar chart (one bar per entry, e.g. per day) with a y axis and gridlines."""
    left, right, top, bottom = 44, 8, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_ceiling(max((b.value for b in bars), default=0))
    parts = _open_svg(chart_id, width, height, title, description)
    # Four gridlines with their values on the y axis.
    for i in range(5):
        value = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        text = f"{value:g}"
        parts.append(f'<line class="cg-grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="cg-text" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="{_FONT}">{escape(text)}</text>'
        )
    if bars:
        slot = plot_w / len(bars)
        bar_w = max(1.0, slot * 0.7)
        tick_every = max(1, math.ceil(len(bars) / 10))
        for index, bar in enumerate(bars):
            x = left + slot * index + (slot - bar_w) / 2
            h = plot_h * bar.value / peak
            y = top + plot_h - h
            parts.append(
                f'<rect class="cg-bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
                f"<title>{escape(bar.label)}: {bar.value} {escape(unit)}</title></rect>"
            )
            # Ticks count from the newest bar so the most recent day is always labelled.
            if (len(bars) - 1 - index) % tick_every == 0:
                tick = bar.tick if bar.tick is not None else bar.label[-5:]
                parts.append(
                    f'<text class="cg-text" x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" '
                    f'text-anchor="middle" font-size="{_FONT - 1}">{escape(tick)}</text>'
                )
    if not any(bar.value for bar in bars):
        parts.append(
            f'<text class="cg-text" x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" '
            f'text-anchor="middle" font-size="{_FONT + 2}">No {escape(unit)} in this period</text>'
        )
    parts.append(
        f'<line class="cg-axis" x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()


def percent_bars(
    rows: Sequence[PercentRow],
    *,
    chart_id: str,
    title: str,
    description: str,
    width: int = 720,
    row_height: int = 30,
) -> Markup:
    """Horizontal bars from 0 to 100 %, one per row, with the percentage and counts beside each."""
    label_w, value_w, pad = 190, 150, 8
    track_w = width - label_w - value_w - 2 * pad
    height = max(row_height, row_height * len(rows)) + 4
    parts = _open_svg(chart_id, width, height, title, description)
    for index, row in enumerate(rows):
        y = 2 + index * row_height
        bar_h = row_height - 12
        text_y = y + row_height / 2 + 4
        parts.append(
            f'<text class="cg-text" x="{label_w - pad}" y="{text_y:.1f}" text-anchor="end" '
            f'font-size="{_FONT}">{escape(_short(row.label))}</text>'
        )
        parts.append(f'<rect class="cg-track" x="{label_w}" y="{y + 6}" width="{track_w}" height="{bar_h}"/>')
        rate = row.rate
        if rate is not None and rate > 0:
            parts.append(
                f'<rect class="cg-bar" x="{label_w}" y="{y + 6}" width="{track_w * rate:.1f}" '
                f'height="{bar_h}"><title>{escape(row.label)}: {escape(row.detail_text())}</title></rect>'
            )
        parts.append(
            f'<text class="cg-text" x="{label_w + track_w + pad}" y="{text_y:.1f}" '
            f'font-size="{_FONT}">{escape(row.detail_text())}</text>'
        )
    if not rows:
        parts.append(
            f'<text class="cg-text" x="{width / 2:.1f}" y="{row_height / 2 + 4:.1f}" '
            f'text-anchor="middle" font-size="{_FONT}">No data</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()


def data_table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> Markup:
    """The numbers behind a chart as an accessible HTML table (header cells scoped to columns)."""
    parts = ['<table class="cg-table">', f"<caption>{escape(caption)}</caption>", "<thead><tr>"]
    parts += [f'<th scope="col">{escape(h)}</th>' for h in headers]
    parts.append("</tr></thead><tbody>")
    for row in rows:
        cells = [f'<th scope="row">{escape(str(row[0]))}</th>'] if row else []
        cells += [f"<td>{escape(str(value))}</td>" for value in row[1:]]
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()
