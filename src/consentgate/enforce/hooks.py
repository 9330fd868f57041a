"""How the other parts (the privacy log, the banner's wording) plug into enforcement.

The middleware stays one pure-ASGI class with one wrapped ``send``; an extension gets called at
well-defined points instead of adding another middleware layer (which would cost a second
``send`` wrapper and a second header scan per request).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.types import Receive, Scope, Send

from consentgate.enforce.consent import Consent
from consentgate.enforce.decisions import Decision
from consentgate.enforce.policy import Category
from consentgate.enforce.rate_limit import SharedBuckets

__all__ = ["DiscoverySink", "PrivacyLogHooks", "VisitSink", "Wording"]


class Wording(Protocol):
    """The words a visitor reads about categories, in their language (the banner's catalogs:
    :class:`consentgate.i18n.catalogs.Localizer`)."""

    def language_for(self, scope: Scope, override: str | None = None) -> str:
        """The language to answer this request in (``override`` when it is one we speak)."""
        ...

    def label(self, category: Category, language: str) -> str:
        """The category's name as the banner shows it."""
        ...

    def description(self, category: Category, language: str) -> str:
        """One or two sentences on what the category is for."""
        ...


@dataclass(frozen=True, slots=True)
class VisitSink:
    """What the middleware needs to queue a visit itself, inline in its send wrapper, when the log
    counts the default way (successful GETs of HTML): the queue and when a visit may go in it.
    Saves a method call and a second scan of the response headers on every page."""

    queue: deque[Any]
    queue_size: int
    category: str
    students: bool
    dropped: Callable[[], None]
    #: keep the proxy headers of a queued visit (trusted proxies are configured)
    proxies: bool = False


@dataclass(frozen=True, slots=True)
class DiscoverySink:
    """Where the middleware notes cookie names no policy rule names (live discovery): one
    ``(direction, names, path, time)`` tuple per request that carries such a name, appended
    inline; the privacy log's writer folds and stores them. Names only, never values."""

    queue: deque[Any]
    queue_size: int
    dropped: Callable[[], None]

    def note(self, direction: str, names: tuple[str, ...], path: str) -> None:
        """Append one sighting; when the queue is full, count it as dropped (never wait)."""
        if len(self.queue) >= self.queue_size:
            self.dropped()
            return
        self.queue.append((direction, names, path, time.time()))


class PrivacyLogHooks(Protocol):
    """What the middleware needs from a privacy log (see ``consentgate.log.privacy_log``)."""

    async def record_decision(self, decision: Decision) -> None:
        """Make the receipt durable (committed, or spooled) before returning."""

    def record_visit(
        self, scope: Scope, consent: Consent, status: int, headers: list[tuple[bytes, bytes]]
    ) -> None:
        """Called at ``http.response.start`` of every non-endpoint request: enqueue only, never block
        or raise. It decides itself whether the request counts and whether consent allows it."""

    def visit_sink(self) -> VisitSink | None:
        """The queue for inline recording, or None to have ``record_visit`` called instead."""

    def discovery_sink(self) -> DiscoverySink | None:
        """The queue for undeclared cookie names, or None to note none."""

    def rate_buckets(self) -> SharedBuckets | None:
        """Decision rate-limit buckets shared by every process using the same log, or None."""

    def client_address(self, scope: Scope) -> str | None:
        """The visitor's address, believing the log's trusted proxies (None when unknown)."""

    async def start(self) -> None:
        """Called on ``lifespan.startup``."""

    async def stop(self) -> None:
        """Called on ``lifespan.shutdown``: flush what is queued."""

    async def handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        consent: Consent,
        clear_headers: list[tuple[bytes, bytes]],
        https: bool | None = None,
    ) -> bool:
        """Serve ``<prefix>/my-data`` and ``<prefix>/forget``; return False for other paths.

        ``clear_headers`` are Set-Cookie headers that clear the consent cookie and delete every
        non-essential cookie the request carries ("forget me" sends them). ``https``: whether the
        site is served over HTTPS (for the Origin check; by default the request's scheme).
        """
        ...
