"""Live local sites for the audit tests: one correctly configured, one with deliberate leaks.

Both are small school sites behind ``ConsentMiddleware`` with consentgate's banner. The "third
parties" are two more local servers on other loopback addresses (127.0.0.2 for analytics,
127.0.0.3 for marketing), so the audit sees requests to other hosts while nothing leaves the
machine.

The correct site gates everything on the server: it always sets cookies of every category (the
middleware drops what is not allowed) and only writes analytics or marketing tags into the page
when ``request.state.consent`` allows them. The leaky site makes three classic mistakes:

* a marketing cookie (``_fbp``) added by an outer middleware, outside consentgate's reach;
* a script that writes a cookie no policy rule declares (``tracker_uid``);
* a marketing pixel from the marketing host on every page, whatever the visitor chose.

Two more sites have no consentgate at all, the way a team would audit a site before adopting it:
one with another vendor's banner (buttons found by their text or by selectors), one with none.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from support.postgres import free_port

from consentgate import ConsentMiddleware, Policy

SECRET = "audit-site-secret-0123456789-abcdefghij"
SESSION_SECRET = "audit-session-secret-0123456789-abcdef"
ANALYTICS_HOST = "127.0.0.2"
MARKETING_HOST = "127.0.0.3"
VIDEO_HOST = "127.0.0.4"  # an embed behind a click-to-load placeholder
MAP_HOST = "127.0.0.5"  # an embed written straight into the page: it loads before any choice

POLICY_TOML = f"""
revision = 1

[categories.essential]
cookies = ["session", "csrftoken", "cmp_consent"]

[categories.personalization]
cookies = ["theme", "lang"]

[categories.analytics]
cookies = ["_ga", "_ga_*"]
hosts = ["{ANALYTICS_HOST}"]

[categories.marketing]
cookies = ["_fbp", "ad_id"]
hosts = ["{MARKETING_HOST}", "{VIDEO_HOST}", "{MAP_HOST}"]

[students]
deny = ["analytics"]
"""

_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
    b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def policy() -> Policy:
    return Policy.from_toml(POLICY_TOML, source="audit-site.toml")


# -- serving on a chosen loopback address ------------------------------------------------------


class LoopbackServer:
    """uvicorn in a thread on ``host`` (any 127.x.y.z address), stopped by :meth:`stop`."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port()
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@dataclass
class Tracker:
    """A third-party host that counts what it served."""

    host: str
    hits: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        def pixel(request: Request) -> Response:
            self.hits.append(request.url.path)
            return Response(_GIF, media_type="image/gif", headers={"cache-control": "no-store"})

        return Starlette(routes=[Route("/{name}.gif", pixel, methods=["GET", "POST"])])  # POST: beacons


@dataclass
class Trackers:
    analytics: str  # base URL on 127.0.0.2
    marketing: str  # base URL on 127.0.0.3
    hits: dict[str, list[str]]


@contextmanager
def trackers() -> Iterator[Trackers]:
    analytics, marketing = Tracker(ANALYTICS_HOST), Tracker(MARKETING_HOST)
    servers = [
        LoopbackServer(analytics.app(), ANALYTICS_HOST),
        LoopbackServer(marketing.app(), MARKETING_HOST),
    ]
    try:
        urls = [server.start() for server in servers]
        yield Trackers(urls[0], urls[1], {ANALYTICS_HOST: analytics.hits, MARKETING_HOST: marketing.hits})
    finally:
        for server in servers:
            server.stop()


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    server = LoopbackServer(app)
    try:
        yield server.start()
    finally:
        server.stop()


# -- the sites ---------------------------------------------------------------------------------


def _page(request: Request, title: str, third: Trackers, leaky: bool) -> HTMLResponse:
    consent = request.state.consent
    tags: list[str] = []
    if consent.allows("analytics"):
        tags.append(f'<img alt="" width="1" height="1" src="{third.analytics}/collect.gif">')
        tags.append("<script>document.cookie = '_ga_TEST=GS1.1; path=/; max-age=86400';</script>")
    if consent.allows("marketing"):
        tags.append(f'<img alt="" width="1" height="1" src="{third.marketing}/ad.gif">')
        tags.append("<script>document.cookie = 'ad_id=a1; path=/; max-age=86400';</script>")
    if consent.allows("personalization"):
        tags.append("<script>document.cookie = 'theme=dark; path=/; max-age=86400';</script>")
    if leaky:
        # Mistakes: an undeclared cookie and a marketing pixel, whatever the visitor chose.
        tags.append("<script>document.cookie = 'tracker_uid=u123; path=/; max-age=86400';</script>")
        tags.append(f'<img alt="" width="1" height="1" src="{third.marketing}/leak.gif">')
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} - Lincoln High</title></head>
<body>
<header><nav>
  <a href="/">Home</a> <a href="/about">About</a> <a href="/news#latest">News</a>
  <a href="/logout">Log out</a> <a href="/files/handbook.pdf">Handbook (PDF)</a>
  <a href="{third.marketing}/elsewhere">Partner site</a>
</nav></header>
<main><h1>{escape(title)}</h1><p>Welcome to Lincoln High.</p></main>
{"".join(tags)}
</body></html>"""
    response = HTMLResponse(body)
    # Cookies of every category: the middleware keeps only what the visitor allowed.
    response.set_cookie("csrftoken", "t1", httponly=True, samesite="lax")
    response.set_cookie("lang", "en", samesite="lax")
    response.set_cookie("_ga", "GA1.1.1", max_age=86400, samesite="lax")
    response.set_cookie("_fbp", "fb.1.1", max_age=86400, samesite="lax")
    return response


def _site(third: Trackers, *, leaky: bool) -> Starlette:
    def home(request: Request) -> HTMLResponse:
        return _page(request, "Home", third, leaky)

    def about(request: Request) -> HTMLResponse:
        return _page(request, "About", third, leaky)

    def news(request: Request) -> HTMLResponse:
        return _page(request, "News", third, leaky)

    def student_login(request: Request) -> RedirectResponse:
        request.session["roles"] = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
        return RedirectResponse("/", status_code=303)

    def logout(request: Request) -> RedirectResponse:
        request.session.clear()
        return RedirectResponse("/", status_code=303)

    def handbook(request: Request) -> Response:
        return Response(b"%PDF-1.4\n", media_type="application/pdf")

    return Starlette(
        routes=[
            Route("/", home),
            Route("/about", about),
            Route("/news", news),
            Route("/student-login", student_login),
            Route("/logout", logout),
            Route("/files/handbook.pdf", handbook),
        ],
        middleware=[
            # The session must be there before consentgate looks for student roles.
            Middleware(SessionMiddleware, secret_key=SESSION_SECRET, session_cookie="session"),
            Middleware(ConsentMiddleware, policy=policy(), secret_key=SECRET),
        ],
    )


class LeakyEdge:
    """An outer middleware that adds a marketing cookie to every page, outside consentgate's reach."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def leaky_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if any(k == b"content-type" and v.startswith(b"text/html") for k, v in headers):
                    headers.append((b"set-cookie", b"_fbp=fb.1.leak; Path=/; Max-Age=86400; SameSite=Lax"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, leaky_send)


def correct_site(third: Trackers) -> ASGIApp:
    return _site(third, leaky=False)


def leaky_site(third: Trackers) -> ASGIApp:
    return LeakyEdge(_site(third, leaky=True))


# -- sites without consentgate -----------------------------------------------------------------

_FOREIGN_BANNER = """
<div id="cmp" role="region" aria-label="Cookies">
  <p>We use cookies.</p>
  %(reject)s
  <button type="button" id="cmp-accept" style="padding: 12px 28px">Accept all</button>
</div>
<script>
  const remember = (value) => {
    document.cookie = "cmp_consent=" + value + "; path=/; max-age=15552000; samesite=lax";
    document.getElementById("cmp").remove();
  };
  document.getElementById("cmp-accept").addEventListener("click", () => remember("all"));
  document.getElementById("cmp-reject").addEventListener("click", (event) => {
    event.preventDefault();
    remember("none");
  });
</script>"""
_FAIR_REJECT = '<button type="button" id="cmp-reject" style="padding: 12px 28px">Reject all</button>'
_SNEAKY_REJECT = '<a href="#" id="cmp-reject" style="font-size: 9px">reject</a>'


def foreign_site(third: Trackers, *, sneaky_reject: bool = False, banner: bool = True) -> Starlette:
    """Another vendor's banner storing its choice in ``cmp_consent``; the server gates on that cookie."""

    def home(request: Request) -> HTMLResponse:
        choice = request.cookies.get("cmp_consent")
        tags = ""
        if choice == "all":
            tags = f'<img alt="" width="1" height="1" src="{third.analytics}/collect.gif">'
        shown = ""
        if banner and choice is None:
            shown = _FOREIGN_BANNER % {"reject": _SNEAKY_REJECT if sneaky_reject else _FAIR_REJECT}
        response = HTMLResponse(
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Other CMP</title></head>"
            f"<body><main><h1>Lincoln High</h1></main>{shown}{tags}</body></html>"
        )
        if choice == "all":
            response.set_cookie("_ga", "GA1.1.2", max_age=86400, samesite="lax")
        return response

    return Starlette(routes=[Route("/", home)])


# -- a page with embeds --------------------------------------------------------------------------


@dataclass
class EmbedHosts:
    video: str  # base URL on 127.0.0.4
    map: str  # base URL on 127.0.0.5
    hits: dict[str, list[str]]


@contextmanager
def embed_hosts() -> Iterator[EmbedHosts]:
    hits: dict[str, list[str]] = {VIDEO_HOST: [], MAP_HOST: []}

    def app(host: str) -> Starlette:
        def embed(request: Request) -> HTMLResponse:
            hits[host].append(request.url.path)
            return HTMLResponse("<!doctype html><html lang='en'><title>embed</title><p>embedded</p></html>")

        return Starlette(routes=[Route("/embed/{name}", embed)])

    servers = [LoopbackServer(app(VIDEO_HOST), VIDEO_HOST), LoopbackServer(app(MAP_HOST), MAP_HOST)]
    try:
        urls = [server.start() for server in servers]
        yield EmbedHosts(urls[0], urls[1], hits)
    finally:
        for server in servers:
            server.stop()


def embeds_site(hosts: EmbedHosts) -> Starlette:
    def lessons(request: Request) -> HTMLResponse:
        return HTMLResponse(
            f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lessons - Lincoln High</title></head>
<body><main><h1>Lessons</h1>
<iframe data-consent-category="marketing" data-consent-service="SchoolTube" title="Lesson video"
  data-src="{hosts.video}/embed/video" width="560" height="315"></iframe>
<iframe src="{hosts.map}/embed/map" title="Campus map" width="400" height="300"></iframe>
</main></body></html>"""
        )

    return Starlette(
        routes=[Route("/", lessons)],
        middleware=[Middleware(ConsentMiddleware, policy=policy(), secret_key=SECRET)],
    )


# -- a site before it adopts consentgate, for `consentgate init` --------------------------------


def unpoliced_site(third: Trackers) -> Starlette:
    """A school site with no consentgate yet: the server sets a CSRF token and a first-party
    ``sessionid`` (its own session cookie, the name Instagram also uses); scripts write Google
    Analytics and Hotjar cookies and one nobody knows, an Amplitude localStorage key and a
    sessionStorage key nobody knows; every page loads a pixel from another host."""

    def home(request: Request) -> HTMLResponse:
        return _unpoliced_page("Home", third)

    def about(request: Request) -> HTMLResponse:
        return _unpoliced_page("About", third)

    return Starlette(routes=[Route("/", home), Route("/about", about)])


def _unpoliced_page(title: str, third: Trackers) -> HTMLResponse:
    scripts = (
        "document.cookie = '_ga=GA1.1.424242; path=/; max-age=86400';"
        "document.cookie = '_ga_K3X9Q2=GS1.1.1; path=/; max-age=86400';"
        "document.cookie = '_hjSessionUser_3141592=eyJpZCI6; path=/; max-age=86400';"
        "document.cookie = 'zz_mystery=1; path=/; max-age=86400';"
        "localStorage.setItem('AMP_5f3b2a91', '{}');"
        "sessionStorage.setItem('zz_scroll', '120');"
    )
    response = HTMLResponse(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} - Lincoln High</title></head>
<body><nav><a href="/">Home</a> <a href="/about">About</a></nav><main><h1>{escape(title)}</h1></main>
<img alt="" width="1" height="1" src="{third.analytics}/collect.gif">
<script>{scripts}</script>
</body></html>"""
    )
    response.set_cookie("csrftoken", "t1", httponly=True, samesite="lax")
    response.set_cookie("sessionid", "s1", httponly=True, samesite="lax")
    return response


# -- web storage (issue 19) --------------------------------------------------------------------

STORAGE_POLICY_TOML = POLICY_TOML.replace(
    '[categories.analytics]\ncookies = ["_ga", "_ga_*"]',
    '[categories.analytics]\ncookies = ["_ga", "_ga_*"]\nstorage = ["AMP_*"]',
).replace(
    '[categories.marketing]\ncookies = ["_fbp", "ad_id"]',
    '[categories.marketing]\ncookies = ["_fbp", "ad_id"]\nstorage = ["ads-*"]',
)


def storage_site(third: Trackers, *, leaky: bool) -> Starlette:
    """consentgate in front; analytics writes ``AMP_device`` to localStorage and marketing opens
    the IndexedDB database ``ads-db``, each only when allowed. The leaky one also runs an ungated
    script that writes ``tracker_id`` (declared nowhere) and sends a beacon to the marketing host
    before anyone chose anything."""

    def home(request: Request) -> HTMLResponse:
        consent = request.state.consent
        tags = []
        if consent.allows("analytics"):
            tags.append("<script>localStorage.setItem('AMP_device', 'd1');</script>")
        if consent.allows("marketing"):
            tags.append("<script>indexedDB.open('ads-db', 1).onsuccess = (e) => e.target.result.close();</script>")
        if leaky:
            tags.append(
                "<script>localStorage.setItem('tracker_id', 'u1');"
                f"navigator.sendBeacon('{third.marketing}/beacon.gif', 'hit');</script>"
            )
        return HTMLResponse(
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Home</title></head>"
            f"<body><main><h1>Lincoln High</h1></main>{''.join(tags)}</body></html>"
        )

    policy = Policy.from_toml(STORAGE_POLICY_TOML, source="storage-site.toml")
    return Starlette(
        routes=[Route("/", home)],
        middleware=[Middleware(ConsentMiddleware, policy=policy, secret_key=SECRET)],
    )


def audit_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``consentgate audit --timeout 10 ARGS`` in a child process, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "consentgate", "audit", "--timeout", "10", *args],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
