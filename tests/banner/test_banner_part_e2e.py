"""A decided visitor's page in a real browser: it holds no dialog, and the dialog fetched from
``GET /_consent/dialog`` when first opened works as a first visit's does (focus, keyboard,
withdrawal, locks and notes, no layout shift, axe-clean in light, dark and Arabic)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect
from starlette.types import ASGIApp
from support.banner_app import build_site, make_policy

from consentgate.i18n.catalogs import catalog

pytestmark = pytest.mark.e2e

BANNER = '[data-consentgate="banner"]'
DIALOG = '[data-consentgate="dialog"]'
STATUS = '[data-consentgate="status"]'
FAB = f'{BANNER} [data-consentgate="open"]'
FOOTER_LINK = 'footer [data-consentgate="open"]'
IN_DIALOG = "document.querySelector('[data-consentgate=dialog]').contains(document.activeElement)"
ACTIVE = (
    "(a => a.dataset.consentgate || a.dataset.consentgateCategory || a.tagName)(document.activeElement)"
)


def decided_page(
    context: BrowserContext, site: str, body: dict[str, Any], path: str = "/no-embeds"
) -> tuple[Page, list[str]]:
    """A page of ``site`` (by default one without gated embeds) for a visitor who made the
    decision ``body`` (through the consent endpoint, with the browser's cookies), and the list of
    the part's requests it makes."""
    answer = context.request.post(
        site + "/_consent",
        data=json.dumps(body),
        headers={"content-type": "application/json", "origin": site},
    )
    assert answer.ok
    page = context.new_page()
    parts: list[str] = []
    page.on("request", lambda r: parts.append(r.url) if "/_consent/dialog" in r.url else None)
    response = page.goto(site + path)
    assert response is not None and "<dialog" not in response.text()  # the page holds no dialog
    page.wait_for_selector(f"{BANNER}:not([hidden])", state="attached")
    return page, parts


def until(page: Page, expression: str) -> None:
    """Wait for ``expression`` polled from outside the page (a strict CSP forbids evaluating
    strings in it, which wait_for_function does): 200 polls at most."""
    for _ in range(200):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"still false: {expression}")


def settle(page: Page) -> None:
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def cookie_names(page: Page) -> set[str]:
    return {c["name"] for c in page.context.cookies()}


@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_dialog_is_fetched_when_first_opened_with_focus_and_content(
    new_context: Callable[..., BrowserContext], site: str, language: str
) -> None:
    words = catalog(language)
    page, parts = decided_page(new_context(locale=language), site, {"categories": ["analytics"]})
    page.wait_for_function("window.analyticsRan === 1")  # gated scripts run for a decided visitor
    assert parts == []  # not fetched until needed
    page.locator(FAB).focus()
    page.keyboard.press("Enter")
    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    expect(dialog.locator('[data-consentgate="close"]')).to_be_focused()  # focus moved into it
    expect(dialog.locator("h2")).to_have_text(words["dialog.title"])
    assert dialog.get_attribute("aria-labelledby") == "cg-dialog-title"
    ticks = {name: dialog.locator(f'[data-consentgate-category="{name}"]').is_checked() for name in
             ("personalization", "analytics", "marketing")}
    assert ticks == {"personalization": False, "analytics": True, "marketing": False}  # R-CON-3
    summary = dialog.locator(".cg-row", has=page.locator("#cg-c-analytics")).locator("summary")
    expect(summary).to_have_text(words["cookies.summary"].replace("{count}", "2"))
    if language == "ar":
        assert page.evaluate(f"getComputedStyle(document.querySelector('{DIALOG}')).direction") == "rtl"
    assert len(parts) == 1 and f"lang={language}&v=" in parts[0]
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator(FAB)).to_be_focused()  # back to the control that opened it
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    assert len(parts) == 1  # in the page from now on
    page.evaluate("consentgate.show()")
    expect(dialog).to_be_visible()


def test_r_con_5_r_con_6_withdrawal_from_a_decided_page(
    new_context: Callable[..., BrowserContext], site: str
) -> None:
    context = new_context()
    page, parts = decided_page(context, site, {"action": "accept_all"}, "/")
    page.wait_for_function("window.analyticsRan === 1 && window.marketingRan === 1")
    assert len(parts) == 1  # a page with a gated embed: the part (the placeholders' module URL)
    expect(page.locator("iframe")).to_have_attribute("src", "/frame")
    page.goto(site + "/server-cookies")
    assert {"_ga", "_fbp", "_ga_srv", "ad_srv"} <= cookie_names(page)
    page.goto(site + "/no-embeds")
    page.click(FOOTER_LINK)  # any data-consentgate="open" on the page
    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    expect(dialog.locator('[data-consentgate-category="marketing"]')).to_be_checked()
    dialog.locator('[data-consentgate="deny-all"]').click()  # withdrawing: as many clicks as granting
    expect(dialog).to_be_hidden()
    expect(page.locator(STATUS)).to_contain_text(catalog("en")["status.saved"])
    expect(page.locator(FOOTER_LINK)).to_be_focused()
    assert cookie_names(page) == {"consentgate"}  # HttpOnly ones too (R-CON-6)
    assert page.evaluate("consentgate.get()")["granted"] == ["essential"]
    update = [e for e in page.evaluate("window.dataLayer.map(e => Array.from(e))") if e[0] == "consent"][-1]
    assert update[1] == "update" and update[2]["analytics_storage"] == "denied"
    page.goto(site + "/")
    page.wait_for_selector(f"{BANNER}:not([hidden])", state="attached")
    assert page.evaluate("window.analyticsRan") is None
    expect(page.locator("iframe")).to_be_hidden()  # behind its placeholder again


def test_r_a11y_2_keyboard_only_in_the_fetched_dialog(
    new_context: Callable[..., BrowserContext], site: str
) -> None:
    page, parts = decided_page(new_context(), site, {"action": "deny_all"})
    page.locator(FAB).focus()
    page.keyboard.press("Space")
    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    expect(dialog.locator('[data-consentgate="close"]')).to_be_focused()
    seen = set()
    for _ in range(12):  # Tab and Shift+Tab never leave the fetched dialog (focus trap)
        page.keyboard.press("Tab")
        assert page.evaluate(IN_DIALOG)
        seen.add(page.evaluate(ACTIVE))
    assert {"close", "personalization", "analytics", "marketing", "deny-all", "accept-all", "save"} <= seen
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        assert page.evaluate(IN_DIALOG)
    dialog.locator('[data-consentgate-category="analytics"]').focus()
    page.keyboard.press("Space")
    expect(dialog.locator('[data-consentgate-category="analytics"]')).to_be_checked()
    dialog.locator('[data-consentgate="save"]').focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator(STATUS)).to_contain_text(catalog("en")["status.saved"])
    expect(page.locator(FAB)).to_be_focused()
    page.wait_for_function("window.analyticsRan === 1")
    assert page.evaluate("consentgate.get()")["granted"] == ["essential", "analytics"]
    assert len(parts) == 1


@pytest.mark.parametrize("path", ["/", "/no-embeds"])
def test_a_first_visit_carries_the_whole_banner_and_never_fetches_the_part(
    new_context: Callable[..., BrowserContext], site: str, path: str
) -> None:
    """With the part's endpoint unreachable, a first visit's page (with and without embeds) asks,
    opens its dialog, decides and reopens from what it carries inline."""
    page = new_context().new_page()
    parts: list[str] = []
    page.route("**/_consent/dialog*", lambda route: (parts.append(route.request.url), route.abort()))
    response = page.goto(site + path)
    assert response is not None and "<dialog" in response.text()
    notice = page.locator('[data-consentgate="notice"]')
    expect(notice).to_be_visible()
    page.keyboard.press("Tab")
    expect(notice.locator('[data-consentgate="deny-all"]')).to_be_focused()  # the banner first
    notice.locator('[data-consentgate="preferences"]').click()
    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    assert page.evaluate(IN_DIALOG)
    dialog.locator('[data-consentgate-category="analytics"]').check()
    dialog.locator('[data-consentgate="save"]').click()
    expect(page.locator(STATUS)).to_contain_text(catalog("en")["status.saved"])
    expect(notice).to_be_hidden()
    page.wait_for_function("window.analyticsRan === 1")
    page.click(FAB)
    expect(dialog.locator('[data-consentgate-category="analytics"]')).to_be_checked()
    page.keyboard.press("Escape")
    expect(page.locator(FAB)).to_be_focused()
    assert parts == []


@pytest.mark.parametrize("csp", ["app", "enforce"])
def test_the_fetched_dialog_works_under_a_strict_csp_in_arabic(
    new_context: Callable[..., BrowserContext], live_server: Callable[[ASGIApp], str], csp: str
) -> None:
    """app: the app's own script-src 'self' and style-src 'self' (no inline script or style);
    enforce: the middleware's consent-aware CSP with its per-response nonce, which an inline
    gated script granted from the fetched dialog still runs by. The part is fetched in the
    page's language, right to left, and nothing is blocked."""
    if csp == "app":
        url, path = live_server(build_site()), "/app-csp"
    else:
        url, path = live_server(build_site(make_policy(), csp="enforce")), "/"
    page, parts = decided_page(new_context(locale="ar"), url, {"action": "deny_all"}, path)
    header = page.evaluate("fetch(location.href).then(r => r.headers.get('content-security-policy'))")
    assert ("'nonce-" in header) if csp == "enforce" else header.startswith("script-src 'self'; style-src 'self'")
    page.click(FAB)
    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    expect(dialog.locator('[data-consentgate="close"]')).to_be_focused()
    expect(dialog.locator("h2")).to_have_text(catalog("ar")["dialog.title"])
    assert page.evaluate(f"getComputedStyle(document.querySelector('{DIALOG}')).direction") == "rtl"
    assert len(parts) == 1 and "lang=ar&v=" in parts[0]
    dialog.locator('[data-consentgate="accept-all"]').click()
    expect(dialog).to_be_hidden()
    expect(page.locator(FAB)).to_be_focused()
    until(page, "window.analyticsRan === 1")
    if csp == "enforce":
        until(page, "window.marketingRan === 1")  # the inline gated script, by its copied nonce
    assert page.evaluate("window.__violations") == []


def test_no_layout_shift_on_a_decided_page(new_context: Callable[..., BrowserContext], site: str) -> None:
    page, _ = decided_page(new_context(viewport={"width": 1000, "height": 800}), site, {"action": "deny_all"})
    settle(page)
    page.click(FAB)
    expect(page.locator(DIALOG)).to_be_visible()
    page.locator(f'{DIALOG} [data-consentgate-category="analytics"]').check()
    page.click(f'{DIALOG} [data-consentgate="save"]')
    expect(page.locator(STATUS)).to_contain_text(catalog("en")["status.saved"])
    settle(page)
    assert page.evaluate("window.__cls") == 0, page.evaluate("window.__shifts")


def test_locks_and_notes_on_a_decided_page(new_context: Callable[..., BrowserContext], site: str) -> None:
    """R-STU-1 and R-GPC-3 when the dialog comes later: the state locks, the notes say why."""
    en = catalog("en")
    context = new_context()
    context.add_cookies([{"name": "session", "value": "student", "url": site}])
    page, _ = decided_page(context, site, {"action": "accept_all"})
    page.evaluate("consentgate.show()")
    marketing = page.locator(f'{DIALOG} [data-consentgate-category="marketing"]')
    expect(marketing).to_be_disabled()
    expect(marketing).not_to_be_checked()
    expect(page.locator("#cg-k-marketing")).to_have_text(en["category.locked.student"])
    expect(page.locator("#cg-k-analytics")).to_be_hidden()
    expect(page.locator(f'{DIALOG} [data-consentgate-note="student"]')).to_have_text(en["banner.student"])
    expect(page.locator(f'{DIALOG} [data-consentgate-note="gpc"]')).to_be_hidden()
    description = marketing.evaluate("b => b.getAttribute('aria-describedby')")
    assert description == "cg-d-marketing cg-k-marketing"

    gpc = new_context(extra_http_headers={"Sec-GPC": "1"})
    page, _ = decided_page(gpc, site, {"action": "accept_all"})
    modes = [e for e in page.evaluate("window.dataLayer.map(e => Array.from(e))") if e[0] == "consent"][-1][2]
    assert modes["ad_storage"] == "denied" and modes["analytics_storage"] == "granted"  # R-GCM-3
    page.evaluate("consentgate.show()")
    expect(page.locator(f'{DIALOG} [data-consentgate-note="gpc"]')).to_have_text(en["banner.gpc"])
    expect(page.locator("#cg-k-marketing")).to_have_text(en["category.locked.gpc"])
    expect(page.locator(f'{DIALOG} [data-consentgate-note="student"]')).to_be_hidden()


def test_a_dialog_that_cannot_be_fetched_says_so_and_retries(
    new_context: Callable[..., BrowserContext], site: str
) -> None:
    page, _ = decided_page(new_context(), site, {"action": "deny_all"})
    page.route("**/_consent/dialog*", lambda route: route.abort("connectionrefused"))
    page.click(FAB)
    status = page.locator(STATUS)
    expect(status).to_contain_text(catalog("en")["status.error"])
    retry = status.locator('[data-consentgate="retry"]')
    expect(retry).to_be_focused()
    assert page.locator(DIALOG).count() == 0
    page.unroute("**/_consent/dialog*")
    retry.click()
    expect(page.locator(DIALOG)).to_be_visible()
    expect(retry).to_be_hidden()
    expect(page.locator('[data-consentgate="message"]')).to_have_text("")


@pytest.mark.parametrize(("scheme", "language"), [("light", "en"), ("dark", "en"), ("light", "ar")])
def test_r_a11y_1_the_fetched_dialog_is_axe_clean(
    new_context: Callable[..., BrowserContext], site: str, scheme: str, language: str
) -> None:
    page, _ = decided_page(new_context(color_scheme=scheme, locale=language), site, {"categories": ["analytics"]})
    page.evaluate("consentgate.show()")
    expect(page.locator(DIALOG)).to_be_visible()
    page.evaluate("document.getAnimations().forEach(a => a.finish())")
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa"]}})
    violations = [(v["id"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]]
    assert violations == []
    assert {"color-contrast", "button-name", "aria-dialog-name"} & {r["id"] for r in results.response["passes"]} >= {
        "color-contrast",
        "button-name",
    }
