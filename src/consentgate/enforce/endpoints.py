"""The consent endpoints the middleware answers itself (default prefix ``/_consent``).

``GET /_consent`` tells the banner the effective consent and the policy's categories;
``POST /_consent`` records a decision; ``GET /.well-known/gpc.json`` declares GPC support.
Every bad request gets a JSON error saying what was wrong; none of them can reach a 500.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from consentgate.enforce.consent import Consent, ConsentResolver
from consentgate.enforce.consent_cookie import ConsentCookieCodec, StoredChoice, new_consent_id
from consentgate.enforce.decisions import Decision, DecisionHook, call_hook
from consentgate.enforce.hooks import Wording
from consentgate.enforce.policy import ESSENTIAL, Policy
from consentgate.enforce.rate_limit import (
    DEFAULT_DECISION_RATE_LIMIT,
    DecisionRateLimit,
    RateLimiter,
    SharedBuckets,
)

__all__ = ["MAX_BODY_BYTES", "ConsentEndpoints", "RequestError"]

logger = logging.getLogger("consentgate")

MAX_BODY_BYTES = 8 * 1024
HOOK_FAILED = "consentgate: the decision hook failed; the decision was not acknowledged"
FOREIGN_HOST = (
    "consentgate: a decision came in for host %r, outside the policy's [consent_cookie] domain %r: "
    "browsers refuse the consent cookie there, so visitors on that host are asked again every time"
)
_TOKEN = re.compile(r"[a-z][a-z0-9_:.\-]{0,39}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")
_NO_STORE = {"cache-control": "no-store"}

Withdrawals = Callable[[frozenset[str]], list[tuple[bytes, bytes]]]
"""Given the categories now allowed, the Set-Cookie headers deleting the request's other cookies."""


class RequestError(Exception):
    """A request to a consent endpoint that cannot be honoured; becomes a JSON error."""

    def __init__(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def error_response(status: int, message: str, retry_after: float | None = None) -> Response:
    headers = dict(_NO_STORE)
    if retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(retry_after)))
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first request header called ``name`` (lowercase); other spellings match too (servers send
    lowercase names, an inner middleware or a test client may not)."""
    size = len(name)
    for key, value in scope["headers"]:
        if key == name or (len(key) == size and key.lower() == name):
            return bytes(value)
    return None


def _host_and_port(authority: bytes, default_port: int) -> tuple[bytes, int] | None:
    """``host[:port]`` (an IPv6 host in brackets) as (lowercased host, port); None if malformed."""
    host, port = authority, b""
    colon = authority.rfind(b":")
    if colon >= 0 and b"]" not in authority[colon:]:
        host, port = authority[:colon], authority[colon + 1 :]
    if not host or (port and not (port.isdigit() and len(port) <= 5)):
        return None
    return host.lower(), int(port) if port else default_port


def check_same_origin(scope: Scope, https: bool | None = None) -> None:
    """Refuse cross-site requests (CSRF): ``Sec-Fetch-Site`` must say same origin and ``Origin``
    must name this site's scheme, host and port (a missing port is the scheme's default).

    ``https``: whether the site is served over HTTPS (the middleware's own setting behind a proxy
    that terminates TLS); by default the request's scheme.
    """
    fetch_site = header(scope, b"sec-fetch-site")
    if fetch_site is not None and fetch_site not in (b"same-origin", b"none"):
        raise RequestError(403, "cross-site request refused: consent can only be changed by the site itself")
    origin = header(scope, b"origin")
    if origin is None:
        return
    if https is None:
        https = scope.get("scheme") in ("https", "wss")
    scheme, default_port = (b"https", 443) if https else (b"http", 80)
    origin_scheme, sep, authority = origin.partition(b"://")
    host = header(scope, b"host")
    ours = _host_and_port(host, default_port) if host is not None else None
    if (
        ours is None
        or not sep
        or origin_scheme.lower() != scheme
        or _host_and_port(authority, default_port) != ours
    ):
        raise RequestError(403, "cross-origin request refused: the Origin header names another site")


async def read_json_body(scope: Scope, receive: Receive) -> Any:
    """Read at most 8 KiB of JSON; larger bodies are refused before they are read in full."""
    content_type = (header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
    if content_type != b"application/json":
        raise RequestError(415, "send the decision as JSON with Content-Type: application/json")
    length = header(scope, b"content-length")
    if length is not None:
        try:
            if int(length) > MAX_BODY_BYTES:
                raise RequestError(413, f"request body over {MAX_BODY_BYTES} bytes")
        except ValueError:
            raise RequestError(400, "invalid Content-Length") from None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestError(400, "client disconnected")
        body = message.get("body", b"")
        size += len(body)
        if size > MAX_BODY_BYTES:
            raise RequestError(413, f"request body over {MAX_BODY_BYTES} bytes")
        chunks.append(body)
        if not message.get("more_body", False):
            break
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError):
        raise RequestError(400, "body is not valid JSON") from None


class ConsentEndpoints:
    """Serves the consent API for one middleware instance."""

    def __init__(
        self,
        policy: Policy,
        codec: ConsentCookieCodec,
        resolver: ConsentResolver,
        *,
        prefix: str,
        on_decision: DecisionHook | None,
        notice_hash: Callable[[str | None], str],
        gpc_last_update: date,
        rate_limit: DecisionRateLimit | None = DEFAULT_DECISION_RATE_LIMIT,
        wording: Wording | None = None,
        pages: Mapping[str, ASGIApp] | None = None,
        shared_buckets: SharedBuckets | None = None,
        client_address: Callable[[Scope], str | None] | None = None,
    ) -> None:
        self.policy = policy
        #: the visitor's address for the rate limit (default: the connection's peer); the privacy
        #: log gives one that believes its trusted proxies' forwarding headers
        self.client_address = client_address or _peer
        self.wording = wording
        self.rate_limiter = (
            RateLimiter(rate_limit, shared_buckets, key=codec.derive_key(b"rate-limit"))
            if rate_limit is not None
            else None
        )
        self.codec = codec
        self.resolver = resolver
        self.prefix = prefix
        self.on_decision = on_decision
        self.notice_hash = notice_hash
        self._gpc_body = json.dumps({"gpc": True, "lastUpdate": gpc_last_update.isoformat()}).encode()
        self._optional = frozenset(policy.optional_categories)
        #: other parts' pages served here, by path (the banner's cookie declaration)
        self.pages = dict(pages or {})
        #: the request paths these endpoints answer (the middleware checks ``path in paths``)
        self.paths = frozenset((prefix, "/.well-known/gpc.json", *self.pages))
        self._foreign_host_logged = False

    async def handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        consent: Consent,
        previous: StoredChoice | None,
        https: bool,
        withdrawals: Withdrawals,
    ) -> None:
        page = self.pages.get(scope["path"])
        if page is not None:
            await page(scope, receive, send)
            return
        try:
            response = await self._dispatch(scope, receive, consent, previous, https, withdrawals)
        except RequestError as exc:
            response = error_response(exc.status, exc.message, exc.retry_after)
        await response(scope, receive, send)

    async def _dispatch(
        self,
        scope: Scope,
        receive: Receive,
        consent: Consent,
        previous: StoredChoice | None,
        https: bool,
        withdrawals: Withdrawals,
    ) -> Response:
        path, method = scope["path"], scope["method"]
        if path == "/.well-known/gpc.json":
            if method not in ("GET", "HEAD"):
                raise RequestError(405, "use GET")
            return Response(self._gpc_body, media_type="application/json")
        if method in ("GET", "HEAD"):
            return JSONResponse(self.state(consent, scope), headers=_NO_STORE)
        if method == "POST":
            check_same_origin(scope, https)
            await self._check_rate(scope, previous)
            body = await read_json_body(scope, receive)
            return await self.decide(scope, body, consent, previous, https, withdrawals)
        raise RequestError(405, "use GET to read consent or POST to decide")

    async def _check_rate(self, scope: Scope, previous: StoredChoice | None) -> None:
        """At most a burst and then a steady trickle of decisions per client (a bounded receipt log)."""
        if self.rate_limiter is None:
            return
        if previous is not None:
            key = "id:" + previous.consent_id
        else:
            key = "ip:" + (self.client_address(scope) or "?")
        wait = await self.rate_limiter.admit(key)
        if wait > 0:
            raise RequestError(
                429, "too many consent decisions from this browser; try again shortly", retry_after=wait
            )

    def state(self, consent: Consent, scope: Scope, language: str | None = None) -> dict[str, Any]:
        """What the banner needs: the effective consent and the policy's categories, with labels in
        the request's language (``language`` when it is one of the banner's)."""
        wording = self.wording
        language = self.policy.default_language if wording is None else wording.language_for(scope, language)
        return {
            "consent": consent.as_dict(self.policy),
            "language": language,
            "categories": [
                {
                    "name": c.name,
                    "required": c.required,
                    "label": wording.label(c, language)
                    if wording
                    else c.label(language) or c.name.replace("_", " ").capitalize(),
                    "description": wording.description(c, language)
                    if wording
                    else c.description(language) or "",
                    "cookies": [r.pattern for r in c.cookies],
                    "hosts": list(c.hosts),
                    "services": list(c.services),
                    "locked": consent.locked.get(c.name),
                }
                for c in self.policy.categories
            ],
        }

    def parse_choice(self, body: Any) -> tuple[frozenset[str], str, str | None]:
        """Validate a decision body; returns (requested categories, method, language)."""
        if not isinstance(body, dict):
            raise RequestError(400, 'expected a JSON object such as {"action": "accept_all"}')
        unknown_keys = set(body) - {"action", "categories", "method", "language", "gpc"}
        if unknown_keys:
            raise RequestError(400, f"unknown field(s): {', '.join(sorted(map(str, unknown_keys)))}")
        action = body.get("action")
        categories = body.get("categories")
        if (action is None) == (categories is None):
            raise RequestError(400, 'give either "action" ("accept_all" or "deny_all") or "categories"')
        if action is not None:
            if action == "accept_all":
                requested = self._optional
            elif action == "deny_all":
                requested = frozenset()
            else:
                raise RequestError(
                    400, f'unknown action {str(action)[:40]!r}: use "accept_all" or "deny_all"'
                )
            method = str(action)
        else:
            if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
                raise RequestError(400, '"categories" must be a list of category names')
            unknown = [c for c in categories if c not in self._optional and c != ESSENTIAL]
            if unknown:
                names = ", ".join(repr(c[:40]) for c in unknown[:5])
                raise RequestError(
                    400, f"unknown category {names}; categories are {', '.join(self.policy.category_names)}"
                )
            requested = frozenset(categories) - {ESSENTIAL}
            method = "categories"
        client_method = body.get("method")
        if client_method is not None:
            if not isinstance(client_method, str) or not _TOKEN.fullmatch(client_method):
                raise RequestError(400, '"method" must be a short lowercase token such as "banner:save"')
            method = client_method
        language = body.get("language")
        if language is not None and (not isinstance(language, str) or not _LANGUAGE.fullmatch(language)):
            raise RequestError(400, '"language" must be a language code such as "en"')
        if body.get("gpc") is not None and not isinstance(body["gpc"], bool):
            raise RequestError(400, '"gpc" must be true or false (navigator.globalPrivacyControl)')
        return requested, method, language

    async def decide(
        self,
        scope: Scope,
        body: Any,
        consent: Consent,
        previous: StoredChoice | None,
        https: bool,
        withdrawals: Withdrawals,
    ) -> Response:
        requested, method, language = self.parse_choice(body)
        stored = self.resolver.limit_for_storage(requested, consent.is_student, consent.tenant)
        # R-GPC-5: navigator.globalPrivacyControl counts like Sec-GPC. Without the header on later
        # requests, the opt-out must be part of what is stored.
        gpc = consent.gpc or body.get("gpc") is True
        if gpc and not consent.gpc:
            stored = stored - self.policy.gpc_denies
        if language is None and self.wording is not None:
            language = self.wording.language_for(scope)
        consent_id = previous.consent_id if previous is not None else new_consent_id()
        now = int(time.time())
        stored_choice = StoredChoice(stored, self.policy.revision, now, consent_id)
        outcome = self.resolver.resolve(
            stored_choice, is_student=consent.is_student, gpc=gpc, tenant=consent.tenant
        )
        granted = outcome.granted - {ESSENTIAL}
        limited_by = {c: outcome.locked.get(c, "student") for c in requested - granted}
        decision = Decision(
            consent_id=consent_id,
            time=datetime.fromtimestamp(now, UTC),
            method=method,
            requested=requested,
            granted=granted,
            refused=self._optional - granted,
            stored=stored,
            revision=self.policy.revision,
            notice_hash=self.notice_hash(language),
            language=language,
            is_student=consent.is_student,
            gpc=gpc,
            tenant=consent.tenant,
            limited_by=limited_by,
        )
        if self.on_decision is not None:
            try:
                await call_hook(self.on_decision, decision)
            except Exception:
                logger.exception(HOOK_FAILED)
                raise RequestError(503, "your choice could not be recorded; please try again") from None
        response = JSONResponse(self.state(outcome, scope, language), headers=_NO_STORE)
        value = self.codec.encode(stored, consent_id, now)
        max_age = self.policy.max_age_seconds(bool(stored))
        response.raw_headers.append(
            (b"set-cookie", self.codec.set_cookie_header(value, https=https, max_age=max_age))
        )
        # A shared (Domain) cookie replaces a host-only one from before the policy shared it.
        superseded = self.codec.superseded_cookie_headers(https=https)
        response.raw_headers.extend((b"set-cookie", value) for value in superseded)
        if not self._foreign_host_logged and not self.codec.host_matches(header(scope, b"host")):
            self._foreign_host_logged = True
            logger.warning(FOREIGN_HOST, (header(scope, b"host") or b"").decode("latin-1"), self.codec.domain)
        # The answer to a withdrawal already deletes what is no longer allowed (R-CON-6).
        response.raw_headers.extend(withdrawals(outcome.granted))
        return response


def _peer(scope: Scope) -> str | None:
    """The connection's peer address, when the server gave one."""
    client = scope.get("client")
    return client[0] if client else None
