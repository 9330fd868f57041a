"""How an audit is shown: a progress line on stderr while it runs, then a table per scenario, or JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TextIO

from consentgate.audit.findings import (
    AuditResult,
    ScenarioResult,
    SeenCookie,
    SeenRequest,
    SeenStorage,
    Violation,
    cookie_suggestion,
)
from consentgate.audit.report_schema import REPORT_FORMAT, REPORT_SCHEMA

__all__ = ["REPORT_SCHEMA", "ProgressDisplay", "render_json", "render_text", "report_dict"]


class ProgressDisplay:
    """Writes what the audit is doing to a stream (stderr); one rewritten line on a terminal."""

    def __init__(self, stream: TextIO, *, enabled: bool = True, label: str = "audit") -> None:
        self.stream = stream
        self.enabled = enabled
        self.label = label
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._width = 0

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            line = message[:120]
            pad = max(0, self._width - len(line))
            self.stream.write("\r" + line + " " * pad)
            self._width = len(line)
        else:
            self.stream.write(f"{self.label}: {message}\n")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled and self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


# -- text -------------------------------------------------------------------------------------


def _expiry(cookie: SeenCookie, now: float) -> str:
    if cookie.expires is None:
        return "session"
    days = (cookie.expires - now) / 86400
    return f"{days:.0f}d" if days >= 1 else f"{max(0.0, days * 24):.0f}h"


def _flags(cookie: SeenCookie) -> str:
    parts = []
    if cookie.http_only:
        parts.append("HttpOnly")
    if cookie.secure:
        parts.append("Secure")
    if cookie.same_site:
        parts.append(cookie.same_site)
    return " ".join(parts)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        out.append("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return out


def _verdicts(result: ScenarioResult) -> dict[tuple[str, str], list[Violation]]:
    found: dict[tuple[str, str], list[Violation]] = {}
    for violation in result.violations:
        kind = violation.kind if violation.kind in ("request", "storage") else "cookie"
        found.setdefault((kind, violation.subject), []).append(violation)
    return found


def _scenario_text(number: int, result: ScenarioResult, order: tuple[str, ...], now: float) -> list[str]:
    scenario = result.scenario
    allowed = ", ".join(c for c in order if c in result.allowed)
    lines = [f"{number}. {scenario.title}  [allowed: {allowed}]"]
    if result.status == "incomplete":
        lines.append(f"  INCOMPLETE: {result.note}")
    if result.pages:
        lines.append(f"  pages: {', '.join(result.pages)}")
    verdicts = _verdicts(result)
    rows = [["what", "name / host", "category", "set by", "expires", "flags", "page", "result"]]
    for cookie in result.cookies:
        if scenario.action != "none" and not cookie.present_after:
            continue
        found = verdicts.get(("cookie", cookie.name), [])
        rows.append(
            [
                "cookie",
                cookie.name,
                cookie.category or "(undeclared)",
                cookie.set_by,
                _expiry(cookie, now),
                _flags(cookie),
                cookie.page,
                " ".join(v.rule for v in found) or "ok",
            ]
        )
    for request in result.requests:
        if scenario.action != "none" and request.count_after == 0:
            continue
        found = verdicts.get(("request", request.host), [])
        rows.append(
            [
                "request",
                f"{request.host} ({request.count_after or request.count}x)",
                request.category or "(undeclared)",
                request.resource_type,
                "",
                "",
                request.page,
                " ".join(v.rule for v in found) or "ok",
            ]
        )
    for item in result.storage:
        if scenario.action != "none" and not item.present_after:
            continue
        found = verdicts.get(("storage", item.name), [])
        rows.append(
            [
                "storage",
                item.name,
                item.category or "(undeclared)",
                item.kind,
                "",
                "",
                item.page,
                " ".join(v.rule for v in found) or "ok",
            ]
        )
    if len(rows) > 1:
        lines.extend(_table(rows))
    elif result.status == "done":
        lines.append("  no cookies and no third-party requests")
    if result.violations:
        lines.append("  violations:")
        for violation in result.violations:
            lines.append(f"    {violation.rule:<9} {violation.message}")
    elif result.status == "done":
        lines.append("  no violations")
    return lines


def render_text(result: AuditResult) -> str:
    """The human report: one table per scenario and a summary line."""
    now = result.finished_at
    policy = result.policy
    lines = [
        f"consentgate audit of {result.url}",
        f"policy {policy.source} (revision {policy.revision}); "
        f"{len(result.scenarios)} scenarios in {result.finished_at - result.started_at:.1f}s",
        "",
    ]
    for number, scenario in enumerate(result.scenarios, 1):
        lines.extend(_scenario_text(number, scenario, policy.category_names, now))
        lines.append("")
    count = len(result.violations)
    incomplete = len(result.incomplete)
    if result.clean:
        lines.append("CLEAN: no violations")
    else:
        parts = []
        if count:
            rules = sorted({v.rule for v in result.violations})
            parts.append(f"{count} violation{'s' if count != 1 else ''} ({', '.join(rules)})")
        if incomplete:
            parts.append(f"{incomplete} scenario{'s' if incomplete != 1 else ''} incomplete")
        lines.append("FAILED: " + "; ".join(parts))
    return "\n".join(lines) + "\n"


# -- JSON -------------------------------------------------------------------------------------


def _time(value: float | None) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _cookie_dict(cookie: SeenCookie) -> dict[str, Any]:
    return {
        "name": cookie.name,
        "domain": cookie.domain,
        "path": cookie.path,
        "http_only": cookie.http_only,
        "secure": cookie.secure,
        "same_site": cookie.same_site,
        "expires": _time(cookie.expires),
        "set_by": cookie.set_by,
        "page": cookie.page,
        "phase": cookie.phase,
        "present_after_action": cookie.present_after,
        "category": cookie.category,
        "suggestion": None if cookie.category is not None else cookie_suggestion(cookie).brief(),
    }


def _request_dict(request: SeenRequest) -> dict[str, Any]:
    return {
        "host": request.host,
        "url": request.url,
        "resource_type": request.resource_type,
        "page": request.page,
        "phase": request.phase,
        "count": request.count,
        "count_after_action": request.count_after,
        "category": request.category,
    }


def _storage_dict(item: SeenStorage) -> dict[str, Any]:
    return {
        "name": item.name,
        "kind": item.kind,
        "page": item.page,
        "phase": item.phase,
        "present_after_action": item.present_after,
        "category": item.category,
    }


def _violation_dict(violation: Violation) -> dict[str, Any]:
    return {
        "rule": violation.rule,
        "kind": violation.kind,
        "subject": violation.subject,
        "category": violation.category,
        "page": violation.page,
        "message": violation.message,
    }


def _package_version() -> str:
    try:
        return version("consentgate")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def report_dict(result: AuditResult) -> dict[str, Any]:
    """The machine-readable report (see :data:`REPORT_SCHEMA`)."""
    policy = result.policy
    return {
        "format": REPORT_FORMAT,
        "tool": f"consentgate {_package_version()}",
        "url": result.url,
        "policy": {"source": policy.source, "revision": policy.revision},
        "started_at": _time(result.started_at),
        "finished_at": _time(result.finished_at),
        "clean": result.clean,
        "violation_count": len(result.violations),
        "scenarios": [
            {
                "key": s.scenario.key,
                "title": s.scenario.title,
                "status": s.status,
                "note": s.note,
                "gpc": s.scenario.gpc,
                "student": s.scenario.student,
                "allowed": [c for c in policy.category_names if c in s.allowed],
                "banner": s.banner,
                "pages": list(s.pages),
                "cookies": [_cookie_dict(c) for c in s.cookies],
                "requests": [_request_dict(r) for r in s.requests],
                "storage": [_storage_dict(item) for item in s.storage],
                "violations": [_violation_dict(v) for v in s.violations],
            }
            for s in result.scenarios
        ],
    }


def render_json(result: AuditResult) -> str:
    return json.dumps(report_dict(result), indent=2, ensure_ascii=False) + "\n"
