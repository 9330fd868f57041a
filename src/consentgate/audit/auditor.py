"""The browser-driven audit: visit a running site in Chromium and check what it does against a policy.

Each scenario runs in a fresh browser context (no shared cookies): a first visit without any
action, Deny All, Accept All, an optional partial choice, Accept All under Global Privacy Control,
and Accept All in a student session when the caller says how to become a student. The audit
records every cookie in the browser's jar (with who set it: a cookie that never came in a
``Set-Cookie`` response header was written by a script) and every request to another host, then
classifies each one by the policy and names the requirement every finding breaks.

The classification and the verdicts (:func:`judge`) are plain functions of what was observed, so
they can be checked without a browser; :class:`Auditor` is the part that drives Playwright.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urldefrag, urljoin, urlsplit

from consentgate.enforce.consent_cookie import COOKIE_NAME, SECURE_COOKIE_NAME
from consentgate.enforce.policy import ESSENTIAL, MARKETING, MAX_CONSENT_DAYS, Policy

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page, Request, Response

__all__ = [
    "CONSENT_COOKIE_NAMES",
    "AuditError",
    "AuditOptions",
    "AuditResult",
    "Auditor",
    "BannerControls",
    "Scenario",
    "ScenarioResult",
    "SeenCookie",
    "SeenRequest",
    "Violation",
    "build_scenarios",
    "category_of_host",
    "classify_cookie",
    "judge",
    "run_audit",
]

PLAYWRIGHT_MISSING = "the audit drives a browser through Playwright: pip install 'consentgate[audit]'"

CONSENT_COOKIE_NAMES = frozenset({COOKIE_NAME, SECURE_COOKIE_NAME})
#: Slack allowed on the consent cookie's lifetime (clock differences between server and browser).
_LIFETIME_SLACK = 120.0

Action = Literal["none", "deny_all", "accept_all", "choice"]
Phase = Literal["before", "after"]
SetBy = Literal["server", "script"]
Status = Literal["done", "incomplete"]

# Visible button text of other banners, used when no selector is given (English; other languages
# need --accept-selector / --deny-selector). "Accept" must not match "accept only necessary" or
# "accept selection"; "deny" covers the usual words for a full refusal.
_ACCEPT_TEXT = re.compile(
    r"^(?!.*\b(necessary|essential|selected|selection|only|required)\b).*\b(accept|allow|agree)\b", re.I
)
_DENY_TEXT = re.compile(
    r"\b(deny|reject|decline|refuse)\b|\b(only|just)\s+(the\s+)?(necessary|essential|required)\b"
    r"|\b(necessary|essential|required)\s+(cookies\s+)?only\b",
    re.I,
)
_LOGOUT_LINK = re.compile(r"(log|sign)[-_ ]?(out|off)\b", re.I)
_NOT_A_PAGE = re.compile(
    r"\.(pdf|zip|gz|tgz|tar|dmg|exe|msi|png|jpe?g|gif|webp|svg|ico|mp[34]|mov|avi|webm|woff2?|ttf|css|js|json|xml|txt|csv|docx?|xlsx?|pptx?)$",
    re.I,
)

# The data-consentgate hooks of consentgate's own banner.
OUR_BANNER = '[data-consentgate="banner"]'
OUR_ACCEPT = 'button[data-consentgate="accept-all"]'
OUR_DENY = 'button[data-consentgate="deny-all"]'
OUR_PREFERENCES = 'button[data-consentgate="preferences"]'
OUR_DIALOG = '[data-consentgate="dialog"]'
OUR_CHECKBOX = 'input[type="checkbox"][data-consentgate-category]'
OUR_SAVE = 'button[data-consentgate="save"]'

_WRITE_BINDING = "__consentgateAuditCookieWrite"
# Reports every cookie a script writes (document.cookie, cookieStore.set) to the audit, in every
# frame; the page's own behaviour is unchanged.
COOKIE_WRITE_SCRIPT = """(() => {
  const report = (text) => {
    try { const f = window.__BINDING__; if (f) f(String(text)); } catch (e) {}
  };
  const d = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
  if (d && d.set) {
    Object.defineProperty(Document.prototype, "cookie", {
      configurable: true, enumerable: d.enumerable,
      get() { return d.get.call(this); },
      set(v) { report(v); d.set.call(this, v); },
    });
  }
  if (window.cookieStore && window.cookieStore.set) {
    const set = window.cookieStore.set.bind(window.cookieStore);
    window.cookieStore.set = (a, ...rest) => {
      report(typeof a === "string" ? a + "=" : String(a && a.name) + "=");
      return set(a, ...rest);
    };
  }
})();""".replace("__BINDING__", _WRITE_BINDING)

GPC_INIT_SCRIPT = (
    "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', "
    "{get: () => true, configurable: true, enumerable: true});"
)


class AuditError(Exception):
    """The audit cannot run: a bad option, an unreachable site, no browser. The message says what to fix."""


# -- what is audited ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scenario:
    """One visit plan: what the visitor does and under which conditions."""

    key: str
    title: str
    action: Action
    categories: frozenset[str] = frozenset()
    gpc: bool = False
    student: bool = False

    def allowed(self, policy: Policy) -> frozenset[str]:
        """Categories a correct site may use in this scenario."""
        if self.action in ("none", "deny_all"):
            granted = frozenset({ESSENTIAL})
        elif self.action == "choice":
            granted = frozenset({ESSENTIAL}) | self.categories
        else:
            granted = frozenset(policy.category_names)
        if self.gpc:
            granted -= policy.gpc_denies
        if self.student:
            granted -= policy.student_deny
        return granted


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """Everything one audit run needs; built and checked by the command line."""

    url: str
    policy: Policy
    crawl: int = 0
    choice: frozenset[str] | None = None
    student_login: str | None = None
    student_cookie: tuple[str, str] | None = None
    accept_selector: str | None = None
    deny_selector: str | None = None
    timeout: float = 15.0
    chromium: str | None = None
    delay: float = 0.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AuditError(f"the URL must be an http:// or https:// address, got {self.url!r}")
        if self.crawl < 0:
            raise AuditError(f"--crawl must be 0 or more, got {self.crawl}")
        if self.timeout <= 0:
            raise AuditError(f"--timeout must be more than 0 seconds, got {self.timeout}")
        if self.delay < 0:
            raise AuditError(f"--delay must be 0 or more seconds, got {self.delay}")
        if self.choice is not None:
            unknown = sorted(c for c in self.choice if not self.policy.has_category(c))
            if unknown:
                raise AuditError(
                    f"--choice names unknown categor{'ies' if len(unknown) > 1 else 'y'} "
                    f"{', '.join(unknown)}; the policy has {', '.join(self.policy.category_names)}"
                )

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def origin(self) -> tuple[str, str, int | None]:
        return _origin(self.url)


def build_scenarios(options: AuditOptions) -> list[Scenario]:
    """The scenarios an audit runs, in order (the partial and student ones only when asked for)."""
    scenarios = [
        Scenario("first-visit", "First visit, no action", "none"),
        Scenario("deny-all", "Deny All", "deny_all"),
        Scenario("accept-all", "Accept All", "accept_all"),
    ]
    if options.choice is not None:
        chosen = frozenset(options.choice) - {ESSENTIAL}
        label = ", ".join(sorted(chosen)) or "nothing optional"
        scenarios.append(Scenario("choice", f"Partial choice ({label})", "choice", chosen))
    scenarios.append(Scenario("gpc", "Accept All with Global Privacy Control", "accept_all", gpc=True))
    if options.student_login or options.student_cookie:
        scenarios.append(Scenario("student", "Accept All in a student session", "accept_all", student=True))
    return scenarios


# -- what was seen ----------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: ``rule`` is a requirement ID such as ``R-CON-1``."""

    rule: str
    kind: Literal["cookie", "request", "banner", "consent-cookie"]
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
                    f"so no visitor could consent to it; {how}",
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
        if judged_all and request.category != ESSENTIAL:
            what = "declared by no category" if request.category is None else request.category
            out.append(
                Violation(
                    "R-CON-1",
                    "request",
                    request.host,
                    request.category,
                    request.page,
                    f"request to third-party host {request.host} ({what}) before any choice: {where}",
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
                    f"request to third-party host {request.host}, which no category of the policy "
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
                f"request to {request.host}: {why}: {where}",
            )
        )
    if scenario.action != "none":
        out.extend(_consent_cookie_lifetime(cookies))
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


# -- driving banners --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BannerControls:
    """How to find a banner's first-layer buttons: consentgate's hooks, given selectors, or text."""

    accept_selector: str | None = None
    deny_selector: str | None = None

    def _ours(self, page: Page, selector: str) -> Locator:
        return page.locator(f"{OUR_BANNER} {selector}")

    def accept(self, page: Page) -> Locator:
        if self.accept_selector:
            return page.locator(self.accept_selector)
        return self._ours(page, OUR_ACCEPT).or_(_by_text(page, _ACCEPT_TEXT))

    def deny(self, page: Page) -> Locator:
        if self.deny_selector:
            return page.locator(self.deny_selector)
        return self._ours(page, OUR_DENY).or_(_by_text(page, _DENY_TEXT))

    @staticmethod
    def is_ours(control: Locator) -> bool:
        """Whether a found control belongs to consentgate's banner."""
        return bool(control.evaluate(f"e => !!e.closest('{OUR_BANNER}')"))


def _by_text(page: Page, pattern: re.Pattern[str]) -> Locator:
    return page.get_by_role("button", name=pattern).or_(page.get_by_role("link", name=pattern))


def _visible(locator: Locator, timeout_ms: float) -> Locator | None:
    """The first visible element of ``locator`` within the timeout, else None."""
    from playwright.sync_api import Error as PlaywrightError

    first = locator.locator("visible=true").first
    try:
        first.wait_for(state="visible", timeout=timeout_ms)
    except PlaywrightError:
        return None
    return first


def _consent_cookie_value(context: BrowserContext) -> str | None:
    for cookie in context.cookies():
        if cookie.get("name") in CONSENT_COOKIE_NAMES:
            return str(cookie.get("value"))
    return None


def _wait_for_consent_cookie(
    context: BrowserContext, page: Page, before: str | None, timeout_ms: float
) -> bool:
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        value = _consent_cookie_value(context)
        if value is not None and value != before:
            return True
        page.wait_for_timeout(50)
    return False


def click_our_banner(
    page: Page, choice: Literal["accept_all", "deny_all"] | Sequence[str], *, timeout: float = 10.0
) -> None:
    """Make a choice through consentgate's banner, the way a visitor does, and wait until it is stored.

    ``choice`` is ``"accept_all"``, ``"deny_all"`` or a list of categories to tick in the
    preferences dialog (every other optional category is unticked). Raises ``AssertionError``
    with what was missing when the banner does not offer the control.
    """
    timeout_ms = timeout * 1000
    context = page.context
    before = _consent_cookie_value(context)
    # The banner's root has no box of its own: look for its visible controls.
    if isinstance(choice, str):
        selector = {"accept_all": OUR_ACCEPT, "deny_all": OUR_DENY}.get(choice)
        if selector is None:
            raise ValueError(
                f"choice must be 'accept_all', 'deny_all' or a list of categories, got {choice!r}"
            )
        button = _visible(page.locator(f"{OUR_BANNER} {selector}"), timeout_ms)
        if button is None:
            raise AssertionError(f"consentgate's banner shows no {selector} on {page.url}")
        button.click()
    else:
        wanted = set(choice)
        opener = _visible(page.locator(f"{OUR_BANNER} {OUR_PREFERENCES}"), timeout_ms)
        if opener is None:
            raise AssertionError(f"consentgate's banner shows no {OUR_PREFERENCES} on {page.url}")
        opener.click()
        dialog = _visible(page.locator(OUR_DIALOG), timeout_ms)
        if dialog is None:
            raise AssertionError(f"the preferences dialog ({OUR_DIALOG}) did not open on {page.url}")
        boxes = dialog.locator(OUR_CHECKBOX)
        offered = set()
        for index in range(boxes.count()):
            box = boxes.nth(index)
            name = box.get_attribute("data-consentgate-category") or ""
            offered.add(name)
            if box.is_disabled():
                continue
            box.set_checked(name in wanted)
        missing = sorted(wanted - offered - {ESSENTIAL})
        if missing:
            raise AssertionError(f"the preferences dialog offers no checkbox for {', '.join(missing)}")
        save = _visible(dialog.locator(OUR_SAVE), timeout_ms)
        if save is None:
            raise AssertionError(f"the preferences dialog has no visible {OUR_SAVE}")
        save.click()
    if not _wait_for_consent_cookie(context, page, before, timeout_ms):
        raise AssertionError(f"the banner click stored no consent cookie within {timeout:g}s on {page.url}")


# -- the browser part -------------------------------------------------------------------------


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return (parts.scheme, (parts.hostname or "").lower(), port)


def _page_label(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _domain_matches(host: str, domain: str) -> bool:
    domain = domain.lstrip(".").lower()
    return host == domain or host.endswith("." + domain)


def _parse_cookie_line(line: str, now: float) -> tuple[str, dict[str, Any]] | None:
    """Name and attributes of a ``Set-Cookie`` line or a ``document.cookie`` write.

    ``None`` when it sets nothing: no name, or a deletion (``Max-Age<=0``, an ``Expires`` past).
    """
    pieces = line.split(";")
    pair = pieces[0]
    if "=" not in pair:
        return None
    name = pair.split("=", 1)[0].strip()
    if not name:
        return None
    attrs: dict[str, Any] = {"expires": None}
    max_age: float | None = None
    for piece in pieces[1:]:
        key, _, value = piece.partition("=")
        key = key.strip().lower()
        value = value.strip()
        if key == "max-age":
            with contextlib.suppress(ValueError):
                max_age = float(int(value))
        elif key == "expires":
            with contextlib.suppress(TypeError, ValueError, IndexError):
                attrs["expires"] = parsedate_to_datetime(value).timestamp()
        elif key in ("domain", "path", "samesite"):
            attrs[key] = value
        elif key in ("httponly", "secure"):
            attrs[key] = True
    if max_age is not None:
        attrs["expires"] = now + max_age
    if attrs["expires"] is not None and attrs["expires"] <= now:
        return None
    return name, attrs


class _Recorder:
    """Collects the cookies and third-party requests of one browser context.

    A cookie counts as seen when it arrives in a ``Set-Cookie`` header, when a script writes it,
    or when it is in the jar after a page has settled: a cookie that is set and deleted again a
    moment later was still set.
    """

    def __init__(self, policy: Policy, first_party: str) -> None:
        self.policy = policy
        self.first_party = first_party
        self.page = "-"
        self.phase: Phase = "before"
        self.cookies: dict[tuple[str, str], SeenCookie] = {}
        self.requests: dict[str, SeenRequest] = {}

    def attach(self, context: BrowserContext) -> None:
        context.on("request", self.on_request)
        context.on("response", self.on_response)
        context.expose_binding(_WRITE_BINDING, self.on_script_write)
        context.add_init_script(COOKIE_WRITE_SCRIPT)

    # -- events ---------------------------------------------------------------------------

    def on_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https", "ws", "wss"):
            return
        host = (parts.hostname or "").lower()
        if not host or host == self.first_party:
            return
        seen = self.requests.get(host)
        if seen is None:
            seen = SeenRequest(
                host=host,
                url=request.url,
                resource_type=request.resource_type,
                page=self.page,
                phase=self.phase,
                category=category_of_host(self.policy, host),
                count=0,
            )
            self.requests[host] = seen
        seen.count += 1
        if self.phase == "after":
            if seen.count_after == 0 and seen.phase == "before":
                seen.page = self.page
            seen.count_after += 1

    def on_response(self, response: Response) -> None:
        from playwright.sync_api import Error as PlaywrightError

        try:
            headers = response.headers_array()
        except PlaywrightError:
            return  # the page went away before the headers could be read
        host = (urlsplit(response.url).hostname or "").lower()
        now = time.time()
        for item in headers:
            if item["name"].lower() != "set-cookie":
                continue
            for line in item["value"].split("\n"):
                parsed = _parse_cookie_line(line, now)
                if parsed is not None:
                    self._observe(parsed[0], host, parsed[1], "server")

    def on_script_write(self, source: Any, text: str) -> None:
        frame = source.get("frame") if isinstance(source, dict) else None
        host = (urlsplit(frame.url).hostname or "").lower() if frame is not None else self.first_party
        parsed = _parse_cookie_line(str(text), time.time())
        if parsed is not None:
            self._observe(parsed[0], host, parsed[1], "script")

    def _observe(self, name: str, host: str, attrs: dict[str, Any], set_by: SetBy) -> None:
        domain = str(attrs.get("domain") or host).lstrip(".").lower()
        seen = self._seen(name, domain)
        if seen is None:
            seen = SeenCookie(
                name=name,
                domain=domain,
                path=str(attrs.get("path") or "/"),
                http_only=bool(attrs.get("httponly", False)),
                secure=bool(attrs.get("secure", False)),
                same_site=str(attrs.get("samesite", "")),
                expires=attrs["expires"],
                set_by=set_by,
                page=self.page,
                phase=self.phase,
                category=classify_cookie(self.policy, name),
            )
            self.cookies[(name, domain)] = seen
        else:
            seen.expires = attrs["expires"]
        self._mark(seen)

    def _seen(self, name: str, domain: str) -> SeenCookie | None:
        return self.cookies.get((name, domain.lstrip(".").lower()))

    def _mark(self, seen: SeenCookie) -> None:
        if self.phase != "after":
            return
        if not seen.present_after:
            seen.first_expires = seen.expires
            if seen.phase == "before":
                seen.page = self.page
        seen.present_after = True

    def snapshot(self, context: BrowserContext) -> None:
        """Record the jar as it is now (after a page has loaded and settled)."""
        for raw in context.cookies():
            name = str(raw.get("name", ""))
            domain = str(raw.get("domain", ""))
            expires_raw = float(raw.get("expires", -1))
            expires = None if expires_raw < 0 else expires_raw
            seen = self._seen(name, domain)
            if seen is None:
                # Chromium sometimes reports a response without its raw headers; a cookie that
                # no script wrote came from such a response: the server.
                seen = SeenCookie(
                    name=name,
                    domain=domain.lstrip(".").lower(),
                    path="/",
                    http_only=False,
                    secure=False,
                    same_site="",
                    expires=expires,
                    set_by="server",
                    page=self.page,
                    phase=self.phase,
                    category=classify_cookie(self.policy, name),
                )
                self.cookies[(name, seen.domain)] = seen
            # The jar knows best what the browser kept.
            seen.path = str(raw.get("path", "/"))
            seen.http_only = bool(raw.get("httpOnly", False))
            seen.secure = bool(raw.get("secure", False))
            seen.same_site = str(raw.get("sameSite", ""))
            seen.expires = expires
            self._mark(seen)


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


class Auditor:
    """Runs the scenarios of one audit in Chromium through Playwright's sync API."""

    def __init__(self, options: AuditOptions, progress: Progress | None = None) -> None:
        self.options = options
        self.controls = BannerControls(options.accept_selector, options.deny_selector)
        self.progress = progress or _quiet
        self.timeout_ms = options.timeout * 1000
        self.banner_found: bool | None = None
        self.banner_kind: str | None = None

    def run(self) -> AuditResult:
        try:
            from playwright.sync_api import Error as PlaywrightError
            from playwright.sync_api import sync_playwright
        except ModuleNotFoundError as exc:
            raise AuditError(PLAYWRIGHT_MISSING) from exc
        from consentgate.audit.browser import launch_options

        started = time.time()
        scenarios = build_scenarios(self.options)
        results: list[ScenarioResult] = []
        with sync_playwright() as playwright:
            launch = launch_options(self.options.chromium)
            try:
                browser = playwright.chromium.launch(**launch)
            except PlaywrightError as exc:
                where = launch.get("executable_path", "Playwright's own Chromium")
                raise AuditError(
                    f"could not start Chromium ({where}): {_first_line(exc)}. Give the browser with "
                    "--chromium PATH or the CONSENTGATE_CHROMIUM environment variable, or run "
                    "`playwright install chromium`"
                ) from exc
            try:
                for index, scenario in enumerate(scenarios, 1):
                    self.progress(f"[{index}/{len(scenarios)}] {scenario.title}")
                    results.append(self._scenario(browser, scenario, index, len(scenarios)))
            finally:
                browser.close()
        return AuditResult(self.options.url, self.options.policy, results, started, time.time())

    # -- one scenario ---------------------------------------------------------------------

    def _scenario(self, browser: Browser, scenario: Scenario, index: int, total: int) -> ScenarioResult:
        options = self.options
        result = ScenarioResult(scenario, scenario.allowed(options.policy))
        context_args: dict[str, Any] = {}
        if scenario.gpc:
            context_args["extra_http_headers"] = {"Sec-GPC": "1"}
        context = browser.new_context(**context_args)
        context.set_default_timeout(self.timeout_ms)
        context.set_default_navigation_timeout(self.timeout_ms)
        try:
            if scenario.gpc:
                context.add_init_script(GPC_INIT_SCRIPT)
            recorder = _Recorder(options.policy, options.host)
            recorder.attach(context)
            page = context.new_page()
            if scenario.student:
                self._become_student(context, page, recorder)
            self._visit(page, context, recorder, options.url, fatal=True)
            if scenario.action == "none":
                result.pages.append(recorder.page)
                result.violations.extend(self._check_first_layer(page, result))
                self._crawl(page, context, recorder, result, index, total)
            else:
                note = self._act(page, context, scenario)
                if note is not None:
                    result.status = "incomplete"
                    result.note = note
                else:
                    recorder.phase = "after"
                    self._visit(page, context, recorder, options.url, fatal=True)
                    result.pages.append(recorder.page)
                    self._crawl(page, context, recorder, result, index, total)
            result.cookies = sorted(recorder.cookies.values(), key=lambda c: (c.domain, c.name, c.path))
            result.requests = sorted(recorder.requests.values(), key=lambda r: r.host)
            if result.status == "done":
                result.violations.extend(judge(scenario, options.policy, result.cookies, result.requests))
        finally:
            context.close()
        return result

    def _become_student(self, context: BrowserContext, page: Page, recorder: _Recorder) -> None:
        options = self.options
        if options.student_cookie is not None:
            name, value = options.student_cookie
            context.add_cookies([{"name": name, "value": value, "url": options.url}])
        if options.student_login:
            login = urljoin(options.url, options.student_login)
            self._visit(page, context, recorder, login, fatal=True, what="student login page")

    def _visit(
        self,
        page: Page,
        context: BrowserContext,
        recorder: _Recorder,
        url: str,
        *,
        fatal: bool,
        what: str = "start page",
    ) -> bool:
        from playwright.sync_api import Error as PlaywrightError

        recorder.page = _page_label(url)
        try:
            response = page.goto(url, wait_until="load")
        except PlaywrightError as exc:
            if fatal:
                raise AuditError(
                    f"could not open the {what} {url}: {_first_line(exc)}. Is the site running, "
                    "and is the address (scheme, host, port) right?"
                ) from exc
            return False
        if response is not None and response.status >= 400 and fatal:
            raise AuditError(
                f"the {what} {url} answered HTTP {response.status}; give a URL that serves a page"
            )
        # Trackers often load after "load"; wait for the network to go quiet (bounded).
        with contextlib.suppress(PlaywrightError):
            page.wait_for_load_state("networkidle", timeout=min(self.timeout_ms, 5000))
        recorder.page = _page_label(page.url)
        recorder.snapshot(context)
        if self.options.delay:
            page.wait_for_timeout(self.options.delay * 1000)
        return response is None or response.status < 400

    def _crawl(
        self,
        page: Page,
        context: BrowserContext,
        recorder: _Recorder,
        result: ScenarioResult,
        index: int,
        total: int,
    ) -> None:
        """Visit up to ``crawl`` more same-origin pages, breadth first, one at a time."""
        limit = self.options.crawl
        if limit <= 0:
            return
        origin = self.options.origin
        seen = {urldefrag(page.url)[0], urldefrag(self.options.url)[0]}
        queue = self._links(page, origin, seen)
        visited = 0
        while queue and visited < limit:
            url = queue.pop(0)
            visited += 1
            self.progress(
                f"[{index}/{total}] {result.scenario.title}: page {visited}/{limit} {_page_label(url)}"
            )
            if self._visit(page, context, recorder, url, fatal=False):
                result.pages.append(recorder.page)
                queue.extend(self._links(page, origin, seen))

    @staticmethod
    def _links(page: Page, origin: tuple[str, str, int | None], seen: set[str]) -> list[str]:
        try:
            hrefs: list[str] = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        except Exception:  # the page navigated away meanwhile: no links from it
            return []
        found = []
        for href in hrefs:
            if not isinstance(href, str):
                continue
            url = urldefrag(href)[0]
            if url in seen or _origin(url) != origin:
                continue
            path = urlsplit(url).path
            if _LOGOUT_LINK.search(url) or _NOT_A_PAGE.search(path):
                continue
            seen.add(url)
            found.append(url)
        return found

    # -- the banner -----------------------------------------------------------------------

    def _check_first_layer(self, page: Page, result: ScenarioResult) -> list[Violation]:
        """R-CON-2: the first layer offers Deny All next to Accept All, alike in type and size."""
        label = _page_label(page.url)
        # Wait once for either control; then the other one is there or not at all.
        either = _visible(self.controls.deny(page).or_(self.controls.accept(page)), self.timeout_ms)
        deny = accept = None
        if either is not None:
            deny = _visible(self.controls.deny(page), 500)
            accept = _visible(self.controls.accept(page), 500)
        self.banner_found = deny is not None or accept is not None
        if self.banner_found:
            control = deny if deny is not None else accept
            ours = control is not None and BannerControls.is_ours(control)
            self.banner_kind = "consentgate" if ours else "other"
            result.banner = self.banner_kind
        if deny is None:
            looked = self.options.deny_selector or f"{OUR_DENY} or a button named like 'Deny all'"
            message = (
                "the banner's first layer offers no Deny All"
                if self.banner_found
                else "no consent banner with a Deny All control was found"
            )
            return [
                Violation("R-CON-2", "banner", "Deny All", None, label, f"{message} (looked for {looked})")
            ]
        if accept is None:
            return []
        deny_tag = deny.evaluate("e => e.tagName.toLowerCase()")
        accept_tag = accept.evaluate("e => e.tagName.toLowerCase()")
        if deny_tag != accept_tag:
            return [
                Violation(
                    "R-CON-2",
                    "banner",
                    "Deny All",
                    None,
                    label,
                    f"Deny All is a <{deny_tag}> while Accept All is a <{accept_tag}>; "
                    "both must be the same kind of control",
                )
            ]
        deny_box, accept_box = deny.bounding_box(), accept.bounding_box()
        if deny_box and accept_box:
            deny_area = deny_box["width"] * deny_box["height"]
            accept_area = accept_box["width"] * accept_box["height"]
            if deny_area < 0.5 * accept_area:
                return [
                    Violation(
                        "R-CON-2",
                        "banner",
                        "Deny All",
                        None,
                        label,
                        f"Deny All ({deny_area:.0f} px²) is less than half the size of Accept All "
                        f"({accept_area:.0f} px²)",
                    )
                ]
        return []

    def _act(self, page: Page, context: BrowserContext, scenario: Scenario) -> str | None:
        """Make the scenario's choice; a note when it could not be made."""
        if self.banner_found is False:
            return "skipped: no consent banner was found on the first visit"
        ours = self.banner_kind == "consentgate"
        if ours and not (self.options.accept_selector or self.options.deny_selector):
            choice: Literal["accept_all", "deny_all"] | list[str]
            if scenario.action == "choice":
                choice = sorted(scenario.categories)
            else:
                choice = "accept_all" if scenario.action == "accept_all" else "deny_all"
            try:
                click_our_banner(page, choice, timeout=self.options.timeout)
            except AssertionError as exc:
                return f"could not make the choice: {exc}"
            return None
        if scenario.action == "choice":
            return "a partial choice needs consentgate's banner (its preferences dialog hooks)"
        button = self.controls.accept(page) if scenario.action == "accept_all" else self.controls.deny(page)
        found = _visible(button, self.timeout_ms)
        if found is None:
            name = "Accept All" if scenario.action == "accept_all" else "Deny All"
            flag = "--accept-selector" if scenario.action == "accept_all" else "--deny-selector"
            return f"could not find the banner's {name} button; give it with {flag}"
        from playwright.sync_api import Error as PlaywrightError

        found.click()
        try:
            found.wait_for(state="hidden", timeout=min(self.timeout_ms, 5000))
        except PlaywrightError:
            return "the banner did not close after the click"
        with contextlib.suppress(PlaywrightError):
            page.wait_for_load_state("networkidle", timeout=min(self.timeout_ms, 5000))
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not set(line.strip()) <= {"="}]
    return lines[0] if lines else exc.__class__.__name__


def run_audit(options: AuditOptions, progress: Progress | None = None) -> AuditResult:
    """Run every scenario against ``options.url``; raises :class:`AuditError` when it cannot."""
    return Auditor(options, progress).run()
