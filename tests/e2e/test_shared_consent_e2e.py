"""Consent shared across subdomains, in Chromium over HTTPS (issue 17): with ``[consent_cookie] domain =
"school.test"`` a choice made on www.school.test holds on learn.school.test and app.school.test, and a
withdrawal on one of them deletes the analytics cookie the site set for the whole domain.

The site runs on 127.0.0.1 with a throwaway certificate (trustme) for *.school.test; Chromium maps the
names to 127.0.0.1 (``--host-resolver-rules``) and accepts the test certificate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from playwright.sync_api import Browser, BrowserType, Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from support.live_server import ThreadServer

from consentgate import ConsentMiddleware, Policy
from consentgate.audit.browser import launch_options

SECRET = "subdomain-test-secret-0123456789-abcdefgh"
POLICY = Policy.from_toml(
    """
revision = 1
[consent_cookie]
domain = "school.test"
[categories.essential]
cookies = ["session"]
[categories.analytics]
cookies = [{ name = "_ga", domain = "school.test" }]
[categories.marketing]
cookies = ["_fbp"]
""",
    source="subdomains.toml",
)
NOTICE = '[data-consentgate="notice"]'


async def page_view(request: Request) -> HTMLResponse:
    host = request.headers["host"].split(":")[0]
    response = HTMLResponse(f"<!doctype html><html lang='en'><title>{host}</title><body><h1>{host}</h1></body></html>")
    # The site's analytics cookie, for every subdomain; the middleware drops it until allowed.
    response.set_cookie("_ga", "GA1.2.3", domain="school.test", secure=True, samesite="lax")
    return response


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    ca = trustme.CA()
    certificate = ca.issue_cert("school.test", "*.school.test")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    certificate.private_key_and_cert_chain_pem.write_to_path(str(cert))
    certificate.private_key_pem.write_to_path(str(key))
    app = ConsentMiddleware(Starlette(routes=[Route("/", page_view)]), policy=POLICY, secret_key=SECRET)
    server = ThreadServer(app, ssl=(str(cert), str(key)))
    server.start()
    yield server.port
    server.stop()


@pytest.fixture
def school_browser(browser_type: BrowserType) -> Iterator[Browser]:
    options: dict[str, Any] = launch_options()
    options["args"] = [*options["args"], "--host-resolver-rules=MAP *.school.test 127.0.0.1",
                       "--ignore-certificate-errors"]
    browser = browser_type.launch(**options)
    yield browser
    browser.close()


def consent_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate("fetch('/_consent').then(r => r.json())")
    return state["consent"]


def cookies_named(page: Page, name: str) -> list[dict[str, Any]]:
    return [dict(c) for c in page.context.cookies() if c["name"] == name]


@pytest.mark.e2e
def test_one_choice_holds_on_every_subdomain_and_a_withdrawal_clears_the_domain(
    school_browser: Browser, site: int
) -> None:
    context = school_browser.new_context()
    page = context.new_page()
    www, learn, app = (f"https://{name}.school.test:{site}/" for name in ("www", "learn", "app"))

    page.goto(www)
    expect(page.locator(NOTICE)).to_be_visible()  # first visit: asked
    assert cookies_named(page, "_ga") == []  # nothing optional before a choice
    page.locator(f'{NOTICE} button[data-consentgate="accept-all"]').click()
    expect(page.locator(NOTICE)).to_be_hidden()

    (consent,) = cookies_named(page, "__Secure-consentgate")
    assert consent["domain"] == ".school.test"
    assert consent["secure"] and consent["httpOnly"] and consent["path"] == "/"
    assert cookies_named(page, "__Host-consentgate") == []

    page.goto(learn)  # another subdomain: the same choice, not asked again
    assert page.locator("h1").text_content() == "learn.school.test"
    expect(page.locator(NOTICE)).to_be_hidden()
    state = consent_state(page)
    assert state["needs_choice"] is False and "analytics" in state["granted"]
    (ga,) = cookies_named(page, "_ga")  # set by the site for the whole domain, now that it is allowed
    assert ga["domain"] == ".school.test"

    page.goto(app)  # a third: withdraw there
    assert consent_state(page)["needs_choice"] is False
    page.evaluate("window.consentgate.denyAll()")
    page.wait_for_function("() => !window.consentgate.get().granted.includes('analytics')")
    assert cookies_named(page, "_ga") == []  # deleted with its Domain, for every subdomain

    page.goto(learn)
    state = consent_state(page)
    assert state["needs_choice"] is False and "analytics" not in state["granted"]
    assert cookies_named(page, "_ga") == []  # and not set again
    context.close()
