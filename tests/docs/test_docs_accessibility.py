"""What the accessibility statement (docs/accessibility.md) claims beyond the banner's own tests:
accessible names in every built-in language, and an axe-clean "My data" page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, expect
from starlette.types import ASGIApp
from support.banner_app import build_site

from consentgate.demo.app import create_demo_app
from consentgate.i18n.catalogs import LANGUAGES, catalog

pytestmark = pytest.mark.e2e

OPTIONAL = ("personalization", "analytics", "marketing")


@pytest.mark.parametrize("language", LANGUAGES)
def test_accessible_names_in_every_language(
    browser: Browser, live_server: Callable[[ASGIApp], str], language: str
) -> None:
    """R-A11Y-2: screen readers announce every control by its visible text in the visitor's language;
    the dialog is named by its title."""
    t = catalog(language)
    url = live_server(build_site())
    context = browser.new_context(reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(f"{url}/?consentgate_lang={language}")
        root = page.locator('[data-consentgate="banner"]')
        expect(root).to_have_attribute("lang", language)
        expect(root).to_have_attribute("dir", t["language.dir"])
        notice = page.get_by_role("region", name=t["banner.title"], exact=True)
        expect(notice).to_be_visible()
        for key in ("button.deny_all", "button.accept_all", "button.preferences"):
            expect(notice.get_by_role("button", name=t[key], exact=True)).to_be_visible()
        notice.get_by_role("button", name=t["button.preferences"], exact=True).click()
        dialog = page.get_by_role("dialog", name=t["dialog.title"], exact=True)
        expect(dialog).to_be_visible()
        expect(dialog).to_have_attribute("aria-modal", "true")
        expect(dialog.get_by_role("button", name=t["button.close"], exact=True)).to_be_visible()
        for category in OPTIONAL:
            switch = dialog.get_by_role("checkbox", name=t[f"category.{category}.label"], exact=True)
            expect(switch).to_have_accessible_description(t[f"category.{category}.description"])
        for key in ("button.deny_all", "button.accept_all", "button.save"):
            expect(dialog.get_by_role("button", name=t[key], exact=True)).to_be_visible()
        dialog.get_by_role("button", name=t["button.deny_all"], exact=True).click()
        expect(page.get_by_role("status")).to_contain_text(t["status.saved"])
        expect(page.get_by_role("button", name=t["button.open"], exact=True)).to_be_visible()
    finally:
        context.close()


@pytest.mark.parametrize("signal", ["header", "navigator"])
def test_a_locked_category_says_why_only_while_it_is_locked(
    browser: Browser, live_server: Callable[[ASGIApp], str], signal: str
) -> None:
    """Under Global Privacy Control (the header, or the browser's signal seen only by the script) the
    marketing switch is disabled and described by the reason (without it, the reason is not read:
    ``test_accessible_names_in_every_language``)."""
    t = catalog("en")
    url = live_server(build_site())
    options: dict[str, Any] = {"reduced_motion": "reduce"}
    if signal == "header":
        options["extra_http_headers"] = {"Sec-GPC": "1"}
    context = browser.new_context(**options)
    if signal == "navigator":
        context.add_init_script(
            "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"
        )
    try:
        page = context.new_page()
        page.goto(url + "/")
        page.get_by_role("button", name=t["button.preferences"], exact=True).click()
        switch = page.get_by_role("checkbox", name=t["category.marketing.label"], exact=True)
        expect(switch).to_be_disabled()
        expect(switch).to_have_accessible_description(
            f"{t['category.marketing.description']} {t['category.locked.gpc']}"
        )
    finally:
        context.close()


@pytest.mark.parametrize("language", ["en", "ar"])
def test_my_data_page_has_no_axe_violations(
    browser: Browser, live_server: Callable[[Any], str], tmp_path: Path, language: str
) -> None:
    """The visitor's "My data" page, with a receipt and a visit on it, in English and right to left."""
    store = str(tmp_path / "demo.sqlite3")
    token = "docs-a11y-dashboard-token-0123456789-abcd"
    url = live_server(create_demo_app(store, dashboard_token=token))
    context = browser.new_context(reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(url + "/")
        page.get_by_role("button", name=catalog("en")["button.accept_all"], exact=True).first.click()
        expect(page.get_by_role("status")).to_contain_text(catalog("en")["status.saved"])
        page.goto(url + "/courses")
        page.goto(f"{url}/_consent/my-data?lang={language}")
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.get_by_role("button", name=catalog(language)["my_data.forget_button"])).to_be_visible()
        results = Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
    finally:
        context.close()
