"""What the middleware does to HTML pages: the consent-aware CSP header and the banner.

:class:`PageHook` looks at each response's start. For ``text/html`` it adds the CSP header (when
the policy asks for one) and, unless the page placed the banner itself, wraps ``send`` with an
:class:`Injector` that puts the banner before the last ``</body>``:

* a body sent in one message is changed in place and its ``Content-Length`` fixed;
* a streamed body is passed on as it comes, holding back only the tail that may contain the last
  ``</body>`` (its ``Content-Length``, if any, is dropped: the server then chunks the answer);
* a compressed body (any ``Content-Encoding``) is left alone, and that is logged once;
* a page without ``</body>`` (a fragment) is left alone;
* the banner is encoded in the page's charset (characters it cannot hold become character
  references; without a declared charset the banner is pure ASCII, right in any ASCII-compatible
  encoding).
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Callable

from starlette.types import Message, Scope, Send

from consentgate.banner.banner import PLACED_STATE_KEY, Banner
from consentgate.banner.csp import NONCE_STATE_KEY, ConsentCsp
from consentgate.enforce.consent import Consent

__all__ = ["COMPRESSED_SKIPPED", "Injector", "PageHook", "inject_before_body_end"]

logger = logging.getLogger("consentgate")

COMPRESSED_SKIPPED = (
    "consentgate: an HTML response is compressed (Content-Encoding) before the consent middleware "
    "sees it, so the banner cannot be injected; put ConsentMiddleware outside (before) GZipMiddleware "
    "or place the banner with {{ consentgate_banner(request) }}"
)
_TAIL = 32  # bytes held back between chunks: longer than any split "</body   >"
_MAX_HELD = 1 << 20  # give up injecting rather than hold more than 1 MiB after a "</body>"
_NO_BODY_STATUS = frozenset({204, 304})
_CHARSET = re.compile(rb";\s*charset\s*=\s*\"?([A-Za-z0-9._:-]+)", re.IGNORECASE)


def inject_before_body_end(body: bytes, snippet: bytes) -> bytes | None:
    """``body`` with ``snippet`` before its last ``</body>``; ``None`` when there is none."""
    index = _last_body_end(body)
    if index < 0:
        return None
    return b"".join((body[:index], snippet, body[index:]))  # one copy of the result, not two


_WINDOW = 4096  # "</body>" is nearly always in a page's last few bytes
_OVERLAP = 256
_SPACE = frozenset(b" \t\r\n\f\v")  # what \s means in a bytes regex


def _last_body_end(data: bytes) -> int:
    """Where the last ``</body>`` (any case, optional spaces before ``>``) starts, or -1.

    Plain ``rfind`` over a lower-cased copy of the page's end first (a match there is the last one
    overall), then further back; runs on every HTML page, so no regular expression."""
    # Fast path, most pages: an exact "</body>" followed only by a short tail without another one.
    exact = data.rfind(b"</body>")
    if exact >= 0 and len(data) - exact < 1024 and b"</body" not in data[exact + 7 :].lower():
        return exact
    end = len(data)
    while end > 0:
        start = max(0, end - _WINDOW)
        # Overlap the later window so a "</body  >" across the edge is found.
        chunk = data[start : min(len(data), end + _OVERLAP)].lower()
        limit = len(chunk)
        while True:
            index = chunk.rfind(b"</body", 0, limit)
            if index < 0:
                break
            after = start + index + 6  # spaces and ">" read from the page itself: no case, no edge
            while after < len(data) and data[after] in _SPACE:
                after += 1
            if after < len(data) and data[after] == 0x3E:  # ">"
                return start + index
            limit = index + 5  # look further back in this chunk
        end = start
    return -1


class Injector:
    """A ``send`` for one HTML response: holds the start message until it knows the new length."""

    __slots__ = ("_pending", "_send", "_snippet", "_start", "_streaming")

    def __init__(self, send: Send, start: Message, snippet: bytes) -> None:
        self._send = send
        self._start: Message | None = start
        self._snippet = snippet
        self._pending = b""
        self._streaming = False

    async def __call__(self, message: Message) -> None:
        if message["type"] != "http.response.body":
            await self._flush_start()
            await self._send(message)
            return
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        start = self._start
        if start is not None and not more:
            # The whole body in one message: the usual case for HTMLResponse and templates.
            self._start = None
            changed = inject_before_body_end(body, self._snippet)
            if changed is not None:
                _set_length(start, len(changed))
                body = changed
            await self._send(start)
            await self._send({"type": "http.response.body", "body": body, "more_body": False})
            return
        if self._start is not None:
            _drop_length(self._start)
            self._streaming = True
            await self._flush_start()
        if not self._streaming:  # injection was given up: pass the rest through
            await self._send(message)
            return
        data = self._pending + body
        if not more:
            self._pending = b""
            changed = inject_before_body_end(data, self._snippet)
            await self._send({"type": "http.response.body", "body": changed or data, "more_body": False})
            return
        index = _last_body_end(data)
        if index >= 0:
            out, self._pending = data[:index], data[index:]
            if len(self._pending) > _MAX_HELD:
                out, self._pending, self._streaming = data, b"", False
        else:
            cut = max(0, len(data) - _TAIL)
            out, self._pending = data[:cut], data[cut:]
        if out:
            await self._send({"type": "http.response.body", "body": out, "more_body": True})

    async def _flush_start(self) -> None:
        if self._start is not None:
            start, self._start = self._start, None
            await self._send(start)


def _set_length(message: Message, length: int) -> None:
    """Set the Content-Length of a start message whose header list is the middleware's own
    (its outbound filter built it), so it is changed in place."""
    headers = message["headers"]
    for index, (key, _) in enumerate(headers):
        if key == b"content-length" or (len(key) == 14 and key.lower() == b"content-length"):
            headers[index] = (key, b"%d" % length)


def _drop_length(message: Message) -> None:
    message["headers"] = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"content-length"]


_charset_cache: dict[bytes, str | bool | None] = {}


def _charset(content_type: bytes) -> str | bool | None:
    """The declared charset's Python name, ``None`` when none is declared, ``False`` when the page's
    encoding is not ASCII-compatible or unknown (nothing is injected then). Memoised: an app sends
    few distinct Content-Type values."""
    try:
        return _charset_cache[content_type]
    except KeyError:
        pass
    result = _parse_charset(content_type)
    if len(_charset_cache) < 64:
        _charset_cache[content_type] = result
    return result


def _parse_charset(content_type: bytes) -> str | bool | None:
    match = _CHARSET.search(content_type)
    if match is None:
        return None
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return False
    return name if "</body>".encode(name, "replace") == b"</body>" else False


class PageHook:
    """Applied at ``http.response.start`` of every response the app sends (not the endpoints')."""

    def __init__(
        self,
        banner: Banner | None,
        csp: ConsentCsp | None,
        language_for: Callable[[Scope], str],
    ) -> None:
        self.banner = banner
        self.csp = csp
        self.language_for = language_for
        self._warned = False

    def response_start(
        self, scope: Scope, consent: Consent, message: Message, send: Send, content_type: bytes, encoded: bool
    ) -> Send | None:
        """Adjust ``message`` for an HTML page; return a wrapping ``send`` when injecting.

        ``content_type`` and ``encoded`` (a Content-Encoding other than identity) were read from the
        response's headers, names compared case-insensitively, by the middleware's header pass."""
        if content_type[:9].lower() != b"text/html" or content_type[9:10] not in (b"", b";", b" "):
            return None
        state = scope.get("state") or {}
        if self.csp is not None:
            nonce = state.get(NONCE_STATE_KEY) or self.csp.new_nonce()
            message["headers"].append(self.csp.header(consent.granted, nonce))
        banner = self.banner
        if (
            banner is None
            or state.get(PLACED_STATE_KEY)
            or scope["method"] == "HEAD"
            or message["status"] in _NO_BODY_STATUS
            or message["status"] < 200
            or banner.skips(scope)  # a crawler: no banner markup
        ):
            return None
        if encoded:
            if not self._warned:
                self._warned = True
                logger.warning(COMPRESSED_SKIPPED)
            return None
        charset = _charset(content_type)
        if charset is False:
            return None
        snippet = banner.snippet(consent, self.language_for(scope), charset)  # type: ignore[arg-type]
        return Injector(send, message, snippet)
