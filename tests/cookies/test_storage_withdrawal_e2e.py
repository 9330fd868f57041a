"""Withdrawal clears web storage, in Chromium (issue 19): a gated analytics script writes
``AMP_test`` to localStorage and a gated marketing script opens an IndexedDB database. Deny all:
neither exists; accept all: both; withdraw: both gone without a reload, and the
``consentgate:change`` event names what was cleared. The plugin's ``storage_snapshot`` reads it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from consentgate import ConsentMiddleware, Policy
from consentgate.audit.pytest_plugin import StorageSnapshot, assert_storage_allowed

pytestmark = pytest.mark.e2e

SECRET = "storage-secret-0123456789-abcdefghijklmn"
POLICY = Policy.from_toml(
    """
revision = 1
[categories.analytics]
storage = ["AMP_*"]
[categories.marketing]
storage = ["ads-*"]
""",
    source="storage.toml",
)
ANALYTICS_JS = "localStorage.setItem('AMP_test', 'device-1'); sessionStorage.setItem('AMP_session', 's'); window.analyticsRan = true;"
# A tracker that opens its database, writes, and closes it (a script that keeps it open only loses
# it once it lets go: documented as best effort).
MARKETING_JS = """
const open = indexedDB.open('ads-db', 1);
open.onupgradeneeded = () => open.result.createObjectStore('ids');
open.onsuccess = () => {
  const tx = open.result.transaction('ids', 'readwrite');
  tx.objectStore('ids').put('u-1', 'me');
  tx.oncomplete = () => { open.result.close(); window.marketingRan = true; };
};
"""
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Storage</title></head>
<body><main><h1>Lincoln High</h1>
<script>localStorage.setItem('site_pref', 'dark'); document.addEventListener('consentgate:change', (e) => { window.changes = (window.changes || []).concat([e.detail]); });</script>
<script type="text/plain" data-consent-category="analytics" src="/analytics.js"></script>
<script type="text/plain" data-consent-category="marketing" src="/marketing.js"></script>
</main></body></html>"""


def site() -> Starlette:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    def script(body: str) -> Any:
        async def endpoint(request: Request) -> Response:
            return Response(body, media_type="text/javascript")

        return endpoint

    return Starlette(
        routes=[Route("/", page), Route("/analytics.js", script(ANALYTICS_JS)), Route("/marketing.js", script(MARKETING_JS))],
        middleware=[Middleware(ConsentMiddleware, policy=POLICY, secret_key=SECRET)],
    )


@pytest.fixture
def url(live_server: Callable[[ASGIApp], str]) -> str:
    return live_server(site())


def open_site(page: Page, url: str) -> None:
    page.goto(url + "/")
    page.wait_for_selector('[data-consentgate="banner"]:not([hidden])', state="attached")


def until(page: Page, expression: str) -> None:
    for _ in range(200):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"still false: {expression}")


def test_deny_accept_then_withdraw_clears_web_storage(
    page: Page, url: str, storage_snapshot: Callable[[Page], StorageSnapshot]
) -> None:
    open_site(page, url)
    page.click('[data-consentgate="notice"] [data-consentgate="deny-all"]')
    until(page, "(window.changes || []).length === 1")
    page.reload()
    page.wait_for_selector('[data-consentgate="banner"]:not([hidden])', state="attached")
    denied = storage_snapshot(page)
    assert denied == StorageSnapshot(("site_pref",), (), ())  # neither tracker wrote anything
    assert_storage_allowed(POLICY, denied, allow_undeclared=True)

    page.evaluate("consentgate.acceptAll()")
    until(page, "window.analyticsRan === true && window.marketingRan === true")
    accepted = storage_snapshot(page)
    assert accepted.local_storage == ("AMP_test", "site_pref")
    assert accepted.session_storage == ("AMP_session",)
    assert accepted.indexed_db == ("ads-db",)
    with pytest.raises(AssertionError, match=r"ads-db \(indexedDB\): category marketing, which is not allowed"):
        assert_storage_allowed(POLICY, accepted, ["analytics"], allow_undeclared=True)

    # Withdraw, without a reload: the banner removes the withdrawn categories' storage.
    detail = page.evaluate("consentgate.denyAll()")
    assert detail["cleared"]["localStorage"] == ["AMP_test"]
    assert detail["cleared"]["sessionStorage"] == ["AMP_session"]
    assert detail["cleared"]["indexedDB"] == ["ads-db"]
    assert page.evaluate("window.changes.at(-1).cleared.indexedDB") == ["ads-db"]  # the event says so
    after = storage_snapshot(page)
    assert after == StorageSnapshot(("site_pref",), (), ())  # undeclared site data is left alone
    assert page.evaluate("location.pathname") == "/" and page.evaluate("window.analyticsRan") is True


def test_withdrawing_one_category_keeps_the_other(page: Page, url: str, storage_snapshot: Callable[[Page], StorageSnapshot]) -> None:
    open_site(page, url)
    page.evaluate("consentgate.acceptAll()")
    until(page, "window.analyticsRan === true && window.marketingRan === true")
    page.evaluate("consentgate.show()")
    page.locator('[data-consentgate-category="marketing"]').uncheck()
    page.click('[data-consentgate="dialog"] [data-consentgate="save"]')
    until(page, "(window.changes || []).length === 2")
    cleared = page.evaluate("window.changes[1].cleared")
    assert cleared == {"cookies": [], "localStorage": [], "sessionStorage": [], "indexedDB": ["ads-db"]}
    left = storage_snapshot(page)
    assert "AMP_test" in left.local_storage and left.indexed_db == ()
    expect(page.locator('[data-consentgate="status"]')).to_contain_text("saved")
