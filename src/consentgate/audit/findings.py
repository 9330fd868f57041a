"""What an audit saw (cookies, requests) and what it concludes: each observation classified by the
policy, and the violations with the requirement each one breaks. Plain functions of the
observations, checkable without a browser."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from consentgate.cookies.suggestions import Suggestion, suggest
from consentgate.enforce.consent_cookie import CONSENT_COOKIE_NAMES
from consentgate.enforce.policy import ESSENTIAL, MARKETING, MAX_CONSENT_DAYS, Policy

if TYPE_CHECKING:
    pass

from consentgate.audit.scenarios import Scenario

__all__ = [
    "CONSENT_COOKIE_NAMES",
    "AuditResult",
    "Phase",
    "ScenarioResult",
    "SeenCookie",
    "SeenRequest",
    "SeenStorage",
    "SetBy",
    "Status",
    "StorageKind",
    "Violation",
    "category_of_host",
    "classify_cookie",
    "cookie_suggestion",
    "hint",
    "judge",
]

#: Slack allowed on the consent cookie's lifetime (clock differences between server and browser).
_LIFETIME_SLACK = 120.0


Phase = Literal["before", "after"]
SetBy = Literal["server", "script"]
StorageKind = Literal["localStorage", "sessionStorage", "indexedDB"]
Status = Literal["done", "incomplete"]


@dataclass(slots=True)
class SeenCookie:
    """A cookie found in the browser's jar during one scenario."""

    name: str
    domain: str
    path: str
    http_only: bool
    secure: bool
    same_site: str
    expires: float | None  # unix time; None for a session cookie
    set_by: SetBy
    page: str  # the page on which it was first seen
    phase: Phase  # first seen before or after the scenario's action
    category: str | None
    present_after: bool = False  # still in the jar after the action
    first_expires: float | None = None  # expiry when first seen after the action (R-CON-7)


@dataclass(slots=True)
class SeenRequest:
    """Requests to one other host during one scenario."""

    host: str
    url: str  # the first one seen
    resource_type: str
    page: str
    phase: Phase
    category: str | None
    count: int = 1
    count_after: int = 0


@dataclass(slots=True)
class SeenStorage:
    """A web-storage key or IndexedDB database found on the site's origin during one scenario."""

    name: str
    kind: StorageKind
    page: str  # the page after which it was first seen
    phase: Phase
    category: str | None
    present_after: bool = False  # still there after the action


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: ``rule`` is a requirement ID such as ``R-CON-1``."""

    rule: str
    kind: Literal["cookie", "request", "banner", "consent-cookie", "storage"]
    subject: str
    category: str | None
    page: str | None
    message: str


@dataclass(slots=True)
class ScenarioResult:
    scenario: Scenario
    allowed: frozenset[str]
    status: Status = "done"
    note: str | None = None
    pages: list[str] = field(default_factory=list)
    cookies: list[SeenCookie] = field(default_factory=list)
    requests: list[SeenRequest] = field(default_factory=list)
    storage: list[SeenStorage] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    banner: str | None = None  # "consentgate", "other" or None (not looked for / not found)


@dataclass(slots=True)
class AuditResult:
    url: str
    policy: Policy
    scenarios: list[ScenarioResult]
    started_at: float
    finished_at: float

    @property
    def violations(self) -> list[Violation]:
        return [v for s in self.scenarios for v in s.violations]

    @property
    def incomplete(self) -> list[ScenarioResult]:
        return [s for s in self.scenarios if s.status == "incomplete"]

    @property
    def clean(self) -> bool:
        return not self.violations and not self.incomplete


# -- classification ---------------------------------------------------------------------------


def classify_cookie(policy: Policy, name: str) -> str | None:
    """The category of a cookie name; consentgate's own consent cookie is essential."""
    if name in CONSENT_COOKIE_NAMES:
        return ESSENTIAL
    return policy.category_of_cookie(name)


def category_of_host(policy: Policy, host: str) -> str | None:
    """The category whose ``hosts`` name this host (exact beats ``*.`` glob, longer glob wins)."""
    host = host.lower().rstrip(".")
    best: tuple[int, str] | None = None
    for category in policy.categories:
        for pattern in category.hosts:
            if pattern == host:
                return category.name
            if pattern.startswith("*."):
                suffix = pattern[1:]
                if host.endswith(suffix) and (best is None or len(suffix) > best[0]):
                    best = (len(suffix), category.name)
    return None if best is None else best[1]


def cookie_suggestion(cookie: SeenCookie) -> Suggestion:
    """What the cookie database suggests for a cookie the audit saw (who set it counts)."""
    return suggest(cookie.name, set_by=cookie.set_by, site=cookie.domain)


def hint(found: Suggestion) -> str:
    """The suggestion as the end of a finding's message."""
    if not found.known:
        return "the cookie database does not know it"
    if found.category is None:
        return f"{found.note or 'the cookie database cannot place it'}: decide where it belongs"
    what = f": {found.description}" if found.description else ""
    return f"the cookie database suggests {found.category} ({found.platform}{what})"


def _denial_rule(scenario: Scenario, policy: Policy, category: str, earlier: bool) -> tuple[str, str]:
    """Which requirement a cookie or host of a category that is not allowed breaks, and why."""
    if scenario.student and category in policy.student_deny:
        if category == MARKETING:
            return "R-STU-1", "marketing in a student session"
        return "R-STU-2", f"{category} is denied to students by the policy"
    if scenario.gpc and category in policy.gpc_denies:
        return "R-GPC-2", f"{category} under Global Privacy Control, which wins over Accept All"
    if scenario.action == "none":
        return "R-CON-1", f"{category} before any choice"
    if earlier:
        return "R-CON-6", f"{category} set before the choice and not deleted after it"
    what = "Deny All" if scenario.action == "deny_all" else "the partial choice"
    return "R-CON-1", f"{category} after {what}, which did not allow it"


def judge(
    scenario: Scenario,
    policy: Policy,
    cookies: Iterable[SeenCookie],
    requests: Iterable[SeenRequest],
    storage: Iterable[SeenStorage] = (),
) -> list[Violation]:
    """The violations in what one scenario observed.

    Before a choice everything observed counts; after an action only what was there after it.
    """
    allowed = scenario.allowed(policy)
    judged_all = scenario.action == "none"
    out: list[Violation] = []
    for cookie in cookies:
        if not (judged_all or cookie.present_after):
            continue
        how = f"set by {'the server' if cookie.set_by == 'server' else 'a script'} on {cookie.page}"
        if cookie.category is None:
            out.append(
                Violation(
                    "R-CON-10",
                    "cookie",
                    cookie.name,
                    None,
                    cookie.page,
                    f"cookie {cookie.name} ({cookie.domain}) is declared by no rule in the policy, "
                    f"so no visitor could consent to it; {how}; {hint(cookie_suggestion(cookie))}",
                )
            )
            continue
        if cookie.category in allowed:
            continue
        earlier = cookie.phase == "before"
        rule, why = _denial_rule(scenario, policy, cookie.category, earlier)
        out.append(
            Violation(
                rule,
                "cookie",
                cookie.name,
                cookie.category,
                cookie.page,
                f"cookie {cookie.name}: {why}; {how}",
            )
        )
    for request in requests:
        if not judged_all and request.count_after == 0:
            continue
        where = f"{request.url} from {request.page}"
        # An embed that loads its third party's page (an iframe's navigation) says so.
        noun = "embedded frame from" if request.resource_type == "document" else "request to"
        if judged_all and request.category != ESSENTIAL:
            what = "declared by no category" if request.category is None else request.category
            out.append(
                Violation(
                    "R-CON-1",
                    "request",
                    request.host,
                    request.category,
                    request.page,
                    f"{noun} third-party host {request.host} ({what}) before any choice: {where}",
                )
            )
            continue
        if request.category is None:
            out.append(
                Violation(
                    "R-CON-10",
                    "request",
                    request.host,
                    None,
                    request.page,
                    f"{noun} third-party host {request.host}, which no category of the policy "
                    f"declares: {where}",
                )
            )
            continue
        if request.category in allowed:
            continue
        rule, why = _denial_rule(scenario, policy, request.category, earlier=False)
        out.append(
            Violation(
                rule,
                "request",
                request.host,
                request.category,
                request.page,
                f"{noun} {request.host}: {why}: {where}",
            )
        )
    out.extend(_judge_storage(scenario, policy, storage))
    if scenario.action != "none":
        out.extend(_consent_cookie_lifetime(cookies))
    return out


_WHAT = {
    "localStorage": "localStorage key",
    "sessionStorage": "sessionStorage key",
    "indexedDB": "IndexedDB database",
}


def _judge_storage(scenario: Scenario, policy: Policy, storage: Iterable[SeenStorage]) -> list[Violation]:
    """Web storage: a key of a category not allowed in the scenario; an undeclared one written
    before any choice (``unknown_storage = "report"``), reported once, in the first visit."""
    allowed = scenario.allowed(policy)
    first_visit = scenario.action == "none"
    out = []
    for item in storage:
        if not (first_visit or item.present_after):
            continue
        what = f"{_WHAT[item.kind]} {item.name}"
        if item.category is None:
            if first_visit and policy.unknown_storage == "report":
                found = suggest(item.name, set_by="script")
                out.append(
                    Violation(
                        "R-CON-10",
                        "storage",
                        item.name,
                        None,
                        item.page,
                        f"{what} was written before any choice and no category's storage declares it, "
                        f"so no visitor could consent to it; on {item.page}; {hint(found)}",
                    )
                )
            continue
        if item.category in allowed:
            continue
        rule, why = _denial_rule(scenario, policy, item.category, item.phase == "before")
        message = f"{what}: {why}; on {item.page}"
        out.append(Violation(rule, "storage", item.name, item.category, item.page, message))
    return out


def _consent_cookie_lifetime(cookies: Iterable[SeenCookie], now: float | None = None) -> list[Violation]:
    """R-CON-7: the consent cookie lives at most 13 months and is not extended by later visits."""
    moment = time.time() if now is None else now
    limit = MAX_CONSENT_DAYS * 86400 + _LIFETIME_SLACK
    out = []
    for cookie in cookies:
        if cookie.name not in CONSENT_COOKIE_NAMES or not cookie.present_after or cookie.expires is None:
            continue
        first = cookie.first_expires if cookie.first_expires is not None else cookie.expires
        days = (first - moment) / 86400
        if first - moment > limit:
            out.append(
                Violation(
                    "R-CON-7",
                    "consent-cookie",
                    cookie.name,
                    ESSENTIAL,
                    cookie.page,
                    f"consent cookie {cookie.name} lives {days:.0f} days; at most {MAX_CONSENT_DAYS} "
                    "(13 months) are allowed",
                )
            )
        elif cookie.expires - first > _LIFETIME_SLACK:
            out.append(
                Violation(
                    "R-CON-7",
                    "consent-cookie",
                    cookie.name,
                    ESSENTIAL,
                    cookie.page,
                    f"consent cookie {cookie.name} was extended by a later visit "
                    f"({(cookie.expires - first) / 86400:.1f} days longer); a choice must not be "
                    "prolonged on every visit",
                )
            )
    return out
