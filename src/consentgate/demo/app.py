"""The demo app: a home page behind ConsentMiddleware (grows into the full school site)."""

from __future__ import annotations

import secrets
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from ..middleware import ConsentMiddleware
from ..policy import Policy

POLICY_PATH = Path(__file__).with_name("demo_policy.toml")


async def home(request: Request) -> HTMLResponse:
    consent = request.state.consent
    granted = ", ".join(sorted(consent.granted))
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>consentgate demo</title></head>"
        f"<body><main><h1>Lincoln High (demo)</h1><p>Allowed for this request: {granted}</p>"
        "</main></body></html>"
    )


def create_demo_app(store: str | None = None) -> Starlette:
    """Build the demo site. ``store`` is the privacy-log location."""
    policy = Policy.from_file(POLICY_PATH)
    return Starlette(
        routes=[Route("/", home)],
        middleware=[Middleware(ConsentMiddleware, policy=policy, secret_key=secrets.token_urlsafe(32))],
    )
