"""The cookie filters: which cookies a request may carry in, and which ``Set-Cookie`` may go out.

Both directions decide by cookie *name* and the categories granted, and both are memoised on
exactly that, never on cookie values (which change on nearly every request of a real browser):

* inbound, on the request's *name shape* (its ``Cookie`` header with every value cut out) and
  the granted set; the header is rebuilt only when a cookie is removed;
* outbound, on the bytes of a ``Set-Cookie`` before its first ``=`` and the granted set.

Response header names are compared case-insensitively (some frameworks, Django among them, send
``Content-Type``); untouched headers pass byte-exact and in order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

from starlette.types import Scope

from consentgate.enforce.consent_cookie import CONSENT_COOKIE_NAMES
from consentgate.enforce.cookie_headers import deletion_header, set_cookie_name
from consentgate.enforce.hooks import DiscoverySink
from consentgate.enforce.memo import Memo
from consentgate.enforce.policy import Policy

__all__ = ["CookieFilter", "InboundVerdict", "Outbound", "Undeclared"]

Header = tuple[bytes, bytes]
_CONSENT_NAMES = CONSENT_COOKIE_NAMES
_VALUES = re.compile(rb"=[^;]*")  # a Cookie header's values; what is left is its name shape
_WSP = b" \t"
_VARY_TOKENS = (b"Cookie", b"Sec-GPC")
_VARY_HEADER = (b"vary", b"Cookie, Sec-GPC")
SHAPE_LIMIT = 1024  # name shapes held per granted set (x2 generations; ~350 bytes each)
NAME_LIMIT = 4096  # distinct Set-Cookie names held per granted set (x2 generations)


class InboundVerdict(NamedTuple):
    """What to do with one name shape under one granted set."""

    keep: tuple[bool, ...] | None
    """Per ``;``-separated piece, whether it stays; ``None`` when every piece stays."""
    withdrawn: tuple[str, ...]
    """Names a policy rule knows that are not allowed now: the browser is told to delete them."""
    undeclared: tuple[str, ...] = ()
    """Names no policy rule names (live cookie discovery notes them); decided once per shape."""


class Outbound(NamedTuple):
    """A response start's filtered headers, and what the banner and the log need to know of it."""

    headers: list[Header]
    content_type: bytes
    encoded: bool
    """The body has a Content-Encoding other than identity (compressed: not injectable)."""
    undeclared: tuple[str, ...] = ()
    """Set-Cookie names no policy rule names (live cookie discovery notes them)."""


class Undeclared(NamedTuple):
    """The outbound memo's verdict on a Set-Cookie name no rule names (``True``/``False`` otherwise)."""

    name: str
    keep: bool


class CookieFilter:
    """Applies one policy's cookie rules; built once per middleware."""

    def __init__(self, policy: Policy, *, vary_always: bool = False) -> None:
        self.policy = policy
        self.vary_always = vary_always
        self._allow_unknown = policy.unknown_cookies == "allow"
        #: where names no rule names are noted (live cookie discovery; set by the middleware)
        self.discovery: DiscoverySink | None = None
        #: requests whose names are not noted (crawlers: no discovery entry; set by the middleware)
        self.unnoted: Callable[[Scope], bool] | None = None
        # granted set -> name shape -> verdict (few granted sets exist: one table each)
        self._inbound: Memo[frozenset[str], Memo[bytes, InboundVerdict]] = Memo(self._shape_table, 64)
        self._outbound: Memo[frozenset[str], Memo[bytes, bool | Undeclared]] = Memo(self._name_table, 64)
        # The same few withdrawals come back (measured: formatting them per response cost 8 % of
        # the middleware on real traffic, where one visitor in seven carries a leftover cookie).
        self._deletions: Memo[tuple[tuple[str, ...], bool], tuple[Header, ...]] = Memo(
            self._deletion_lines, SHAPE_LIMIT
        )

    # -- decisions -------------------------------------------------------------------------

    def allowed(self, name: str, granted: frozenset[str]) -> bool:
        """Whether a cookie of this name may be stored or sent under ``granted``."""
        if name in _CONSENT_NAMES:
            return True
        category = self.policy.category_of_cookie(name)
        if category is None:
            return self._allow_unknown
        return category in granted

    def held(self) -> int:
        """How many verdicts the memos hold, all granted sets together (bounded)."""
        shapes = sum(table.size() for table in self._inbound.held())
        return shapes + sum(table.size() for table in self._outbound.held())

    def _shape_table(self, granted: frozenset[str]) -> Memo[bytes, InboundVerdict]:
        return Memo(lambda shape: self._judge_shape(shape, granted), SHAPE_LIMIT)

    def _judge_shape(self, shape: bytes, granted: frozenset[str]) -> InboundVerdict:
        keep: list[bool] = []
        withdrawn: dict[str, None] = {}
        undeclared: dict[str, None] = {}
        removed = False
        for piece in shape.split(b";"):
            name_bytes = piece.strip(_WSP)
            if not name_bytes:
                keep.append(False)  # an empty piece: left out if the header is rebuilt anyway
                continue
            if name_bytes.endswith(b"="):
                name = name_bytes[:-1].rstrip(_WSP).decode("utf-8", "surrogateescape")
            else:
                name = ""  # a bare value: a nameless cookie
            allowed = self.allowed(name, granted)
            keep.append(allowed)
            known = name in _CONSENT_NAMES or self.policy.category_of_cookie(name) is not None
            if name and not known:
                undeclared[name] = None
            if allowed:
                continue
            removed = True
            # Only cookies a rule names are deleted: an unknown one may belong to another app.
            if name and known:
                withdrawn[name] = None
        return InboundVerdict(tuple(keep) if removed else None, tuple(withdrawn), tuple(undeclared))

    def _name_table(self, granted: frozenset[str]) -> Memo[bytes, bool | Undeclared]:
        return Memo(lambda segment: self._judge_name(segment, granted), NAME_LIMIT)

    def _judge_name(self, segment: bytes, granted: frozenset[str]) -> bool | Undeclared:
        name = _segment_name(segment)
        allowed = self.allowed(name, granted)
        if name and name not in _CONSENT_NAMES and self.policy.category_of_cookie(name) is None:
            return Undeclared(name, allowed)
        return allowed

    # -- inbound ---------------------------------------------------------------------------

    def inbound(
        self, header: bytes, granted: frozenset[str], scope: Scope | None = None
    ) -> tuple[bytes | None, tuple[str, ...]]:
        """The request's ``Cookie`` header without disallowed cookies (``None``: unchanged, ``b""``:
        none left) and the known names the browser should delete (R-CON-6). With the request's
        ``scope``, names no rule names are noted for live discovery."""
        verdict = self._inbound[granted][_VALUES.sub(b"=", header)]
        if verdict.undeclared and scope is not None:
            self.note("cookie", verdict.undeclared, scope)
        if verdict.keep is None:
            return None, verdict.withdrawn
        kept = [
            piece.strip(_WSP) for piece, keep in zip(header.split(b";"), verdict.keep, strict=True) if keep
        ]
        return b"; ".join(kept), verdict.withdrawn

    def note(self, direction: str, names: tuple[str, ...], scope: Scope) -> None:
        """Live cookie discovery: queue names no rule names (only requests that carry one get
        here), unless the request is one not to note (a crawler's). One tuple on a bounded queue;
        the privacy log's writer folds and stores them."""
        if self.discovery is not None and (self.unnoted is None or not self.unnoted(scope)):
            self.discovery.note(direction, names, scope["path"])

    def deletion_headers(self, names: tuple[str, ...], https: bool) -> list[Header]:
        """``Set-Cookie`` headers deleting these cookies with their rules' Path and Domain (R-CK-2)."""
        return list(self._deletions[(names, https)])

    def _deletion_lines(self, key: tuple[tuple[str, ...], bool]) -> tuple[Header, ...]:
        names, https = key
        out = []
        for name in names:
            rule = self.policy.deletion_rule(name)
            out.append((b"set-cookie", deletion_header(name, rule.path, rule.domain, secure=https)))
        return tuple(out)

    # -- outbound --------------------------------------------------------------------------

    def outbound(
        self,
        headers: Iterable[Header],
        granted: frozenset[str],
        withdrawn: tuple[str, ...],
        https: bool,
    ) -> Outbound:
        """Drop ``Set-Cookie`` headers of disallowed categories, delete ``withdrawn`` cookies and
        add ``Vary`` where the response depends on consent."""
        names = self._outbound[granted]
        out: list[Header] = []
        vary_index = -1
        sets_cookie = False
        changed = bool(withdrawn)
        content_type = b""
        encoded = False
        undeclared: tuple[str, ...] = ()
        for item in headers:
            key = item[0].lower()
            if key == b"set-cookie":
                sets_cookie = True
                # A cookie's name is fixed by the bytes before the first "=" (a ";" among them,
                # or no "=" at all, makes it nameless): memoised on those, not on the value.
                value = item[1]
                eq = value.find(b"=")
                verdict = names[value[:eq] if eq >= 0 else b";"]
                if verdict is not True:
                    if verdict is not False:  # a name no rule names: noted for live discovery
                        undeclared = (*undeclared, verdict.name)
                        verdict = verdict.keep
                    if not verdict:
                        changed = True
                        continue
            elif key == b"vary":
                vary_index = len(out)
            elif key == b"content-type":
                content_type = item[1]
            elif key == b"content-encoding":
                encoded = item[1].strip().lower() not in (b"", b"identity")
            out.append(item)
        if withdrawn:
            out.extend(self._deletions[(withdrawn, https)])
        is_html = content_type[:9].lower() == b"text/html"
        if self.vary_always or sets_cookie or is_html or changed:
            if vary_index < 0:
                out.append(_VARY_HEADER)
            else:
                _add_vary(out, vary_index)
        return Outbound(out, content_type, encoded, undeclared)


def _segment_name(segment: bytes) -> str:
    """The cookie name of a Set-Cookie value that starts with ``segment`` and then ``=``."""
    return set_cookie_name(segment + b"=") if segment != b";" else ""


def _add_vary(headers: list[Header], index: int) -> None:
    """Add our tokens to the app's own Vary header at ``index`` (the ones it lacks)."""
    name, value = headers[index]
    present = {token.strip().lower() for token in value.split(b",")}
    if b"*" in present:
        return
    missing = [t for t in _VARY_TOKENS if t.lower() not in present]
    if missing:
        headers[index] = (name, b", ".join([value, *missing]))
