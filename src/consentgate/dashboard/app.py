"""The privacy team's dashboard: a read-only ASGI app over the privacy log and the policy.

Mount it where operators can reach it::

    Mount("/privacy-dashboard", app=Dashboard(open_store("consent.sqlite3"), policy, token=TOKEN))

It shows the policy in force (categories, cookies, hosts, revision, lifetimes), decisions per day
and the opt-in rate per category as server-rendered SVG charts with data tables, the share of GPC
and student decisions, how many records of each kind the log holds and the retention in force.
The page needs no JavaScript and loads nothing from elsewhere; its own Content-Security-Policy
allows only its inline stylesheet (by hash).

Access: a token from configuration (at least 32 characters) is required unless
``require_token=False`` is passed because the app's own authentication already guards the mount.
The token is accepted as ``Authorization: Bearer <token>`` or once as ``?token=<token>``: the
dashboard then sets an HttpOnly, ``SameSite=Strict`` cookie scoped to its own path (holding a
keyed hash of the token, never the token) and redirects to the same URL without it, so the token
does not stay in the address bar, the history or a ``Referer``. Cross-site requests
(``Sec-Fetch-Site: cross-site``) and framing are refused.

Mounted inside :class:`~consentgate.ConsentMiddleware`, list the cookie (``consentgate_dashboard``
by default) under ``[categories.essential]``: it is a sign-in cookie, and the middleware drops
cookies no rule names.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jinja2
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Receive, Scope, Send

from consentgate._files import package_dir
from consentgate.banner.banner import PLACED_STATE_KEY
from consentgate.banner.i18n import LANGUAGES, Localizer
from consentgate.dashboard.charts import Bar, PercentRow, bar_chart, data_table, percent_bars
from consentgate.enforce.cookie_headers import request_cookie_value
from consentgate.enforce.policy import Category, Policy
from consentgate.log.stores.base import Store, StoreError, StoreStats, open_store

__all__ = ["COOKIE_NAME", "MIN_TOKEN_LENGTH", "Dashboard"]

COOKIE_NAME = "consentgate_dashboard"
MIN_TOKEN_LENGTH = 32
TOKEN_PARAM = "token"  # noqa: S105 - the query parameter name
_COOKIE_CONTEXT = b"consentgate-dashboard-cookie/1"

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


_STYLE_MARKUP = Markup(_STYLE)  # noqa: S704 - a constant of this module, no outside input
_CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{_sha256_b64(_STYLE)}'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
).encode()
_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", _CSP),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class _Tokens:
    """The accepted tokens, kept only as digests; ``repr`` never shows them."""

    __slots__ = ("_cookie_values", "_digests")

    def __init__(self, tokens: Sequence[str]) -> None:
        self._digests = tuple(hashlib.sha256(t.encode()).digest() for t in tokens)
        self._cookie_values = tuple(hashlib.sha256(self.cookie_value_for(t)).digest() for t in tokens)

    def __repr__(self) -> str:
        return f"<{len(self._digests)} dashboard token(s) hidden>"

    def check_token(self, candidate: str) -> bool:
        """Constant-time: every configured token is compared, equal-length digests only."""
        digest = hashlib.sha256(candidate.encode("utf-8", "surrogateescape")).digest()
        found = False
        for expected in self._digests:
            found |= hmac.compare_digest(digest, expected)
        return found

    def check_cookie(self, candidate: bytes) -> bool:
        digest = hashlib.sha256(candidate).digest()
        found = False
        for expected in self._cookie_values:
            found |= hmac.compare_digest(digest, expected)
        return found

    @staticmethod
    def cookie_value_for(token: str) -> bytes:
        """What the access cookie holds: a keyed hash of the token, so the cookie never reveals it."""
        return hmac.new(token.encode(), _COOKIE_CONTEXT, hashlib.sha256).hexdigest().encode()


@dataclass(frozen=True, slots=True)
class _CategoryView:
    name: str
    label: str
    description: str
    required: bool
    cookies: tuple[str, ...]
    hosts: tuple[str, ...]
    services: tuple[str, ...]


def _category_view(category: Category, localizer: Localizer, language: str) -> _CategoryView:
    cookies = []
    for rule in category.cookies:
        where = []
        if rule.path != "/":
            where.append(f"path {rule.path}")
        if rule.domain:
            where.append(f"domain {rule.domain}")
        cookies.append(rule.pattern + (f" ({', '.join(where)})" if where else ""))
    return _CategoryView(
        name=category.name,
        label=localizer.label(category, language),
        description=localizer.description(category, language),
        required=category.required,
        cookies=tuple(cookies),
        hosts=category.hosts,
        services=category.services,
    )


class Dashboard:
    """A read-only, token-protected ASGI app showing the policy and the privacy log's figures.

    Args:
        store: the privacy log's store, or a path / URL for :func:`~consentgate.log.stores.base.open_store`.
        policy: the policy in force.
        token: the access token (at least 32 characters), or several (rotation: all are accepted).
        require_token: ``False`` only when the app's own authentication guards the mount.
        days: how many days the per-day chart covers (today included).
        title: the page heading.
        https: force the ``Secure`` cookie attribute; by default it follows the request scheme.
        cookie_name: the name of the access cookie (list it as essential in the policy).
    """

    def __init__(
        self,
        store: Store | str,
        policy: Policy,
        *,
        token: str | Sequence[str] | None = None,
        require_token: bool = True,
        days: int = 30,
        title: str = "Privacy dashboard",
        https: bool | None = None,
        cookie_name: str = COOKIE_NAME,
    ) -> None:
        if not isinstance(policy, Policy):
            raise TypeError("policy must be a consentgate.Policy (use Policy.from_file(path))")
        tokens = [token] if isinstance(token, str) else list(token or ())
        for item in tokens:
            if not isinstance(item, str) or len(item) < MIN_TOKEN_LENGTH:
                raise ValueError(
                    f"dashboard token must be at least {MIN_TOKEN_LENGTH} characters "
                    "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
                )
        if require_token and not tokens:
            raise ValueError(
                "Dashboard needs token=... (at least 32 random characters); pass require_token=False "
                "only if the app's own authentication protects where it is mounted"
            )
        if not 1 <= days <= 366:
            raise ValueError(f"days must be between 1 and 366, got {days!r}")
        if not cookie_name or any(c in cookie_name for c in ' ;=,"\t'):
            raise ValueError(f"cookie_name is not a valid cookie name: {cookie_name!r}")
        self.store = open_store(store)
        self.policy = policy
        self.tokens = _Tokens(tokens) if tokens else None
        self.days = days
        self.title = title
        self.https = https
        self.cookie_name = cookie_name
        self._cookie_needle = cookie_name.encode()
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(package_dir("templates")),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self._page = environment.get_template("dashboard.html")
        language = policy.default_language if policy.default_language in LANGUAGES else "en"
        localizer = Localizer(policy)
        self._categories = tuple(_category_view(c, localizer, language) for c in policy.categories)

    def __repr__(self) -> str:
        return f"Dashboard(store={self.store.description!r}, tokens={self.tokens!r})"

    # -- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        # Inside ConsentMiddleware: no banner on this operator page (its CSP would refuse the script).
        state = scope.get("state")
        if isinstance(state, dict):
            state[PLACED_STATE_KEY] = True
        headers: dict[bytes, bytes] = {}
        for key, value in scope["headers"]:
            if key in headers and key == b"cookie":
                headers[key] += b"; " + value
            else:
                headers[key] = value
        # Only the operator's own navigation may reach the page (no CSRF, no cross-site embedding).
        if headers.get(b"sec-fetch-site", b"").strip().lower() == b"cross-site":
            await self._send_text(
                send,
                403,
                "The dashboard does not answer requests started by another site. "
                "Open its address directly (type or paste it into the address bar).",
            )
            return
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await self._send_text(send, 405, "The dashboard is read-only.", [(b"allow", b"GET, HEAD")])
            return
        root_path: str = scope.get("root_path", "")
        path: str = scope["path"]
        route = path[len(root_path) :] if root_path and path.startswith(root_path) else path
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        https = self.https if self.https is not None else scope.get("scheme") == "https"

        if self.tokens is not None:
            given = [value for key, value in query if key == TOKEN_PARAM]
            if given:
                await self._exchange_token(send, given[-1], root_path, route, query, https, method)
                return
            verdict = self._authorised(headers)
            if verdict is not True:
                await self._send_login(send, method, wrong=verdict == "wrong")
                return

        if route in ("", "/"):
            await self._send_page(send, method)
        elif route == "/stats.json":
            await self._send_json(send, method)
        else:
            await self._send_text(send, 404, "Not found.")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Served on its own (not mounted), the dashboard answers the lifespan protocol."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- access ----------------------------------------------------------------------------

    def _authorised(self, headers: dict[bytes, bytes]) -> bool | str:
        """True, ``"wrong"`` (a credential was given and is not valid) or ``"missing"``."""
        assert self.tokens is not None
        authorization = headers.get(b"authorization")
        if authorization is not None:
            scheme, _, credential = authorization.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return "wrong"
            return True if self.tokens.check_token(credential.strip()) else "wrong"
        cookie_header = headers.get(b"cookie")
        if cookie_header:
            value = request_cookie_value(cookie_header, self._cookie_needle)
            if value is not None:
                return True if self.tokens.check_cookie(value) else "wrong"
        return "missing"

    async def _exchange_token(
        self,
        send: Send,
        token: str,
        root_path: str,
        route: str,
        query: list[tuple[str, str]],
        https: bool,
        method: str,
    ) -> None:
        """``?token=`` once: set the access cookie and redirect to the same URL without the token."""
        assert self.tokens is not None
        if not self.tokens.check_token(token):
            await self._send_login(send, method, wrong=True)
            return
        rest = [(k, v) for k, v in query if k != TOKEN_PARAM]
        location = (root_path + route) or "/"
        if rest:
            location += "?" + urlencode(rest)
        cookie = (
            f"{self.cookie_name}={self.tokens.cookie_value_for(token).decode()}; "
            f"Path={root_path or '/'}; HttpOnly; SameSite=Strict"
        )
        if https:
            cookie += "; Secure"
        await self._send(
            send,
            303,
            b"",
            b"text/plain; charset=utf-8",
            [(b"location", location.encode("latin-1", "replace")), (b"set-cookie", cookie.encode())],
        )

    # -- pages -----------------------------------------------------------------------------

    async def _send_login(self, send: Send, method: str, *, wrong: bool) -> None:
        html = self._page.render(mode="login", wrong=wrong, title=self.title, style=_STYLE_MARKUP)
        challenge = b'Bearer realm="consentgate dashboard"'
        if wrong:
            challenge += b', error="invalid_token"'
        await self._send(
            send,
            401,
            html.encode(),
            b"text/html; charset=utf-8",
            [(b"www-authenticate", challenge)],
            head=method == "HEAD",
        )

    async def _stats(self) -> StoreStats:
        return await run_in_threadpool(self.store.stats, days=self.days)

    async def _send_page(self, send: Send, method: str) -> None:
        now = datetime.now(UTC)
        try:
            stats: StoreStats | None = await self._stats()
            error = None
        except StoreError as exc:
            stats, error = None, str(exc)
        html = self._page.render(**self._context(stats, error, now))
        body = html.encode()
        status = 200 if stats is not None else 503
        await self._send(send, status, body, b"text/html; charset=utf-8", head=method == "HEAD")

    async def _send_json(self, send: Send, method: str) -> None:
        try:
            stats = await self._stats()
        except StoreError as exc:
            body = json.dumps({"error": str(exc)}).encode()
            await self._send(send, 503, body, b"application/json")
            return
        data = {
            "policy": {
                "revision": self.policy.revision,
                "categories": {
                    c.name: {"cookies": list(c.cookies), "hosts": list(c.hosts), "services": list(c.services)}
                    for c in self._categories
                },
            },
            "retention": {
                "receipts_days": self.policy.retention.receipts_days,
                "visits_days": self.policy.retention.visits_days,
            },
            "stats": stats.as_dict(),
        }
        body = json.dumps(data, indent=2).encode()
        await self._send(send, 200, body, b"application/json", head=method == "HEAD")

    def _context(self, stats: StoreStats | None, error: str | None, now: datetime) -> dict[str, Any]:
        policy = self.policy
        context: dict[str, Any] = {
            "mode": "dashboard",
            "title": self.title,
            "style": _STYLE_MARKUP,
            "error": error,
            "generated": now.strftime("%Y-%m-%d %H:%M UTC"),
            "store": self.store.description,
            "days": self.days,
            "policy": policy,
            "categories": self._categories,
            "gpc_denies": sorted(policy.gpc_denies),
            "student_deny": sorted(policy.student_deny),
            "tenants": sorted((t.tenant, sorted(t.student_deny)) for t in policy.tenants.values()),
            "retention": policy.retention,
            "visits": policy.visits,
        }
        if stats is None:
            return context
        optional = [c for c in self._categories if not c.required]
        first_day = (now - timedelta(days=self.days - 1)).date()
        by_day = {d.day: d for d in stats.days}
        day_bars = []
        day_rows = []
        for offset in range(self.days):
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
        period = f"the last {self.days} days"
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

    async def _send_text(
        self, send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        await self._send(send, status, text.encode(), b"text/plain; charset=utf-8", extra)

    async def _send(
        self,
        send: Send,
        status: int,
        body: bytes,
        content_type: bytes,
        extra: list[tuple[bytes, bytes]] | None = None,
        *,
        head: bool = False,
    ) -> None:
        headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
        headers += _SECURITY_HEADERS
        if extra:
            headers += extra
        start: Message = {"type": "http.response.start", "status": status, "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": b"" if head else body})
