"""Cross-site request forgery against the consent endpoint, from a real browser (issue 7, security pass).

The attacker's page is served on another site (http://localhost:PORT, while the app is on
http://127.0.0.1:PORT) and tries the two requests a page can make without CORS permission: an
auto-submitted form (a top-level navigation, where a Set-Cookie would be stored) and a no-cors fetch.
Neither may record a decision or set the consent cookie."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from coreapp import build_app, make_policy
from playwright.sync_api import Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from consentgate import Decision


def _attacker(target: str) -> Starlette:
    form = (
        "<!doctype html><title>win a prize</title>"
        f"<form id=f method=post action='{target}/_consent' enctype='text/plain'>"
        "<input type=hidden name='{\"action\":\"accept_all\",\"pad\":\"' value='\"}'></form>"
        "<script>"
        f"fetch('{target}/_consent', {{method: 'POST', mode: 'no-cors', credentials: 'include',"
        " headers: {'Content-Type': 'text/plain'}, body: JSON.stringify({action: 'accept_all'})})"
        ".finally(() => document.getElementById('f').submit());"
        "</script>"
    )

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(form)

    return Starlette(routes=[Route("/", page)])


@pytest.mark.e2e
def test_cross_site_form_and_fetch_cannot_record_consent(page: Page, live_server: Callable[[ASGIApp], str]) -> None:
    decisions: list[Decision] = []
    app = build_app(make_policy(), on_decision=decisions.append)
    target = live_server(app)
    evil = live_server(_attacker(target)).replace("127.0.0.1", "localhost")
    responses: list[int] = []
    page.on("response", lambda r: responses.append(r.status) if r.url.endswith("/_consent") else None)
    page.goto(evil + "/")
    page.wait_for_url(f"{target}/_consent", timeout=10_000)  # the form navigated to the endpoint
    assert responses
    assert all(status in (403, 415) for status in responses), responses
    assert not [c for c in page.context.cookies() if c["name"].startswith(("consentgate", "__Host-consentgate"))]
    assert decisions == []
    state = page.request.get(f"{target}/_consent").json()
    assert state["consent"]["needs_choice"] is True
