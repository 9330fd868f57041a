"""``GET <prefix>/dialog``: the banner's part for pages that do not carry it.

A page for a visitor whose choice is current holds only the reopen control and the visitor's
state; when the dialog is first opened (or a click-to-load placeholder must show, or a decision
must clear withdrawn cookies), the script fetches the part: the preferences dialog, the
placeholder's template and the policy's data, rendered by ``templates/banner_part.html`` in the
page's language, the same bytes that a first visit's page carries inline.

The answer depends on the language only (the script applies the visitor's ticks and locks), so
it holds nothing about the visitor and may be cached anywhere: ``?lang=xx&v=<digest>``, the URL
the page names, is kept for a year (``immutable``; new content has a new digest); any other
request gets the current part in the request's language, revalidated each time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

if TYPE_CHECKING:
    from consentgate.banner.banner import Banner

__all__ = ["DialogPage"]

_IMMUTABLE = "public, max-age=31536000, immutable"


class DialogPage:
    """Serves the banner's part (one per language, rendered once and kept, gzipped once)."""

    def __init__(self, banner: Banner) -> None:
        self.banner = banner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response: Response
        if scope["method"] not in ("GET", "HEAD"):
            response = JSONResponse({"error": "use GET"}, status_code=405, headers={"allow": "GET, HEAD"})
            await response(scope, receive, send)
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        asked = query.get("lang")
        language = self.banner.localizer.language_for(scope, asked)
        part = self.banner.part(language)
        etag = f'"{part.digest}"'
        headers = {"etag": etag, "x-content-type-options": "nosniff", "vary": "Accept-Encoding"}
        if asked == language and query.get("v") == part.digest:
            headers["cache-control"] = _IMMUTABLE
        else:  # chosen from the request (or an old page's URL): the current part, checked each time
            headers["cache-control"] = "no-cache"
            headers["vary"] = "Accept-Encoding, Accept-Language, Cookie"
        if_none_match = accept_encoding = b""
        for key, value in scope["headers"]:
            key = key.lower()
            if key == b"if-none-match":
                if_none_match = value
            elif key == b"accept-encoding":
                accept_encoding = value.lower()
        if etag.encode() in if_none_match:
            response = Response(status_code=304, headers=headers)
        else:
            body = part.body
            if b"gzip" in accept_encoding:
                body = part.gzipped
                headers["content-encoding"] = "gzip"
            response = Response(body, media_type="text/html; charset=utf-8", headers=headers)
        await response(scope, receive, send)
