"""A small school-like site behind ConsentMiddleware, for the banner's unit and browser tests."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from consentgate import ConsentMiddleware, Policy

#: Records layout shifts (CLS) and CSP violations from the very start of every page (an init script).
OBSERVERS = """
window.__cls = 0; window.__shifts = []; window.__violations = [];
new PerformanceObserver(function (list) {
  for (const e of list.getEntries()) { window.__cls += e.value; window.__shifts.push(e.value); }
}).observe({type: 'layout-shift', buffered: true});
document.addEventListener('securitypolicyviolation', function (e) {
  window.__violations.push(e.blockedURI + ' ' + e.violatedDirective);
});
"""

SECRET = "banner-test-secret-0123456789-abcdefghijkl"

POLICY_TOML = """
revision = 1

[categories.essential]
cookies = ["session", "consentgate_lang"]

[categories.personalization]
cookies = ["theme"]

[categories.analytics]
cookies = ["_ga", "_ga_*"]
hosts = ["stats.example"]
services = ["Example Analytics"]

[categories.marketing]
cookies = ["_fbp", "ad_*"]
hosts = ["ads.example"]
services = ["Example Ads"]
"""

ANALYTICS_JS = """
window.analyticsRan = (window.analyticsRan || 0) + 1;
window.consentAtAnalytics = (window.dataLayer || []).map(function (e) { return Array.from(e); });
document.cookie = "_ga=GA1.1.1; path=/";
document.cookie = "_ga_XYZ=GS1.1; path=/";
"""
PERSONALIZATION_JS = 'window.personalizationRan = true; document.cookie = "theme=dark; path=/";'


def make_policy(text: str = POLICY_TOML) -> Policy:
    return Policy.from_toml(text, source="banner-test.toml")


def is_student(scope: Any) -> bool:
    """A student session is marked by the essential ``session=student`` cookie in these tests."""
    return any(key == b"cookie" and b"session=student" in value for key, value in scope["headers"])


def page_html(request: Request, *, inline: bool = True, embeds: bool = True) -> str:
    nonce = getattr(request.state, "csp_nonce", "")
    inline_script = (
        f'<script type="text/plain" data-consent-category="marketing" nonce="{nonce}">'
        'window.marketingRan = (window.marketingRan || 0) + 1; document.cookie = "_fbp=fb.1.1; path=/";'
        "</script>"
        if inline
        else ""
    )
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Lincoln High test page</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<header><h1>Lincoln High</h1></header>
<main>
<p id="lead">Homework for this week is on the class page.</p>
<p><a id="next" href="/other">Another page</a></p>
<p><label for="q">Search lessons</label> <input id="q" type="text"></p>
<p><button type="button" id="counter">Clicked 0</button></p>
<script type="text/plain" data-consent-category="analytics" src="/js/analytics.js"></script>
<script type="text/plain" data-consent-category="personalization" src="/js/personalization.js"></script>
{inline_script}
{'<iframe title="Partner video" data-consent-category="marketing" data-src="/frame" width="200" height="60"></iframe>' if embeds else ''}
<script src="/js/page.js"></script>
</main>
<footer><p><a href="#" data-consentgate="open">Cookie settings</a></p></footer>
</body>
</html>"""


async def home(request: Request) -> Response:
    return HTMLResponse(page_html(request))


async def other(request: Request) -> Response:
    return HTMLResponse(page_html(request, inline=False).replace("Lincoln High</h1>", "Other page</h1>"))


async def no_embeds(request: Request) -> Response:
    """A page without gated embeds: nothing of the banner's part is needed until the dialog opens."""
    return HTMLResponse(page_html(request, inline=False, embeds=False))


async def app_csp_page(request: Request) -> Response:
    """A page whose app sends its own strict CSP (no inline script, no inline style)."""
    response = HTMLResponse(page_html(request, inline=False))
    response.headers["content-security-policy"] = "script-src 'self'; style-src 'self'; object-src 'none'"
    return response


async def third_party_page(request: Request) -> Response:
    """Unannotated third-party tags: only the consent-aware CSP can stop them."""
    body = page_html(request).replace(
        "<footer>",
        '<script src="http://stats.example/s.js"></script><script src="http://ads.example/a.js"></script><footer>',
    )
    return HTMLResponse(body)


async def server_cookies(request: Request) -> Response:
    response = PlainTextResponse("server cookies")
    response.set_cookie("_ga_srv", "1", httponly=True)
    response.set_cookie("ad_srv", "1", httponly=True)
    return response


def js(body: str) -> Any:
    async def endpoint(request: Request) -> Response:
        return Response(body, media_type="text/javascript")

    return endpoint


async def frame(request: Request) -> Response:
    return HTMLResponse(
        "<!doctype html><html lang='en'><title>frame</title><body><p>partner</p></body></html>"
    )


PAGE_JS = """
document.getElementById("counter").addEventListener("click", function (e) {
  window.clicks = (window.clicks || 0) + 1;
  e.target.textContent = "Clicked " + window.clicks;
});
"""


def build_site(policy: Policy | None = None, **options: Any) -> Starlette:
    routes = [
        Route("/", home),
        Route("/other", other),
        Route("/no-embeds", no_embeds),
        Route("/app-csp", app_csp_page),
        Route("/third-party", third_party_page),
        Route("/server-cookies", server_cookies),
        Route("/frame", frame),
        Route("/js/analytics.js", js(ANALYTICS_JS)),
        Route("/js/personalization.js", js(PERSONALIZATION_JS)),
        Route("/js/page.js", js(PAGE_JS)),
    ]
    options.setdefault("student_resolver", is_student)
    middleware = [Middleware(ConsentMiddleware, policy=policy or make_policy(), secret_key=SECRET, **options)]
    return Starlette(routes=routes, middleware=middleware)
