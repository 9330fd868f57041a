"""The dashboard page: its stylesheet and security headers, the category views, and the
template context with the charts and data tables drawn from the store's statistics."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup

from consentgate.dashboard.charts import Bar, PercentRow, bar_chart, data_table, percent_bars
from consentgate.enforce.policy import Category, Policy
from consentgate.i18n.catalogs import Localizer
from consentgate.log.stores.results import StoreStats

__all__ = ["SECURITY_HEADERS", "STYLE_MARKUP", "CategoryView", "category_view", "page_context"]

# Kept here rather than in a static file so the dashboard needs no static route: the CSP
# allows exactly this stylesheet by its hash.
_STYLE = """
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1b1b1b; --muted: #4a4a4a; --line: #c8ccd2;
  --bar: #1f5fa8; --track: #e6e9ee; --panel: #f5f6f8; --bad: #8a1c1c; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #121417; --fg: #eceff3; --muted: #b9c0ca; --line: #3a4048; --bar: #7fb0ff;
    --track: #2a2f36; --panel: #1b1f24; --bad: #ffb4b4; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header, main, footer { max-width: 72rem; margin-inline: auto; padding-inline: 1.25rem; }
header { padding-block: 1.25rem 0.5rem; border-block-end: 1px solid var(--line); }
h1 { margin: 0; font-size: 1.6rem; }
h2 { margin-block: 2rem 0.5rem; font-size: 1.25rem; }
h3 { margin-block: 1.25rem 0.25rem; font-size: 1.05rem; }
p, dd { color: var(--fg); }
.muted { color: var(--muted); }
.error { color: var(--bad); font-weight: 600; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr)); gap: 0.75rem;
  margin: 1rem 0; padding: 0; }
.cards div { background: var(--panel); border: 1px solid var(--line); border-radius: 0.5rem;
  padding: 0.75rem 1rem; }
.cards dt { color: var(--muted); font-size: 0.9rem; }
.cards dd { margin: 0; font-size: 1.5rem; font-weight: 650; }
figure { margin: 0.5rem 0 1.5rem; }
figcaption { color: var(--muted); font-size: 0.95rem; }
.cg-chart { display: block; max-width: 100%; height: auto; }
.cg-bar { fill: var(--bar); }
.cg-track { fill: var(--track); }
.cg-grid { stroke: var(--line); stroke-width: 1; }
.cg-axis { stroke: var(--muted); stroke-width: 1; }
.cg-text { fill: var(--fg); font-family: inherit; }
details { margin-block: 0.5rem; }
summary { cursor: pointer; color: var(--fg); }
table { border-collapse: collapse; margin-block: 0.5rem 1rem; width: 100%; }
caption { text-align: start; font-weight: 600; padding-block: 0.25rem; }
th, td { text-align: start; vertical-align: top; padding: 0.35rem 0.6rem;
  border-block-end: 1px solid var(--line); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.92em;
  overflow-wrap: anywhere; }
ul.plain { margin: 0; padding-inline-start: 1.1rem; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--panel); padding: 0.75rem;
  border: 1px solid var(--line); border-radius: 0.25rem; margin: 0.25rem 0 0; }
form { margin-block: 1rem; }
label { display: block; margin-block-end: 0.25rem; }
input[type=password] { font: inherit; padding: 0.4rem; min-width: 20rem; max-width: 100%;
  color: var(--fg); background: var(--bg); border: 1px solid var(--muted); border-radius: 0.25rem; }
button { font: inherit; padding: 0.4rem 0.9rem; color: #ffffff; background: #1f5fa8; border: 0;
  border-radius: 0.25rem; cursor: pointer; }
:focus-visible { outline: 3px solid var(--bar); outline-offset: 2px; }
footer { padding-block: 1.5rem; color: var(--muted); font-size: 0.9rem; }
"""


def _sha256_b64(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


STYLE_MARKUP = Markup(_STYLE)  # noqa: S704 - a constant of this module, no outside input
_CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{_sha256_b64(_STYLE)}'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
).encode()
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", _CSP),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


@dataclass(frozen=True, slots=True)
class CategoryView:
    name: str
    label: str
    description: str
    required: bool
    cookies: tuple[str, ...]
    hosts: tuple[str, ...]
    services: tuple[str, ...]


def category_view(category: Category, localizer: Localizer, language: str) -> CategoryView:
    cookies = []
    for rule in category.cookies:
        where = []
        if rule.path != "/":
            where.append(f"path {rule.path}")
        if rule.domain:
            where.append(f"domain {rule.domain}")
        cookies.append(rule.pattern + (f" ({', '.join(where)})" if where else ""))
    return CategoryView(
        name=category.name,
        label=localizer.label(category, language),
        description=localizer.description(category, language),
        required=category.required,
        cookies=tuple(cookies),
        hosts=category.hosts,
        services=category.services,
    )


def page_context(
    *,
    title: str,
    store: str,
    days: int,
    policy: Policy,
    categories: Sequence[CategoryView],
    stats: StoreStats | None,
    error: str | None,
    now: datetime,
) -> dict[str, Any]:
    """What the dashboard template shows: the policy in force and, when the store answered, the
    figures as charts with their data tables."""
    context: dict[str, Any] = {
        "mode": "dashboard",
        "title": title,
        "style": STYLE_MARKUP,
        "error": error,
        "generated": now.strftime("%Y-%m-%d %H:%M UTC"),
        "store": store,
        "days": days,
        "policy": policy,
        "categories": categories,
        "gpc_denies": sorted(policy.gpc_denies),
        "student_deny": sorted(policy.student_deny),
        "tenants": sorted((t.tenant, sorted(t.student_deny)) for t in policy.tenants.values()),
        "retention": policy.retention,
        "visits": policy.visits,
    }
    if stats is None:
        return context
    optional = [c for c in categories if not c.required]
    first_day = (now - timedelta(days=days - 1)).date()
    by_day = {d.day: d for d in stats.days}
    day_bars = []
    day_rows = []
    for offset in range(days):
        day = (first_day + timedelta(days=offset)).isoformat()
        found = by_day.get(day)
        count = found.decisions if found else 0
        day_bars.append(Bar(day, count))
        if found is not None:
            day_rows.append((day, found.decisions, found.gpc, found.students))
    rate_rows = []
    for category in optional:
        counts = stats.categories.get(category.name)
        granted = counts.granted if counts else 0
        total = counts.decisions if counts else 0
        rate_rows.append(PercentRow(category.label, granted, total))
    decisions = stats.decisions
    share_rows = [
        PercentRow("Global Privacy Control", stats.gpc_decisions, decisions),
        PercentRow("Student sessions", stats.student_decisions, decisions),
    ]
    period = f"the last {days} days"
    context.update(
        stats=stats,
        decisions=decisions,
        gpc_share=share_rows[0].percent_text(),
        student_share=share_rows[1].percent_text(),
        day_chart=bar_chart(
            day_bars,
            chart_id="chart-days",
            title=f"Consent decisions per day, {period}",
            description=f"{decisions} decisions in {period}; busiest day: "
            + (max(day_bars, key=lambda b: b.value).label if decisions else "none")
            + ".",
        ),
        day_table=data_table(
            f"Decisions per day, {period} (days without decisions left out)",
            ["Day", "Decisions", "with GPC", "in student sessions"],
            day_rows,
        ),
        rate_chart=percent_bars(
            rate_rows,
            chart_id="chart-optin",
            title=f"Opt-in rate per category, {period}",
            description="; ".join(f"{r.label}: {r.detail_text()}" for r in rate_rows) or "No categories",
        ),
        rate_table=data_table(
            f"Opt-in per category, {period}",
            ["Category", "Granted", "Refused", "Opt-in rate"],
            [(r.label, r.part, r.whole - r.part, r.percent_text()) for r in rate_rows],
        ),
        share_chart=percent_bars(
            share_rows,
            chart_id="chart-shares",
            title=f"Share of decisions with GPC and in student sessions, {period}",
            description="; ".join(f"{r.label}: {r.detail_text()}" for r in share_rows),
        ),
        share_table=data_table(
            f"GPC and student decisions, {period}",
            ["Signal", "Decisions", "of all decisions", "Share"],
            [(r.label, r.part, r.whole, r.percent_text()) for r in share_rows],
        ),
    )
    return context


# -- responses -------------------------------------------------------------------------
