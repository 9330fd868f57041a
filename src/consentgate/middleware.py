"""``ConsentMiddleware``: enforces the consent policy on every HTTP request, in pure ASGI.

Inbound, it reads the consent cookie, works out the effective consent (the visitor's choice under
the student and GPC ceilings), removes cookies of categories that are not allowed from the
request and puts the consent in ``scope["state"]["consent"]`` (``request.state.consent``).
Outbound, in a wrapped ``send``, it drops every ``Set-Cookie`` of a category that is not allowed,
deletes cookies the visitor has withdrawn, and adds ``Vary``. Everything else passes byte-exact.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consentgate.banner.assets import AssetStore
from consentgate.banner.banner import BANNER_SCOPE_KEY, Banner
from consentgate.banner.csp import NONCE_STATE_KEY, ConsentCsp
from consentgate.banner.i18n import LanguageChooser, Localizer
from consentgate.banner.injection import PageHook
from consentgate.enforce.consent import Consent, ConsentResolver
from consentgate.enforce.consent_cookie import (
    COOKIE_NAME,
    SECURE_COOKIE_NAME,
    ConsentCookieCodec,
    StoredChoice,
)
from consentgate.enforce.cookie_headers import deletion_header, request_cookie_value, set_cookie_name
from consentgate.enforce.decisions import DecisionHook
from consentgate.enforce.endpoints import ConsentEndpoints
from consentgate.enforce.hooks import PrivacyLogHooks, VisitSink
from consentgate.enforce.keys import SecretKeys
from consentgate.enforce.policy import Policy
from consentgate.enforce.rate_limit import DEFAULT_DECISION_RATE_LIMIT, DecisionRateLimit
from consentgate.enforce.students import (
    StudentResolver,
    TenantResolver,
    default_student_resolver,
    default_tenant_resolver,
)
from consentgate.log.visits import VisitIdentity, identity_of, queued_visit

__all__ = ["SCOPE_KEY", "ConsentMiddleware"]

logger = logging.getLogger("consentgate")

SCOPE_KEY = "consentgate.consent"
_ESSENTIAL_ONLY = frozenset({"essential"})
_now = time.time
# Response header names handled without lowercasing (the common, already-lowercase spellings).
_PLAIN_KEYS = frozenset({b"set-cookie", b"content-type", b"vary", b"content-length", b"cache-control",
                         b"etag", b"last-modified", b"location", b"date", b"server"})


def _nothing() -> None:
    return None
_UNCHANGED: tuple[None, tuple[str, ...]] = (None, ())
_CONSENT_NAMES = frozenset({COOKIE_NAME, SECURE_COOKIE_NAME})
_VARY_TOKENS = (b"Cookie", b"Sec-GPC")
_CACHE_LIMIT = 4096


class ConsentMiddleware:
    """Server-side enforcement of a consent :class:`~consentgate.enforce.policy.Policy`.

    Args:
        app: the ASGI app to protect.
        policy: the loaded policy (``Policy.from_file("consent.toml")``).
        secret_key: key(s) that sign the consent cookie; a sequence rotates keys (oldest first,
            newest last; the newest signs). At least 32 random characters.
        student_resolver: ``scope -> bool`` (sync or async); adds to the built-in role detection.
        tenant_resolver: ``scope -> str | None`` (sync or async); replaces the built-in lookup.
        on_decision: called (and awaited) with every :class:`~consentgate.enforce.decisions.Decision`
            before the consent endpoint answers.
        prefix: where the consent endpoints live.
        vary: ``"auto"`` adds ``Vary: Cookie, Sec-GPC`` to responses that set cookies, are HTML or
            were changed; ``"always"`` to every response.
        https: force the cookie scheme; by default it follows ``scope["scheme"]``.
        development: allow a missing/weak secret (a random key is used; never in production).
        privacy_log: records receipts and visits (``consentgate.log.privacy_log``); started and
            flushed on the app's lifespan.
        decision_rate_limit: how many decisions one client may record (a burst, then per minute;
            keyed by consent id, else by ``scope["client"]``); ``None`` turns the limit off.
        banner: inject the consent banner before ``</body>`` of HTML pages (``False``: place it
            yourself with ``{{ consentgate_banner(request) }}``, or not at all).
        csp: the consent-aware Content-Security-Policy mode; ``None`` follows the policy's ``csp``.
        language: ``scope -> language code | None``: the app's choice of banner language.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        policy: Policy,
        secret_key: str | list[str] | tuple[str, ...] | SecretKeys | None,
        student_resolver: StudentResolver | None = None,
        tenant_resolver: TenantResolver | None = None,
        on_decision: DecisionHook | None = None,
        prefix: str = "/_consent",
        vary: Literal["auto", "always"] = "auto",
        https: bool | None = None,
        development: bool = False,
        notice_hash: Callable[[str | None], str] | None = None,
        gpc_last_update: date | None = None,
        privacy_log: PrivacyLogHooks | None = None,
        decision_rate_limit: DecisionRateLimit | None = DEFAULT_DECISION_RATE_LIMIT,
        banner: bool = True,
        csp: Literal["off", "report-only", "enforce"] | None = None,
        language: LanguageChooser | None = None,
    ) -> None:
        if not isinstance(policy, Policy):
            raise TypeError("policy must be a consentgate.Policy (use Policy.from_file(path))")
        if not prefix.startswith("/") or prefix.endswith("/") or len(prefix) < 2:
            raise ValueError(f"prefix must look like '/_consent', got {prefix!r}")
        if vary not in ("auto", "always"):
            raise ValueError(f"vary must be 'auto' or 'always', got {vary!r}")
        self.app = app
        self.policy = policy
        self.keys = SecretKeys.load(secret_key, development=development)
        self.codec = ConsentCookieCodec(self.keys, policy)
        self.resolver = ConsentResolver(policy)
        self.student_resolver = student_resolver
        self.tenant_resolver = tenant_resolver or default_tenant_resolver
        self.vary_always = vary == "always"
        self.https = https
        self.privacy_log = privacy_log
        sink_of = getattr(privacy_log, "visit_sink", None)
        sink: VisitSink | None = sink_of() if sink_of is not None else None
        # Unpacked once: read on every response.
        self._visit_queue = sink.queue if sink is not None else None
        self._visit_max = sink.queue_size if sink is not None else 0
        self._visit_category = sink.category if sink is not None else ""
        self._visit_students = sink.students if sink is not None else False
        self._visit_dropped: Callable[[], None] = sink.dropped if sink is not None else _nothing
        self._visit_proxies = sink.proxies if sink is not None else False
        if privacy_log is not None and on_decision is None:
            on_decision = privacy_log.record_decision
        csp_mode = policy.csp if csp is None else csp
        if csp_mode not in ("off", "report-only", "enforce"):
            raise ValueError(f"csp must be 'off', 'report-only' or 'enforce', got {csp_mode!r}")
        self.localizer = Localizer(policy, language)
        self.assets = AssetStore(prefix)
        self._static_base = self.assets.base
        self.banner = Banner(policy, self.localizer, self.assets, prefix=prefix)
        self.csp = ConsentCsp(policy, csp_mode) if csp_mode != "off" else None
        self.pages = (
            PageHook(self.banner if banner else None, self.csp, self.localizer.language_for)
            if banner or self.csp is not None
            else None
        )
        self.endpoints = ConsentEndpoints(
            policy,
            self.codec,
            self.resolver,
            prefix=prefix,
            on_decision=on_decision,
            notice_hash=notice_hash or self.banner.notice_hash,
            gpc_last_update=gpc_last_update or datetime.now(UTC).date(),
            localizer=self.localizer,
            rate_limit=decision_rate_limit,
        )
        self._allow_unknown = policy.unknown_cookies == "allow"
        # The privacy log's visitor endpoints (my-data, forget) live under the consent prefix.
        self._rights_prefix = self.endpoints.prefix + "/" if privacy_log is not None else None
        self._endpoint_paths = self.endpoints.paths
        # The first character after "/" of every path the middleware answers itself (assets,
        # endpoints, data rights): any other request skips those checks with one set lookup.
        self._own_initials = frozenset(p[1:2] for p in (*self._endpoint_paths, self._static_base, prefix))
        # (cookie header, granted) -> (filtered header or None when unchanged, withdrawn names)
        self._inbound_cache: dict[tuple[bytes, frozenset[str]], tuple[bytes | None, tuple[str, ...]]] = {}
        self._name_cache: dict[frozenset[str], dict[bytes, bool]] = {}
        self._visitor_cache: dict[bytes, _Visitor] = {}
        self._consent_cache: dict[tuple[bool, bool, str | None], Consent] = {}

    # -- per request -----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and self.privacy_log is not None:
                await self.app(scope, self._lifespan_receive(receive, self.privacy_log), send)
                return
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        ours = path[1:2] in self._own_initials
        if ours and path.startswith(self._static_base):
            await self.assets(scope, receive, send)
            return

        cookie_header: bytes | None = None
        gpc = False
        for key, value in scope["headers"]:
            if key == b"cookie":
                cookie_header = value if cookie_header is None else cookie_header + b"; " + value
            elif key == b"sec-gpc":
                gpc = value.strip() == b"1"  # R-GPC-1: exactly "1"
        https = self.https if self.https is not None else scope.get("scheme") in ("https", "wss")

        visitor = self._visitor_cache.get(cookie_header) if cookie_header else None  # the usual case
        if visitor is None and cookie_header:
            visitor = self._visitor(cookie_header)
        now = 0.0
        if visitor is not None:
            previous = visitor.choice  # (a choice of another revision or too old is not current)
            now = _now()
            stored = previous if visitor.current_from <= now <= visitor.current_until else None
        else:
            previous = stored = None
        # The built-in role and tenant signals live in the scope's state and the session; with
        # neither present (most requests of most apps) there is nothing to look at.
        has_roles = bool(scope.get("state") or scope.get("session"))
        is_student = has_roles and default_student_resolver(scope)
        if not is_student and self.student_resolver is not None:
            result = self.student_resolver(scope)
            is_student = bool(await result) if inspect.isawaitable(result) else bool(result)
        if has_roles or self.tenant_resolver is not default_tenant_resolver:
            tenant_value = self.tenant_resolver(scope)
            if not isinstance(tenant_value, str | None) and inspect.isawaitable(tenant_value):
                tenant_value = await tenant_value
            tenant = tenant_value if isinstance(tenant_value, str) and tenant_value else None
        else:
            tenant = None
        if stored is not None and visitor is not None:
            # A returning visitor in the same situation as last time gets the same Consent object.
            situation = (is_student, gpc, tenant)
            if visitor.situation == situation and visitor.consent is not None:
                consent = visitor.consent
            else:
                consent = self.resolver.resolve(stored, is_student=is_student, gpc=gpc, tenant=tenant)
                visitor.situation, visitor.consent = situation, consent
                visitor.identity = identity_of(consent) if self._recordable(consent) else None
            identity = visitor.identity
        else:
            consent = self._consent_cache.get((is_student, gpc, tenant)) or self._no_choice_consent(
                is_student, gpc, tenant
            )
            identity = identity_of(consent) if self._recordable(consent) else None

        state = scope.get("state")
        if state is None:
            scope["state"] = state = {}
        state["consent"] = consent
        scope[SCOPE_KEY] = consent
        scope[BANNER_SCOPE_KEY] = self.banner
        if self.csp is not None:
            state[NONCE_STATE_KEY] = self.csp.new_nonce()

        if ours and path in self._endpoint_paths:

            def withdrawals(granted: frozenset[str]) -> list[tuple[bytes, bytes]]:
                if not cookie_header:
                    return []
                return self.deletion_headers(self._filter_inbound(cookie_header, granted)[1], https)

            await self.endpoints.handle(scope, receive, send, consent, previous, https, withdrawals)
            return
        if ours and self._rights_prefix is not None and path.startswith(self._rights_prefix):
            assert self.privacy_log is not None
            clear = [(b"set-cookie", self.codec.clear_cookie_header(https=https))]
            if cookie_header:
                clear += self.deletion_headers(self._filter_inbound(cookie_header, _ESSENTIAL_ONLY)[1], https)
            if await self.privacy_log.handle(scope, receive, send, consent, clear):
                return

        withdrawn: tuple[str, ...] = ()
        # (Only the consent cookie in the header, the usual case, leaves nothing to filter.)
        if cookie_header and (b";" in cookie_header or not cookie_header.startswith(_PLAIN_NEEDLE)):
            filtered, withdrawn = self._filter_inbound(cookie_header, consent.granted)
            if filtered is not None:
                scope = dict(scope)
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"cookie"]
                if filtered:
                    scope["headers"].append((b"cookie", filtered))
        record = (now or _now(), identity) if identity is not None and scope["method"] == "GET" else None
        await self.app(scope, receive, self._wrap_send(scope, send, consent, withdrawn, https, record))

    @staticmethod
    def _lifespan_receive(receive: Receive, log: PrivacyLogHooks) -> Receive:
        """Start the privacy log before the app's startup and flush it after its shutdown."""

        async def lifespan_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await log.start()
            elif message["type"] == "lifespan.shutdown":
                await log.stop()
            return message

        return lifespan_receive

    def _visitor(self, cookie_header: bytes) -> _Visitor:
        """The signed choice in this Cookie header (any revision or age), memoised per header."""
        cache = self._visitor_cache
        try:
            return cache[cookie_header]
        except KeyError:
            pass
        value = _consent_cookie_value(cookie_header)
        choice = None if value is None else self.codec.verify(value)
        visitor = _Visitor(choice)
        if choice is not None:
            visitor.current_from, visitor.current_until = self.codec.current_window(choice)
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()  # bounded: random headers cannot grow memory
        cache[cookie_header] = visitor
        return visitor

    def _no_choice_consent(self, is_student: bool, gpc: bool, tenant: str | None) -> Consent:
        """The effective consent of a request without a valid choice, one object per situation
        (returning visitors get theirs from their ``_Visitor`` memo)."""
        key = (is_student, gpc, tenant)
        cache = self._consent_cache
        consent = cache.get(key)
        if consent is None:
            consent = self.resolver.resolve(None, is_student=is_student, gpc=gpc, tenant=tenant)
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[key] = consent
        return consent

    def _recordable(self, consent: Consent) -> bool:
        """Whether the inline visit sink may record this consent's pages (the log's default
        rule; the method and the response are checked per request). Decided once per Consent."""
        return (
            self._visit_queue is not None
            and consent.consent_id is not None
            and self._visit_category in consent.granted
            and (self._visit_students or not consent.is_student)
        )

    def _allowed_name(self, name: str, granted: frozenset[str]) -> bool:
        if name in _CONSENT_NAMES:
            return True
        category = self.policy.category_of_cookie(name)
        if category is None:
            return self._allow_unknown
        return category in granted

    def _filter_inbound(self, header: bytes, granted: frozenset[str]) -> tuple[bytes | None, tuple[str, ...]]:
        """Remove disallowed cookies from the request; name the known ones to delete (R-CON-6)."""
        if b";" not in header and header.startswith(_PLAIN_NEEDLE):
            return _UNCHANGED  # only the consent cookie: nothing to filter
        key = (header, granted)
        cached = self._inbound_cache.get(key)
        if cached is not None:
            return cached
        kept: list[bytes] = []
        withdrawn: list[str] = []
        changed = False
        for piece in header.split(b";"):
            equals = piece.find(b"=")
            if equals < 0:
                if not piece.strip(b" \t"):
                    continue
                name = ""
            else:
                name = piece[:equals].strip(b" \t").decode("utf-8", "surrogateescape")
            if self._allowed_name(name, granted):
                kept.append(piece.strip(b" \t"))
                continue
            changed = True
            # Only cookies a rule names are deleted: an unknown one may belong to another app.
            if name and self.policy.category_of_cookie(name) is not None:
                withdrawn.append(name)
        result = (b"; ".join(kept) if changed else None, tuple(dict.fromkeys(withdrawn)))
        if len(self._inbound_cache) >= _CACHE_LIMIT:
            self._inbound_cache.clear()
        self._inbound_cache[key] = result
        return result

    def deletion_headers(self, names: tuple[str, ...], https: bool) -> list[tuple[bytes, bytes]]:
        out = []
        for name in names:
            rule = self.policy.deletion_rule(name)
            out.append((b"set-cookie", deletion_header(name, rule.path, rule.domain, secure=https)))
        return out

    def _wrap_send(
        self,
        scope: Scope,
        send: Send,
        consent: Consent,
        withdrawn: tuple[str, ...],
        https: bool,
        record: tuple[float, VisitIdentity] | None = None,
    ) -> Send:
        """``record``: (time, identity) when the inline visit sink is to record this request's
        page if the response is 2xx HTML (consent and method already checked by the caller)."""
        granted = consent.granted
        # The inline sink's queue when this request may be recorded; with a custom counting rule
        # (no sink) the log itself is asked per response.
        queue = self._visit_queue if record is not None else None
        log = self.privacy_log if self._visit_queue is None else None
        pages = self.pages
        page_send: Send | None = None

        async def consent_send(message: Message) -> None:
            nonlocal page_send
            if page_send is not None:
                await page_send(message)
                return
            if message["type"] == "http.response.start":
                headers, is_html = self._filter_outbound(
                    message.get("headers", ()), granted, withdrawn, https
                )
                message["headers"] = headers
                if queue is not None:
                    if is_html and 200 <= message["status"] < 300:
                        if len(queue) < self._visit_max:
                            assert record is not None
                            try:
                                queue.append(queued_visit(record[0], scope, record[1], self._visit_proxies))
                            except Exception:  # request headers an app garbled: not recorded, counted
                                self._visit_dropped()
                        else:
                            self._visit_dropped()
                elif log is not None:
                    log.record_visit(scope, consent, message["status"], headers)
                if pages is not None:
                    page_send = pages.response_start(scope, consent, message, send)
                    if page_send is not None:
                        return  # the injector sends the start once it knows the length
            await send(message)

        return consent_send

    def _filter_outbound(
        self,
        headers: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...],
        granted: frozenset[str],
        withdrawn: tuple[str, ...],
        https: bool,
    ) -> tuple[list[tuple[bytes, bytes]], bool]:
        """Drop Set-Cookie headers of disallowed categories; the rest stays byte-exact, in order.
        Also says whether the response is HTML."""
        out: list[tuple[bytes, bytes]] = []
        vary_index = -1
        sets_cookie = False
        is_html = False
        changed = bool(withdrawn)
        # Allowed-or-not per cookie-name segment, one table per granted set (bounded in total).
        names = self._name_cache.get(granted)
        if names is None:
            if len(self._name_cache) >= 64:
                self._name_cache.clear()
            names = self._name_cache[granted] = {}
        for item in headers:
            key = item[0]
            if key not in _PLAIN_KEYS:  # ASGI says lowercase; anything else is normalised here
                key = key.lower()
            if key == b"set-cookie":
                sets_cookie = True
                # The cookie's name is fixed by the bytes before the first "=" (a ";" among them,
                # or no "=" at all, makes it a nameless cookie): memoise on those, not the value.
                value = item[1]
                eq = value.find(b"=")
                segment = value[:eq] if eq >= 0 else b";"
                allowed = names.get(segment)
                if allowed is None:
                    allowed = self._allowed_name(set_cookie_name(value), granted)
                    if len(names) >= _CACHE_LIMIT:
                        names.clear()
                    names[segment] = allowed
                if not allowed:
                    changed = True
                    continue
            elif key == b"vary":
                vary_index = len(out)
            elif key == b"content-type":
                is_html = item[1][:9].lower() == b"text/html"
            out.append(item)
        if withdrawn:
            out.extend(self.deletion_headers(withdrawn, https))
        if self.vary_always or sets_cookie or is_html or changed:
            if vary_index < 0:
                out.append(_VARY_HEADER)
            else:
                _add_vary(out, vary_index)
        return out, is_html


_VARY_HEADER = (b"vary", b"Cookie, Sec-GPC")


def _add_vary(headers: list[tuple[bytes, bytes]], index: int) -> None:
    """Add our tokens to the app's own Vary header at ``index`` (the ones it lacks)."""
    name, value = headers[index]
    present = {token.strip().lower() for token in value.split(b",")}
    if b"*" in present:
        return
    missing = [t for t in _VARY_TOKENS if t.lower() not in present]
    if missing:
        headers[index] = (name, b", ".join([value, *missing]))


_PLAIN_NAME = COOKIE_NAME.encode()
_SECURE_NAME = SECURE_COOKIE_NAME.encode()
_PLAIN_NEEDLE = _PLAIN_NAME + b"="
_SECURE_PREFIX = SECURE_COOKIE_NAME.encode()[: -len(COOKIE_NAME)]


class _Visitor:
    """What one Cookie header means: the verified choice, and the Consent last built from it."""

    __slots__ = ("choice", "consent", "current_from", "current_until", "identity", "situation")

    def __init__(self, choice: StoredChoice | None) -> None:
        self.choice = choice
        self.situation: tuple[bool, bool, str | None] | None = None
        self.consent: Consent | None = None
        # what the inline visit sink files this Consent's pages under; None: not recorded
        self.identity: VisitIdentity | None = None
        # when the choice is current (consent_cookie.current_window); never without a choice
        self.current_from = math.inf
        self.current_until = -math.inf


def _consent_cookie_value(header: bytes) -> bytes | None:
    """The consent cookie's value (``__Host-consentgate`` preferred over ``consentgate``), found in
    one scan: the plain name is a suffix of the prefixed one."""
    if header.startswith(_PLAIN_NEEDLE) and b";" not in header:
        return header[len(_PLAIN_NEEDLE) :].strip(b" \t")  # the common case: nothing else
    if _PLAIN_NEEDLE not in header:
        return None
    return request_cookie_value(header, _SECURE_NAME) or request_cookie_value(header, _PLAIN_NAME)
