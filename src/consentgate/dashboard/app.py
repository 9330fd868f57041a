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

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Receive, Scope, Send

from consentgate._files import package_dir
from consentgate.banner.banner import PLACED_STATE_KEY
from consentgate.cookies.undeclared import Reviewed, review
from consentgate.dashboard.access import COOKIE_NAME, MIN_TOKEN_LENGTH, TOKEN_PARAM, Tokens
from consentgate.dashboard.page import SECURITY_HEADERS, STYLE_MARKUP, category_view, page_context
from consentgate.dashboard.undeclared import undeclared_context
from consentgate.enforce.cookie_headers import request_cookie_value
from consentgate.enforce.policy import Policy
from consentgate.i18n.catalogs import LANGUAGES, Localizer
from consentgate.log.stores.base import Store, StoreError
from consentgate.log.stores.factory import open_store
from consentgate.log.stores.results import StoreStats

__all__ = ["COOKIE_NAME", "MIN_TOKEN_LENGTH", "Dashboard"]


class Dashboard:
    """A read-only, token-protected ASGI app showing the policy and the privacy log's figures.

    Args:
        store: the privacy log's store, or a path / URL for :func:`consentgate.open_store`.
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
        self.tokens = Tokens(tokens) if tokens else None
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
        self._categories = tuple(category_view(c, localizer, language) for c in policy.categories)

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
            key = key.lower()  # header names in any case
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
        html = self._page.render(mode="login", wrong=wrong, title=self.title, style=STYLE_MARKUP)
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

    async def _undeclared(self) -> list[Reviewed]:
        """What live discovery found and the policy still does not name, with suggestions."""
        entries = await run_in_threadpool(self.store.undeclared_cookies)
        return review(entries, self.policy)

    async def _send_page(self, send: Send, method: str) -> None:
        now = datetime.now(UTC)
        undeclared: list[Reviewed] = []
        try:
            stats: StoreStats | None = await self._stats()
            undeclared = await self._undeclared()
            error = None
        except StoreError as exc:
            stats, error = None, str(exc)
        context = self._context(stats, error, now)
        context.update(undeclared_context(undeclared, self.policy))
        html = self._page.render(**context)
        body = html.encode()
        status = 200 if stats is not None else 503
        await self._send(send, status, body, b"text/html; charset=utf-8", head=method == "HEAD")

    async def _send_json(self, send: Send, method: str) -> None:
        try:
            stats = await self._stats()
            undeclared = await self._undeclared()
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
            "undeclared_cookies": [item.as_dict() for item in undeclared],
        }
        body = json.dumps(data, indent=2).encode()
        await self._send(send, 200, body, b"application/json", head=method == "HEAD")

    def _context(self, stats: StoreStats | None, error: str | None, now: datetime) -> dict[str, Any]:
        return page_context(
            title=self.title,
            store=self.store.description,
            days=self.days,
            policy=self.policy,
            categories=self._categories,
            stats=stats,
            error=error,
            now=now,
        )

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
        headers += SECURITY_HEADERS
        if extra:
            headers += extra
        start: Message = {"type": "http.response.start", "status": status, "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": b"" if head else body})
