"""A school page with gated embeds behind ConsentMiddleware, and a "third party" serving them.

The third party is a second local server on 127.0.0.2 (another host for the browser, the same
machine): it serves a lesson video, a campus map and a poll widget's frame, and records every
request it gets, so a test can prove on the network that nothing reached it before consent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentgate import ConsentMiddleware, Policy, PrivacyLog

from .banner_app import SECRET, is_student

THIRD_PARTY_HOST = "127.0.0.2"

POLICY_TOML = """
revision = 1

[categories.essential]
cookies = ["session", "consentgate_lang"]

[categories.personalization]
cookies = ["theme"]

[categories.analytics]
cookies = ["_ga", "_ga_*"]
hosts = ["{host}"]
services = ["Class poll"]

[categories.marketing]
cookies = ["_fbp", "VISITOR_INFO1_LIVE", "YSC"]
hosts = ["{host}"]
services = ["SchoolTube", "Campus maps"]

[embeds]
load_once = {load_once}

[embeds.services.SchoolTube]
hosts = ["{host}"]
cookies = ["VISITOR_INFO1_LIVE", "YSC"]
"""

#: The site's own stylesheet: how a school's theme styles frames and widgets (the placeholders
#: must take exactly the same boxes).
SITE_CSS = """
body { font: 16px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem; }
iframe.map { display: block; margin: 1rem 0; border: 0; }
.poll { height: 14rem; }
"""


@dataclass
class ThirdParty:
    """The embeds' host: counts what it served."""

    hits: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        async def embed(request: Request) -> Response:
            name = request.path_params["name"]
            self.hits.append(name)
            return HTMLResponse(
                f"<!doctype html><html lang='en'><title>{name}</title>"
                f"<body><p id='embedded'>The {name}, from the third party.</p></body></html>"
            )

        return Starlette(routes=[Route("/embed/{name}", embed)])


def make_policy(*, load_once: bool = True, host: str = THIRD_PARTY_HOST) -> Policy:
    text = POLICY_TOML.replace("{load_once}", str(load_once).lower()).replace("{host}", host)
    return Policy.from_toml(text, source="embeds-test.toml")


def page(third_party: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Biology, week 3 - Lincoln High</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/site.css"></head>
<body>
<main>
<h1>Biology, week 3</h1>
<p>Watch the video before Thursday's lab.</p>
<iframe id="video" data-consent-category="marketing" data-consent-service="SchoolTube"
  data-src="{third_party}/embed/video" width="560" height="315" title="Lesson video: cells"></iframe>
<p id="between">The lab is in room 204; here is how to get there.</p>
<iframe id="map" class="map" data-consent-category="marketing" data-consent-service="Campus maps"
  data-src="{third_party}/embed/map" width="400" title="Campus map"></iframe>
<div id="poll" class="poll" data-consent-category="analytics" data-consent-service="Class poll">
<template><iframe src="{third_party}/embed/poll" title="Class poll" width="300" height="150"></iframe>
<script src="/poll.js"></script></template>
</div>
<div id="notes" data-consent-category="analytics"><p>A div without a template is not an embed.</p></div>
<p id="last">Questions? Ask in class.</p>
</main>
<footer><p><a href="#" data-consentgate="open">Cookie settings</a></p></footer>
</body>
</html>"""


def build_site(
    third_party: str,
    *,
    log_path: Path | None = None,
    load_once: bool = True,
    strict_csp: bool = False,
    **options: Any,
) -> Starlette:
    """The page at ``/``; ``strict_csp`` sends the app's own ``script-src 'self'; style-src 'self'``."""

    async def home(request: Request) -> Response:
        response = HTMLResponse(page(third_party))
        if strict_csp:
            response.headers["content-security-policy"] = (
                f"script-src 'self'; style-src 'self'; frame-src 'self' {third_party}"
            )
        return response

    async def css(request: Request) -> Response:
        return Response(SITE_CSS, media_type="text/css")

    async def poll_js(request: Request) -> Response:
        return Response("window.pollRan = (window.pollRan || 0) + 1;", media_type="text/javascript")

    policy = make_policy(load_once=load_once, host=urlsplit(third_party).hostname or "")
    if log_path is not None:
        options["privacy_log"] = PrivacyLog(str(log_path), policy)
    options.setdefault("student_resolver", is_student)
    return Starlette(
        routes=[Route("/", home), Route("/site.css", css), Route("/poll.js", poll_js)],
        middleware=[Middleware(ConsentMiddleware, policy=policy, secret_key=SECRET, **options)],
    )
