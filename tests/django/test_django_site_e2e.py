"""examples/django_site, run as its README section says (uvicorn school.asgi:application), driven in
Chromium: the banner on the site's pages and the admin's, admin sign-in before any choice and after
Deny all (Django's CSRF check passes), analytics and marketing cookies held back until accepted and
deleted on withdrawal, the messages flow, the language switch, a view reading the consent, and the
visits in the privacy log."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from support.live_server import ServerProcess

from consentgate.audit.pytest_plugin import click_through_banner
from consentgate.log.stores.factory import open_store

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SITE = Path(__file__).resolve().parents[2] / "examples" / "django_site"
PASSWORD = "teacher-password-0123456789"
BANNER = '[data-consentgate="banner"]'


class Site:
    def __init__(self, url: str, log: str) -> None:
        self.url = url
        self.log = log


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("django_site")
    env = {
        "SCHOOL_DATA_DIR": str(data),
        "SCHOOL_CONSENT_LOG": str(data / "consentgate.sqlite3"),
        "CONSENTGATE_SECRET": "django-site-secret-0123456789-abcdefghijkl",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "-v0"], ["createsuperuser", "--noinput", "--username", "teacher",
                                          "--email", "teacher@example.org"]):  # fmt: skip
        subprocess.run(
            [*manage, *command], cwd=SITE, env={**os.environ, **env}, check=True, capture_output=True
        )
    server = ServerProcess("school.asgi:application", env=env, cwd=SITE)
    server.output_dir = data
    server.start()
    try:
        yield Site(server.url, env["SCHOOL_CONSENT_LOG"])
    finally:
        server.stop()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context()
    yield context
    context.close()


def _cookies(context: BrowserContext) -> set[str]:
    return {c["name"] for c in context.cookies()}


def _sign_in(page: Page, site: Site) -> None:
    page.goto(site.url + "/admin/")
    expect(page.locator(BANNER)).to_have_count(1)  # the admin's login page gets the banner too
    page.fill("#id_username", "teacher")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()
    assert page.url.rstrip("/").endswith("/admin"), page.url  # signed in: CSRF passed


def test_admin_sign_in_before_any_choice_and_after_deny_all(browser: Browser, site: Site) -> None:
    fresh = browser.new_context()
    _sign_in(fresh.new_page(), site)
    assert {"csrftoken", "sessionid"} <= _cookies(fresh)
    fresh.close()

    refused = browser.new_context()
    page = refused.new_page()
    page.goto(site.url + "/admin/login/")
    click_through_banner(page, "deny_all")
    _sign_in(page, site)
    expect(page.locator(BANNER)).to_have_count(1)  # on the admin index as well
    assert not _cookies(refused) & {"_ga", "_fbp"}
    refused.close()


def test_r_con_6_site_flow_cookies_messages_language_consent_and_visits(
    context: BrowserContext, site: Site
) -> None:
    page = context.new_page()
    page.goto(site.url + "/")
    expect(page.locator(BANNER)).to_have_count(1)  # placed by {% consentgate_banner %}, not twice
    expect(page.locator("#analytics")).to_have_text("Analytics allowed: no")
    page.goto(site.url + "/lab")
    assert not _cookies(context) & {"_ga", "_fbp"}  # before any choice (R-CON-1)

    page.click("#save-note")  # a POST with Django's CSRF token, then a redirect with a message cookie
    expect(page.locator(".message")).to_have_text("Your note was saved.")
    page.click("#to-french")
    expect(page.locator("#language")).to_have_text("Language: fr")
    assert "django_language" in _cookies(context)

    click_through_banner(page, "accept_all")
    page.goto(site.url + "/lab")
    assert {"_ga", "_fbp"} <= _cookies(context)
    page.goto(site.url + "/")
    expect(page.locator("#analytics")).to_have_text("Analytics allowed: yes")
    consent_id = page.request.get(site.url + "/_consent").json()["consent"]["consent_id"]

    page.click('footer [data-consentgate="open"]')
    with page.expect_response(lambda r: r.url.endswith("/_consent") and r.request.method == "POST") as saved:
        page.click('[data-consentgate="dialog"] [data-consentgate="deny-all"]')
    assert saved.value.ok
    page.goto(site.url + "/lab")  # the next response deletes the withdrawn cookies, HttpOnly _ga too
    assert not _cookies(context) & {"_ga", "_fbp"}

    # The two pages seen with analytics allowed are in the privacy log (the writer runs every 0.25 s).
    deadline = time.monotonic() + 15
    visits: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        with open_store(site.log) as store:
            visits = store.visits(consent_id=consent_id)
        if len(visits) >= 2:
            break
        time.sleep(0.1)
    assert sorted(str(v["path"]) for v in visits) == ["/", "/lab"]
    assert {v["browser"] for v in visits} == {"Chrome"}
