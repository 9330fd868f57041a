"""The app `benchmarks/load.py` serves: a school-site page (about 6 KB of HTML, three cookies set, one of
them marketing) in three variants chosen by ``CONSENTGATE_LOAD_VARIANT``:

* ``bare``    — the Starlette app alone;
* ``enforce`` — behind ConsentMiddleware, banner injection off, no privacy log;
* ``banner``  — ConsentMiddleware with banner injection, no privacy log (to split the costs);
* ``full``    — ConsentMiddleware with banner injection and visit logging to SQLite.

    uvicorn benchmarks.load_app:create --factory
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from consentgate import ConsentMiddleware, Policy

SECRET = "load-benchmark-secret-0123456789-abcdef"
POLICY = Policy.from_toml(
    """
revision = 1
[categories.essential]
cookies = ["session", "csrftoken"]
[categories.personalization]
cookies = ["theme"]
[categories.analytics]
cookies = ["_ga", "_ga_*"]
[categories.marketing]
cookies = ["_fbp", "ad_*"]
""",
    source="load.toml",
)

_ROWS = "".join(
    f"<tr><td>Lesson {i}</td><td>Fractions and decimals, part {i}</td><td>{i * 7 % 100} %</td></tr>"
    for i in range(60)
)
PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Progress</title></head><body>"
    f"<header><h1>Class progress</h1></header><main><table>{_ROWS}</table></main></body></html>"
)


async def progress(request: Request) -> HTMLResponse:
    response = HTMLResponse(PAGE)
    response.set_cookie("session", "s-123", httponly=True)
    response.set_cookie("_ga", "GA1.1.42.42")
    response.set_cookie("_fbp", "fb.1.42")
    return response


class Roles:
    """Stands in for the app's authentication layer (in every variant, bare included): a request
    with ``X-Bench-Role: student`` is a student's, as a session would say."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for key, value in scope["headers"]:
                if key == b"x-bench-role":
                    scope.setdefault("state", {})["roles"] = [value.decode("latin-1")]
        await self.app(scope, receive, send)


def create() -> ASGIApp:
    return Roles(_variant())


def _variant() -> ASGIApp:
    variant = os.environ.get("CONSENTGATE_LOAD_VARIANT", "bare")
    app = Starlette(routes=[Route("/", progress)])
    if variant == "bare":
        return app
    if variant == "enforce":
        return ConsentMiddleware(app, policy=POLICY, secret_key=SECRET, banner=False)
    if variant == "banner":
        return ConsentMiddleware(app, policy=POLICY, secret_key=SECRET)
    if variant == "full":
        from consentgate.log.privacy_log import PrivacyLog

        store = Path(os.environ.get("CONSENTGATE_LOAD_STORE", "load-benchmark.sqlite3"))
        return ConsentMiddleware(app, policy=POLICY, secret_key=SECRET, privacy_log=PrivacyLog(str(store), POLICY))
    raise SystemExit(f"unknown CONSENTGATE_LOAD_VARIANT {variant!r}: bare, enforce, banner or full")
