"""From a request's consent cookie to its effective consent, memoised on what decides it.

Real browsers send a different ``Cookie`` header on nearly every request (analytics cookies carry
the hit's time), so nothing here is keyed on the whole header:

* the consent cookie's *value* is verified once while it is in use (its signature, its choice and
  the window in which that choice is current);
* the effective :class:`~consentgate.enforce.consent.Consent` is built once per value and
  situation (student, GPC, tenant) and kept with the value;
* a request without a valid choice gets one shared Consent per situation.

Each entry also carries a ``tag``: what the caller derives from a Consent once (the middleware
keeps whether and under which identity the visit log may record the visitor's pages).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from consentgate.enforce.consent import Consent, ConsentResolver
from consentgate.enforce.consent_cookie import (
    COOKIE_NAME,
    DOMAIN_COOKIE_NAME,
    SECURE_COOKIE_NAME,
    ConsentCookieCodec,
    StoredChoice,
)
from consentgate.enforce.cookie_headers import request_cookie_value
from consentgate.enforce.memo import Memo

__all__ = ["Situation", "Visitor", "Visitors", "consent_cookie_value"]

Situation = tuple[bool, bool, "str | None"]
"""(student session, GPC, tenant): what limits a choice besides the choice itself."""

_PLAIN = COOKIE_NAME.encode()
_SECURE = SECURE_COOKIE_NAME.encode()
_DOMAIN = DOMAIN_COOKIE_NAME.encode()
_READ_ORDER = (_SECURE, _DOMAIN, _PLAIN)  # ConsentCookieCodec.read_order's default
# One scan finds the first consent cookie of any name (the measured alternative, a search per
# name, cost 0.8 us of the middleware's ~5 us per returning visitor; this 0.2 us).
_CONSENT_PAIR = re.compile(
    rb"(?:^|;)[ \t]*("
    + re.escape(_SECURE[: -len(_PLAIN)])
    + rb"|"
    + re.escape(_DOMAIN[: -len(_PLAIN)])
    + rb")?"
    + re.escape(_PLAIN)
    + rb"[ \t]*=[ \t]*([^;]*)"
)
VISITOR_LIMIT = 10_000  # consent cookie values held (x2 generations; ~600 bytes each with the value)
_SITUATION_LIMIT = 4096  # situations without a choice (tenants come from the app, not the visitor)


def _find_pair(header: bytes, start: int) -> re.Match[bytes] | None:
    """The first consent cookie pair at or after ``start``. The pattern cannot skip ahead to a
    literal (it begins with ``^|;``), so the search starts at the ``;`` before the first
    ``consentgate`` found by ``bytes.find``: no pair can begin earlier (the name has no ``;``).
    Measured: the search over the whole header cost 30k of the middleware's 114k instructions
    per returning visitor (callgrind, benchmarks/middleware_overhead.py's real-browser shape)."""
    at = header.find(_PLAIN, start)
    if at < 0:
        return None
    semicolon = header.rfind(b";", start, at)
    return _CONSENT_PAIR.search(header, semicolon if semicolon >= 0 else start)


def consent_cookie_value(header: bytes, names: tuple[bytes, ...] = _READ_ORDER) -> bytes | None:
    """The consent cookie's value in a ``Cookie`` header, under the first of ``names`` it carries
    (``__Host-consentgate``, then ``__Secure-consentgate``, then ``consentgate``, unless the codec
    says otherwise), an empty one not counting; the first of each name counts; spaces and tabs
    around it trimmed."""
    match = _find_pair(header, 0)
    if match is None:
        return None
    value = match.group(2).rstrip(b" \t")
    preferred = (match.group(1) or b"") + _PLAIN == names[0]
    if value and (preferred or _find_pair(header, match.end()) is None):
        return value  # the preferred name, or the only consent cookie: nothing further on can win
    for name in names:  # several consent cookies: the order decides
        found = request_cookie_value(header, name)
        if found:
            return found
    return None


class Visitor:
    """What one consent cookie value means, and the Consent last built from it."""

    __slots__ = ("choice", "consent", "current_from", "current_until", "situation", "tag")

    def __init__(self, choice: StoredChoice | None) -> None:
        self.choice = choice
        # when the choice is current (ConsentCookieCodec.current_window); never without a choice
        self.current_from = math.inf
        self.current_until = -math.inf
        self.situation: Situation | None = None
        self.consent: Consent | None = None
        self.tag: Any = None


class Visitors:
    """The effective consent of each request, for one middleware.

    ``tag``: ``Consent -> Any``, computed once per Consent built here and handed back with it.
    """

    def __init__(
        self,
        codec: ConsentCookieCodec,
        resolver: ConsentResolver,
        tag: Callable[[Consent], Any] = lambda consent: None,
        *,
        limit: int = VISITOR_LIMIT,
    ) -> None:
        self._codec = codec
        self._resolver = resolver
        self._tag = tag
        self._by_value: Memo[bytes, Visitor] = Memo(self._verify, limit)
        self._no_choice: Memo[Situation, Visitor] = Memo(self._without_choice, _SITUATION_LIMIT)

    def decide(
        self, value: bytes | None, situation: Situation, now: float
    ) -> tuple[Visitor, StoredChoice | None]:
        """The entry whose ``consent`` (and ``tag``) hold for this request, and the choice the
        cookie carries whatever its revision or age (a new decision keeps its consent id)."""
        if value is None:
            return self._no_choice[situation], None
        visitor = self._by_value[value]
        if not visitor.current_from <= now <= visitor.current_until:
            return self._no_choice[situation], visitor.choice
        if visitor.situation != situation:
            # A returning visitor in a new situation: resolved once, then kept until it changes.
            consent = self._resolver.resolve(
                visitor.choice, is_student=situation[0], gpc=situation[1], tenant=situation[2]
            )
            visitor.situation, visitor.consent, visitor.tag = situation, consent, self._tag(consent)
        return visitor, visitor.choice

    def _verify(self, value: bytes) -> Visitor:
        choice = self._codec.verify(value)
        visitor = Visitor(choice)
        if choice is not None:
            visitor.current_from, visitor.current_until = self._codec.current_window(choice)
        return visitor

    def _without_choice(self, situation: Situation) -> Visitor:
        entry = Visitor(None)
        entry.situation = situation
        entry.consent = self._resolver.resolve(
            None, is_student=situation[0], gpc=situation[1], tenant=situation[2]
        )
        entry.tag = self._tag(entry.consent)
        return entry

    def without_choice(
        self, is_student: bool = False, gpc: bool = False, tenant: str | None = None
    ) -> Consent:
        """The consent of a request without a valid choice in this situation."""
        consent = self._no_choice[(is_student, gpc, tenant)].consent
        assert consent is not None  # set when the entry is made
        return consent

    def held(self) -> int:
        """How many consent cookie values are memoised (bounded)."""
        return self._by_value.size()
