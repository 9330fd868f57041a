"""The minimal integration: a Starlette app behind ConsentMiddleware.

Run it:   uvicorn examples.starlette_app:app     (from the repository root, `pip install 'consentgate[demo]'`)
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from consentgate import Consent, ConsentMiddleware

try:
    from ._common import POLICY, secret_key
except ImportError:  # run as a top-level module: `uvicorn starlette_app:app` inside examples/
    from _common import POLICY, secret_key  # type: ignore[no-redef]


async def home(request: Request) -> HTMLResponse:
    consent: Consent = request.state.consent
    response = HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Starlette + consentgate</title>"
        "</head><body><main><h1>Hello</h1>"
        f"<p>Analytics allowed: {'yes' if consent.allows('analytics') else 'no'}</p>"
        "<p><button type='button' data-consentgate='open'>Privacy preferences</button></p>"
        "</main></body></html>"
    )
    # Set cookies as usual: the middleware drops those the visitor has not allowed.
    response.set_cookie("session", "s-1", httponly=True, samesite="lax")
    response.set_cookie("theme", "dark")  # personalization
    response.set_cookie("_ga", "GA1.1.1.1")  # analytics
    return response


app = Starlette(
    routes=[Route("/", home)],
    middleware=[Middleware(ConsentMiddleware, policy=POLICY, secret_key=secret_key())],
)
