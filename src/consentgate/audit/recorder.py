"""Recording what a page does in the browser: every cookie in the jar with who set it (a cookie
that never came in a ``Set-Cookie`` header was written by a script) and every request to
another host."""

from __future__ import annotations

import contextlib
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from consentgate.enforce.policy import Policy

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Request, Response

from consentgate.audit.findings import (
    Phase,
    SeenCookie,
    SeenRequest,
    SeenStorage,
    SetBy,
    StorageKind,
    category_of_host,
    classify_cookie,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["COOKIE_WRITE_SCRIPT", "STORAGE_SNAPSHOT", "Recorder", "page_label"]

#: The page's web storage, read after it has settled: localStorage and sessionStorage keys and
#: IndexedDB database names of its origin (storage a browser refuses to show reads as empty).
STORAGE_SNAPSHOT = """async () => {
  const keys = (get) => { try { return Object.keys(get()); } catch (e) { return []; } };
  let databases = [];
  try { databases = (await indexedDB.databases()).map((d) => d.name).filter(Boolean); } catch (e) {}
  return {localStorage: keys(() => localStorage), sessionStorage: keys(() => sessionStorage),
          indexedDB: databases};
}"""
_STORAGE_KINDS: tuple[StorageKind, ...] = ("localStorage", "sessionStorage", "indexedDB")


_WRITE_BINDING = "__consentgateAuditCookieWrite"
# Reports every cookie a script writes (document.cookie, cookieStore.set) to the audit, in every
# frame; the page's own behaviour is unchanged.
COOKIE_WRITE_SCRIPT = """(() => {
  const report = (text) => {
    try { const f = window.__BINDING__; if (f) f(String(text)); } catch (e) {}
  };
  const d = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
  if (d && d.set) {
    Object.defineProperty(Document.prototype, "cookie", {
      configurable: true, enumerable: d.enumerable,
      get() { return d.get.call(this); },
      set(v) { report(v); d.set.call(this, v); },
    });
  }
  if (window.cookieStore && window.cookieStore.set) {
    const set = window.cookieStore.set.bind(window.cookieStore);
    window.cookieStore.set = (a, ...rest) => {
      report(typeof a === "string" ? a + "=" : String(a && a.name) + "=");
      return set(a, ...rest);
    };
  }
})();""".replace("__BINDING__", _WRITE_BINDING)


def page_label(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _domain_matches(host: str, domain: str) -> bool:
    domain = domain.lstrip(".").lower()
    return host == domain or host.endswith("." + domain)


def _parse_cookie_line(line: str, now: float) -> tuple[str, dict[str, Any]] | None:
    """Name and attributes of a ``Set-Cookie`` line or a ``document.cookie`` write.

    ``None`` when it sets nothing: no name, or a deletion (``Max-Age<=0``, an ``Expires`` past).
    """
    pieces = line.split(";")
    pair = pieces[0]
    if "=" not in pair:
        return None
    name = pair.split("=", 1)[0].strip()
    if not name:
        return None
    attrs: dict[str, Any] = {"expires": None}
    max_age: float | None = None
    for piece in pieces[1:]:
        key, _, value = piece.partition("=")
        key = key.strip().lower()
        value = value.strip()
        if key == "max-age":
            with contextlib.suppress(ValueError):
                max_age = float(int(value))
        elif key == "expires":
            with contextlib.suppress(TypeError, ValueError, IndexError):
                attrs["expires"] = parsedate_to_datetime(value).timestamp()
        elif key in ("domain", "path", "samesite"):
            attrs[key] = value
        elif key in ("httponly", "secure"):
            attrs[key] = True
    if max_age is not None:
        attrs["expires"] = now + max_age
    if attrs["expires"] is not None and attrs["expires"] <= now:
        return None
    return name, attrs


class Recorder:
    """Collects the cookies and third-party requests of one browser context.

    A cookie counts as seen when it arrives in a ``Set-Cookie`` header, when a script writes it,
    or when it is in the jar after a page has settled: a cookie that is set and deleted again a
    moment later was still set.
    """

    def __init__(self, policy: Policy, first_party: str) -> None:
        self.policy = policy
        self.first_party = first_party
        self.page = "-"
        self.phase: Phase = "before"
        self.cookies: dict[tuple[str, str], SeenCookie] = {}
        self.requests: dict[str, SeenRequest] = {}
        self.storage: dict[tuple[str, str], SeenStorage] = {}

    def attach(self, context: BrowserContext) -> None:
        context.on("request", self.on_request)
        context.on("response", self.on_response)
        context.expose_binding(_WRITE_BINDING, self.on_script_write)
        context.add_init_script(COOKIE_WRITE_SCRIPT)

    # -- events ---------------------------------------------------------------------------

    def on_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https", "ws", "wss"):
            return
        host = (parts.hostname or "").lower()
        if not host or host == self.first_party:
            return
        seen = self.requests.get(host)
        if seen is None:
            seen = SeenRequest(
                host=host,
                url=request.url,
                resource_type=request.resource_type,
                page=self.page,
                phase=self.phase,
                category=category_of_host(self.policy, host),
                count=0,
            )
            self.requests[host] = seen
        seen.count += 1
        if self.phase == "after":
            if seen.count_after == 0 and seen.phase == "before":
                seen.page = self.page
            seen.count_after += 1

    def on_response(self, response: Response) -> None:
        from playwright.sync_api import Error as PlaywrightError

        try:
            headers = response.headers_array()
        except PlaywrightError:
            return  # the page went away before the headers could be read
        host = (urlsplit(response.url).hostname or "").lower()
        now = time.time()
        for item in headers:
            if item["name"].lower() != "set-cookie":
                continue
            for line in item["value"].split("\n"):
                parsed = _parse_cookie_line(line, now)
                if parsed is not None:
                    self._observe(parsed[0], host, parsed[1], "server")

    def on_script_write(self, source: Any, text: str) -> None:
        frame = source.get("frame") if isinstance(source, dict) else None
        host = (urlsplit(frame.url).hostname or "").lower() if frame is not None else self.first_party
        parsed = _parse_cookie_line(str(text), time.time())
        if parsed is not None:
            self._observe(parsed[0], host, parsed[1], "script")

    def _observe(self, name: str, host: str, attrs: dict[str, Any], set_by: SetBy) -> None:
        domain = str(attrs.get("domain") or host).lstrip(".").lower()
        seen = self._seen(name, domain)
        if seen is None:
            seen = SeenCookie(
                name=name,
                domain=domain,
                path=str(attrs.get("path") or "/"),
                http_only=bool(attrs.get("httponly", False)),
                secure=bool(attrs.get("secure", False)),
                same_site=str(attrs.get("samesite", "")),
                expires=attrs["expires"],
                set_by=set_by,
                page=self.page,
                phase=self.phase,
                category=classify_cookie(self.policy, name),
            )
            self.cookies[(name, domain)] = seen
        else:
            seen.expires = attrs["expires"]
        self._mark(seen)

    def _seen(self, name: str, domain: str) -> SeenCookie | None:
        return self.cookies.get((name, domain.lstrip(".").lower()))

    def _mark(self, seen: SeenCookie) -> None:
        if self.phase != "after":
            return
        if not seen.present_after:
            seen.first_expires = seen.expires
            if seen.phase == "before":
                seen.page = self.page
        seen.present_after = True

    def snapshot(self, context: BrowserContext) -> None:
        """Record the jar as it is now (after a page has loaded and settled)."""
        for raw in context.cookies():
            name = str(raw.get("name", ""))
            domain = str(raw.get("domain", ""))
            expires_raw = float(raw.get("expires", -1))
            expires = None if expires_raw < 0 else expires_raw
            seen = self._seen(name, domain)
            if seen is None:
                # Chromium sometimes reports a response without its raw headers; a cookie that
                # no script wrote came from such a response: the server.
                seen = SeenCookie(
                    name=name,
                    domain=domain.lstrip(".").lower(),
                    path="/",
                    http_only=False,
                    secure=False,
                    same_site="",
                    expires=expires,
                    set_by="server",
                    page=self.page,
                    phase=self.phase,
                    category=classify_cookie(self.policy, name),
                )
                self.cookies[(name, seen.domain)] = seen
            # The jar knows best what the browser kept.
            seen.path = str(raw.get("path", "/"))
            seen.http_only = bool(raw.get("httpOnly", False))
            seen.secure = bool(raw.get("secure", False))
            seen.same_site = str(raw.get("sameSite", ""))
            seen.expires = expires
            self._mark(seen)

    def snapshot_storage(self, page: Page) -> None:
        """Record the page's web storage as it is now (after it has loaded and settled)."""
        from playwright.sync_api import Error as PlaywrightError

        try:
            found = page.evaluate(STORAGE_SNAPSHOT)
        except PlaywrightError:
            return  # the page navigated away meanwhile: the next snapshot sees it
        for kind in _STORAGE_KINDS:
            for name in found.get(kind, ()):
                name = str(name)
                seen = self.storage.get((kind, name))
                if seen is None:
                    category = self.policy.category_of_storage(name)
                    seen = SeenStorage(name, kind, self.page, self.phase, category)
                    self.storage[(kind, name)] = seen
                if self.phase == "after" and not seen.present_after:
                    if seen.phase == "before":
                        seen.page = self.page
                    seen.present_after = True
