"""The cookie declaration in a real browser (issue 14, point 6): the preferences dialog lists each
category's cookies collapsed by default, opens by keyboard, and is axe-clean opened (R-A11Y-1);
the declaration page is axe-clean in two languages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, expect
from starlette.types import ASGIApp
from support.banner_app import build_site

pytestmark = pytest.mark.e2e

DIALOG = '[data-consentgate="dialog"]'
RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@pytest.fixture
def site(live_server: Callable[[ASGIApp], str]) -> str:
    return live_server(build_site())


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(**options)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def violations(page: Any) -> list[Any]:
    page.evaluate("document.getAnimations().forEach(a => a.finish())")
    results = Axe().run(page, options=RULES)
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]]


def test_dialog_lists_each_categorys_cookies_collapsed_and_opens_by_keyboard(
    new_context: Callable[..., BrowserContext], site: str
) -> None:
    page = new_context(locale="en").new_page()
    page.goto(site + "/")
    page.wait_for_selector('[data-consentgate="banner"]:not([hidden])', state="attached")
    page.evaluate("consentgate.show()")
    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    lists = dialog.locator("details.cg-ck")
    assert lists.count() == 4  # every category has cookies (essential: the consent cookie)
    for index in range(lists.count()):
        assert lists.nth(index).get_attribute("open") is None  # collapsed by default
    analytics = dialog.locator(".cg-row", has=page.locator('[data-consentgate-category="analytics"]'))
    summary = analytics.locator("summary")
    expect(summary).to_have_text("Cookies (2)")
    expect(analytics.get_by_text("ID used to identify users").first).to_be_hidden()
    summary.focus()
    page.keyboard.press("Enter")
    expect(analytics.locator("details")).to_have_attribute("open", "")
    item = analytics.locator("li", has_text="_ga").first
    expect(item).to_contain_text("ID used to identify users")
    expect(item).to_contain_text("Duration: 2 years")
    expect(item).to_contain_text("Set by: Google Analytics")
    expect(item).to_contain_text("from the Open Cookie Database")


@pytest.mark.parametrize(("language", "scheme"), [("en", "light"), ("ar", "dark")])
def test_r_a11y_1_dialog_with_the_cookie_lists_open_has_no_axe_violations(
    new_context: Callable[..., BrowserContext], site: str, language: str, scheme: str
) -> None:
    page = new_context(locale=language, color_scheme=scheme).new_page()
    page.goto(site + "/")
    page.wait_for_selector('[data-consentgate="banner"]:not([hidden])', state="attached")
    page.evaluate("consentgate.show()")
    expect(page.locator(DIALOG)).to_be_visible()
    for summary in page.locator(f"{DIALOG} summary").all():
        summary.click()
    assert page.locator(f"{DIALOG} details[open]").count() == 4
    assert violations(page) == []


@pytest.mark.parametrize("language", ["en", "fr"])
def test_declaration_page_has_no_axe_violations(
    new_context: Callable[..., BrowserContext], site: str, language: str
) -> None:
    page = new_context(locale=language).new_page()
    page.goto(f"{site}/_consent/cookies")
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        {"en": "Cookies on this site", "fr": "Les cookies de ce site"}[language]
    )
    assert violations(page) == []
