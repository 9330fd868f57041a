"""``ConsentMiddleware``: the consent policy on every HTTP request, in pure ASGI.

It composes consentgate's parts: enforcement (:mod:`consentgate.enforce`) decides and filters,
the banner (:mod:`consentgate.banner`) goes into HTML pages, and an optional privacy log
(:mod:`consentgate.log`) records decisions and visits. A request's path, top to bottom:

1. not HTTP, or one of our own assets: passed on / served;
2. read the request: the consent cookie, ``Sec-GPC``, the scheme;
3. decide the effective consent (the choice under the student and GPC ceilings);
4. our own endpoints (``/_consent``, GPC declaration, my-data) answer here;
5. filter the request's cookies (the app never sees a disallowed one);
6. call the app with a wrapped ``send`` that filters ``Set-Cookie``, deletes withdrawn cookies,
   adds ``Vary``, records the visit and injects the banner.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consentgate.banner.assets import AssetStore
from consentgate.banner.banner import BANNER_SCOPE_KEY, Banner
from consentgate.banner.csp import NONCE_STATE_KEY, ConsentCsp
from consentgate.banner.injection import PageHook
from consentgate.enforce.consent import Consent, ConsentResolver
from consentgate.enforce.consent_cookie import ConsentCookieCodec, StoredChoice
from consentgate.enforce.cookie_filter import CookieFilter
from consentgate.enforce.decisions import DecisionHook
from consentgate.enforce.endpoints import ConsentEndpoints, error_response
from consentgate.enforce.hooks import PrivacyLogHooks
from consentgate.enforce.keys import SecretKeys
from consentgate.enforce.policy import Policy
from consentgate.enforce.rate_limit import DEFAULT_DECISION_RATE_LIMIT, DecisionRateLimit
from consentgate.enforce.situation import SituationReader
from consentgate.enforce.students import (
    StudentResolver,
    TenantResolver,
)
from consentgate.enforce.visitors import Situation, Visitors, consent_cookie_value
from consentgate.i18n.catalogs import LanguageChooser, LocalesFolder, Localizer
from consentgate.log.autostart import LogLifecycle
from consentgate.log.privacy_log import PrivacyLog
from consentgate.log.recording import VisitRecorder
from consentgate.log.useragent import crawler_detector
from consentgate.log.visits import VisitIdentity

__all__ = ["SCOPE_KEY", "ConsentMiddleware"]

logger = logging.getLogger("consentgate")

SCOPE_KEY = "consentgate.consent"
"""Where the request's :class:`~consentgate.enforce.consent.Consent` is in the scope."""
CRAWLER_DECISION = "automated clients (crawlers) cannot record consent decisions"
_ESSENTIAL_ONLY = frozenset({"essential"})
_now = time.time


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
        notice_hash: ``language -> hex digest`` of the notice shown, recorded with every decision
            (default: SHA-256 of the banner's texts).
        gpc_last_update: ``lastUpdate`` of ``/.well-known/gpc.json`` (default: the start-up day).
        privacy_log: records receipts and visits (:class:`consentgate.PrivacyLog`); started and
            flushed on the app's lifespan, or, when no lifespan comes, started by the first
            request and flushed at process exit (:mod:`consentgate.log.autostart`).
        decision_rate_limit: how many decisions one client may record (a burst, then per minute;
            keyed by consent id, else by the network address, whose bucket is ``per_address``
            times larger: the privacy log's trusted proxies' forwarded one, else
            ``scope["client"]``); with a privacy log its buckets live in the log's store, so the
            limit holds for the whole site (``shared=False``: per process); ``None`` turns it off.
        banner: inject the consent banner before ``</body>`` of HTML pages (``False``: place it
            yourself with ``{{ consentgate_banner(request) }}``, or not at all).
        csp: the consent-aware Content-Security-Policy mode; ``None`` follows the policy's ``csp``.
        language: ``scope -> language code | None``: the app's choice of banner language.
        locales: a folder of language packs (``xx.json``), checked here (default: the policy's).
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
        locales: LocalesFolder | None = None,
    ) -> None:
        if not isinstance(policy, Policy):
            raise TypeError("policy must be a consentgate.Policy (use Policy.from_file(path))")
        if not prefix.startswith("/") or prefix.endswith("/") or len(prefix) < 2:
            raise ValueError(f"prefix must look like '/_consent', got {prefix!r}")
        if vary not in ("auto", "always"):
            raise ValueError(f"vary must be 'auto' or 'always', got {vary!r}")
        csp_mode = policy.csp if csp is None else csp
        if csp_mode not in ("off", "report-only", "enforce"):
            raise ValueError(f"csp must be 'off', 'report-only' or 'enforce', got {csp_mode!r}")
        self.app = app
        self.policy = policy
        self.keys = SecretKeys.load(secret_key, development=development)
        self.codec = ConsentCookieCodec(self.keys, policy)
        self.resolver = ConsentResolver(policy)
        self.situations = SituationReader(student_resolver, tenant_resolver)
        self.https = https
        self.cookies = CookieFilter(policy, vary_always=vary == "always")

        # Crawlers: no banner, no visit, no receipt (policy [crawlers]; enforcement unchanged).
        self.crawlers = crawler_detector(policy.crawlers)

        # The privacy log: receipts through the decision hook, visits through the recorder.
        self.privacy_log = privacy_log
        self.visits = VisitRecorder(privacy_log, self.crawlers) if privacy_log is not None else None
        # Started by the lifespan, or by the first request when no lifespan comes (log/autostart.py).
        self._log_lifecycle = LogLifecycle(privacy_log) if privacy_log is not None else None
        self._log_waiting = privacy_log is not None
        if privacy_log is not None and on_decision is None:
            on_decision = privacy_log.record_decision
        identity = self.visits.identity if self.visits is not None else _no_identity
        self.visitors = Visitors(self.codec, self.resolver, identity)
        self.cookies.discovery = privacy_log.discovery_sink() if privacy_log is not None else None
        self.cookies.unnoted = self.crawlers  # a crawler's cookies are no discovery entry

        # The banner and the consent-aware CSP, applied to HTML pages.
        self.localizer = Localizer(policy, language, locales)
        if isinstance(privacy_log, PrivacyLog):
            privacy_log.use_localizer(self.localizer)  # my-data speaks the banner's languages
        self.assets = AssetStore(prefix)
        self.banner = Banner(policy, self.localizer, self.assets, prefix=prefix, csp=csp_mode)
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
            wording=self.localizer,
            rate_limit=decision_rate_limit,
            pages=self.banner.pages,  # GET <prefix>/cookies: the cookie declaration
            # With a privacy log, the decision limit holds across every process sharing its store.
            shared_buckets=privacy_log.rate_buckets()
            if privacy_log is not None and decision_rate_limit is not None and decision_rate_limit.shared
            else None,
            client_address=privacy_log.client_address if privacy_log is not None else None,
        )
        # The privacy log's visitor endpoints (my-data, forget) live under the consent prefix.
        self._rights_prefix = prefix + "/" if privacy_log is not None else None
        self._decisions_path = prefix
        self.banner.crawlers = self.crawlers

    # -- the request's path ----------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._not_http(scope, receive, send)
            return
        if self._log_waiting:
            await self._start_log_without_lifespan()
        path: str = scope["path"]
        if path.startswith(self.assets.base):
            await self.assets(scope, receive, send)
            return
        cookie_header, gpc, https = self._read(scope)
        situation = self.situations.read(scope, gpc)
        if not isinstance(situation, tuple):  # the app's resolver is async
            situation = await situation
        consent, previous, identity = self._decide(cookie_header, situation)
        self._publish(scope, consent)
        if self._is_own(path) and await self._answer_own(
            scope, receive, send, consent, previous, cookie_header, https
        ):
            return
        scope, withdrawn = self._filter_request(scope, cookie_header, consent.granted)
        await self.app(scope, receive, self._wrap_send(scope, send, consent, withdrawn, https, identity))

    async def _not_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass websockets through; start the privacy log before the app's lifespan startup and
        flush it after its shutdown (answering the lifespan itself for an app that does not)."""
        if scope["type"] == "lifespan" and self._log_lifecycle is not None:
            self._log_waiting = False
            await self._log_lifecycle.lifespan(self.app, scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _start_log_without_lifespan(self) -> None:
        """No lifespan startup came before this request: the privacy log starts itself, once."""
        assert self._log_lifecycle is not None  # _log_waiting is only set with a log
        await self._log_lifecycle.first_request()
        self._log_waiting = False

    def _read(self, scope: Scope) -> tuple[bytes | None, bool, bool]:
        """The request's Cookie header (several are joined), whether it sends ``Sec-GPC: 1``, and
        whether it came over HTTPS."""
        cookie_header: bytes | None = None
        gpc = False
        for key, value in scope["headers"]:
            # Servers send lowercase names (the ASGI spec); other spellings are compared lowered.
            if len(key) == 6 and (key == b"cookie" or key.lower() == b"cookie"):
                cookie_header = value if cookie_header is None else cookie_header + b"; " + value
            elif len(key) == 7 and (key == b"sec-gpc" or key.lower() == b"sec-gpc"):
                gpc = value.strip() == b"1"  # R-GPC-1: exactly "1"
        https = self.https if self.https is not None else scope.get("scheme") in ("https", "wss")
        return cookie_header, gpc, https

    def _decide(
        self, cookie_header: bytes | None, situation: Situation
    ) -> tuple[Consent, StoredChoice | None, VisitIdentity | None]:
        """The effective consent, the stored choice (any revision or age) and, when the visit log
        may record this visitor's pages, the identity they are filed under."""
        value = consent_cookie_value(cookie_header, self.codec.read_order) if cookie_header else None
        entry, previous = self.visitors.decide(value, situation, _now())
        consent = entry.consent
        assert consent is not None  # Visitors.decide hands back resolved entries only
        return consent, previous, entry.tag

    def _publish(self, scope: Scope, consent: Consent) -> None:
        """Tell the app: ``request.state.consent``, ``scope["consentgate.consent"]``, the banner
        and the page's CSP nonce."""
        state = scope.get("state")
        if state is None:
            scope["state"] = state = {}
        state["consent"] = consent
        scope[SCOPE_KEY] = consent
        scope[BANNER_SCOPE_KEY] = self.banner
        if self.csp is not None:
            state[NONCE_STATE_KEY] = self.csp.new_nonce()

    def _is_own(self, path: str) -> bool:
        """Whether the middleware answers this path itself (checked before any coroutine is made:
        nearly every request is the app's)."""
        return path in self.endpoints.paths or (
            self._rights_prefix is not None and path.startswith(self._rights_prefix)
        )

    async def _answer_own(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        consent: Consent,
        previous: StoredChoice | None,
        cookie_header: bytes | None,
        https: bool,
    ) -> bool:
        """Serve the consent endpoints and the privacy log's visitor pages; False for the app's."""
        path = scope["path"]
        if path in self.endpoints.paths:
            if path == self._decisions_path and scope["method"] == "POST" and self._crawler(scope):
                await error_response(403, CRAWLER_DECISION)(scope, receive, send)  # no receipt, no cookie
                return True

            def withdrawals(granted: frozenset[str]) -> list[tuple[bytes, bytes]]:
                return self._withdrawals(cookie_header, granted, https)

            await self.endpoints.handle(scope, receive, send, consent, previous, https, withdrawals)
            return True
        if self._rights_prefix is not None and path.startswith(self._rights_prefix):
            assert self.privacy_log is not None  # _rights_prefix is set with the log
            clear = [(b"set-cookie", header) for header in self.codec.clear_cookie_headers(https=https)]
            clear += self._withdrawals(cookie_header, _ESSENTIAL_ONLY, https)
            return await self.privacy_log.handle(scope, receive, send, consent, clear, https)
        return False

    def _crawler(self, scope: Scope) -> bool:
        return self.crawlers is not None and self.crawlers(scope)

    def _withdrawals(
        self, cookie_header: bytes | None, granted: frozenset[str], https: bool
    ) -> list[tuple[bytes, bytes]]:
        """Set-Cookie headers deleting the request's known cookies that ``granted`` no longer allows."""
        if not cookie_header:
            return []
        return self.cookies.deletion_headers(self.cookies.inbound(cookie_header, granted)[1], https)

    def _filter_request(
        self, scope: Scope, cookie_header: bytes | None, granted: frozenset[str]
    ) -> tuple[Scope, tuple[str, ...]]:
        """The scope the app gets (without disallowed cookies) and the cookies to delete."""
        if not cookie_header:
            return scope, ()
        filtered, withdrawn = self.cookies.inbound(cookie_header, granted, scope)
        if filtered is not None:
            scope = dict(scope)
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"cookie"]
            if filtered:
                headers.append((b"cookie", filtered))
            scope["headers"] = headers
        return scope, withdrawn

    def _wrap_send(
        self,
        scope: Scope,
        send: Send,
        consent: Consent,
        withdrawn: tuple[str, ...],
        https: bool,
        identity: VisitIdentity | None,
    ) -> Send:
        """The app's ``send``: filters the response start, records the visit, injects the banner."""
        granted = consent.granted
        pages = self.pages
        page_send: Send | None = None

        async def consent_send(message: Message) -> None:
            nonlocal page_send
            if page_send is not None:
                await page_send(message)
                return
            if message["type"] == "http.response.start":
                outbound = self.cookies.outbound(message.get("headers", ()), granted, withdrawn, https)
                message["headers"] = outbound.headers
                if outbound.undeclared:  # names no policy rule names: live cookie discovery
                    self.cookies.note("set-cookie", outbound.undeclared, scope)
                if self.visits is not None:
                    self.visits.record(scope, consent, identity, message["status"], outbound)
                if pages is not None:
                    page_send = pages.response_start(
                        scope, consent, message, send, outbound.content_type, outbound.encoded
                    )
                    if page_send is not None:
                        return  # the injector sends the start once it knows the length
            await send(message)

        return consent_send


def _no_identity(consent: Consent) -> None:
    """Without a privacy log no page is recorded."""
    return None
