"""The e2e setup itself: pytest-playwright drives the configured Chromium against a live server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from coreapp import SECRET, make_policy
from playwright.sync_api import Page
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from consentgate import ConsentMiddleware


def _page(request: object) -> HTMLResponse:
    response = HTMLResponse("<!doctype html><title>smoke</title><main><h1>Hello</h1></main>")
    response.set_cookie("session", "s1")
    response.set_cookie("_fbp", "tracker")
    return response


@pytest.mark.e2e
def test_r_con_1_browser_keeps_only_essential_cookies_before_a_choice(
    page: Page, live_server: Callable[[ASGIApp], str]
) -> None:
    app = Starlette(
        routes=[Route("/", _page)],
        middleware=[Middleware(ConsentMiddleware, policy=make_policy(), secret_key=SECRET)],
    )
    url = live_server(app)
    page.goto(url + "/")
    assert page.locator("h1").inner_text() == "Hello"
    names = {cookie["name"] for cookie in page.context.cookies()}
    assert "session" in names
    assert "_fbp" not in names
