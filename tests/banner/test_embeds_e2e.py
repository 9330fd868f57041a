"""Click-to-load placeholders in a real browser (Chromium through Playwright), against live servers.

The page (``support.embed_site``) has a lesson video and a campus map (marketing frames) and a
poll widget (analytics, a ``<div>`` with its content in a ``<template>``), all from a "third
party" on 127.0.0.2 that records every request it gets. Each test names what it proves.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect
from starlette.types import ASGIApp
from support.embed_site import THIRD_PARTY_HOST, ThirdParty, build_site
from support.live_server import ThreadServer

from consentgate.i18n.catalogs import catalog
from consentgate.log.stores.factory import open_store

pytestmark = pytest.mark.e2e

EN = catalog("en")
DOCS_PNG = Path(__file__).resolve().parents[2] / "docs" / "images" / "embeds.png"
PH = ".cg-ph"
NOTICE = '[data-consentgate="notice"]'
DIALOG = '[data-consentgate="dialog"]'
STATUS = '[data-consentgate="status"]'
ONCE = '[data-consentgate="embed-once"]'
ALLOW = '[data-consentgate="embed-allow"]'
GPC_ON = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"


@pytest.fixture
def third_party() -> Iterator[tuple[str, ThirdParty]]:
    party = ThirdParty()
    server = ThreadServer(party.app(), host=THIRD_PARTY_HOST, lifespan="off")
    try:
        yield server.start(), party
    finally:
        server.stop()


@pytest.fixture
def site(
    live_server: Callable[[ASGIApp], str], third_party: tuple[str, ThirdParty], tmp_path: Path
) -> Callable[..., str]:
    """``site(**options)``: the embeds page served with a privacy log in ``tmp_path``."""

    def serve(**options: Any) -> str:
        options.setdefault("log_path", tmp_path / "log.sqlite3")
        return live_server(build_site(third_party[0], **options))

    return serve


def visit(page: Page, url: str, placeholders: int = 3) -> None:
    page.goto(url)
    expect(page.locator(PH)).to_have_count(placeholders)


def placeholder(page: Page, embed: str) -> Any:
    """The placeholder of ``#video``/``#map`` (a sibling) or ``#poll`` (a child)."""
    return page.locator(f"{embed} + {PH}, {PH}:has(+ {embed}), {embed} > {PH}")


def settle(page: Page) -> None:
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def to_third_party(requests: list[str]) -> list[str]:
    return [url for url in requests if f"//{THIRD_PARTY_HOST}:" in url]


def receipts(log_path: Path, consent_id: str | None = None) -> list[Any]:
    """Every receipt of ``consent_id`` in the privacy log (``consent_id=None``: a count check)."""
    store = open_store(str(log_path))
    try:
        if consent_id is None:
            return [None] * store.counts()[0]
        return store.receipts(consent_id=consent_id)
    finally:
        store.close()


def test_placeholders_before_consent_and_no_request_to_the_embeds_host(
    new_context: Callable[..., BrowserContext], site: Callable[..., str], third_party: tuple[str, ThirdParty]
) -> None:
    """R-CON-1: every embed shows a placeholder in its own box; the network shows nothing sent to
    the third party (neither the browser's requests nor the third party's own log)."""
    page = new_context().new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    visit(page, site() + "/")
    video = placeholder(page, "#video")
    expect(video.locator("strong")).to_have_text("SchoolTube")
    expect(video).to_contain_text("Not loaded until you allow Marketing.")
    # the policy's [embeds.services.SchoolTube]: its host and its cookies
    expect(video).to_contain_text(
        "Loading it connects your browser to 127.0.0.2, which then learns that you visited this page "
        "and may set cookies (VISITOR_INFO1_LIVE, YSC)."
    )
    # a service the policy does not describe: the frame's host and the category's cookies
    expect(placeholder(page, "#map")).to_contain_text("may set cookies (_fbp, VISITOR_INFO1_LIVE, YSC)")
    expect(placeholder(page, "#poll")).to_contain_text("Not loaded until you allow Analytics.")
    # buttons named with the service
    expect(video.locator(ONCE)).to_have_accessible_name("Load this once: SchoolTube")
    expect(video.locator(ALLOW)).to_have_accessible_name("Allow Marketing and load SchoolTube")
    expect(video.locator(ALLOW)).to_have_text("Allow Marketing")
    assert page.locator("#video").get_attribute("src") is None
    expect(page.locator("#video")).to_be_hidden()
    assert page.locator("#poll iframe").count() == 0 and page.evaluate("window.pollRan") is None
    expect(page.locator("#notes")).to_have_text("A div without a template is not an embed.")
    page.wait_for_load_state("networkidle")
    assert to_third_party(requests) == []
    assert third_party[1].hits == []
    assert page.context.cookies() == []


def test_cls_zero_with_placeholders_and_when_embeds_load(
    new_context: Callable[..., BrowserContext], site: Callable[..., str]
) -> None:
    """No layout shift: the placeholders take the embeds' boxes, and the embeds take them back."""
    page = new_context(viewport={"width": 1000, "height": 900}).new_page()
    visit(page, site() + "/")
    settle(page)
    assert page.evaluate("window.__cls") == 0, page.evaluate("window.__shifts")
    box = placeholder(page, "#video").bounding_box()
    assert box is not None and (box["width"], box["height"]) == (564, 319)  # 560x315 + the frame's border
    map_box = placeholder(page, "#map").bounding_box()
    assert map_box is not None and (map_box["width"], map_box["height"]) == (400, 150)  # site CSS: no border
    below = page.locator("#last").bounding_box()
    placeholder(page, "#video").locator(ALLOW).click()
    expect(page.locator("#video")).to_be_visible()
    expect(page.locator("#map")).to_be_visible()
    settle(page)
    assert page.locator("#video").bounding_box() == box
    assert page.locator("#last").bounding_box() == below
    assert page.evaluate("window.__cls") == 0, page.evaluate("window.__shifts")


def test_narrow_page_keeps_the_aspect_ratio(new_context: Callable[..., BrowserContext], site: Callable[..., str]) -> None:
    page = new_context(viewport={"width": 360, "height": 740}).new_page()
    visit(page, site() + "/")
    box = placeholder(page, "#video").bounding_box()
    assert box is not None
    assert box["width"] < 360
    assert abs(box["width"] / box["height"] - 564 / 319) < 0.01


def test_load_this_once_loads_records_nothing_and_is_gone_after_reload(
    new_context: Callable[..., BrowserContext],
    site: Callable[..., str],
    third_party: tuple[str, ThirdParty],
    tmp_path: Path,
) -> None:
    page = new_context().new_page()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    visit(page, site() + "/")
    placeholder(page, "#video").locator(ONCE).click()
    expect(page.frame_locator("#video").locator("#embedded")).to_have_text("The video, from the third party.")
    assert third_party[1].hits == ["video"]
    expect(page.locator(PH)).to_have_count(2)  # the map (same category) stays behind its placeholder
    expect(page.locator(NOTICE)).to_be_visible()  # no choice was made
    assert posts == []
    assert page.context.cookies() == []
    assert receipts(tmp_path / "log.sqlite3") == []
    assert page.evaluate("consentgate.get().granted") == ["essential"]
    # another decision that does not allow marketing leaves the once-loaded video alone
    page.evaluate("consentgate.save(['personalization'])")
    expect(page.locator(STATUS)).to_contain_text(EN["status.saved"])
    assert page.locator("#video").get_attribute("src", timeout=1000).endswith("/embed/video")
    page.reload()
    expect(page.locator(PH)).to_have_count(3)
    assert page.locator("#video").get_attribute("src") is None
    assert third_party[1].hits == ["video"]


def test_allow_marketing_records_a_placeholder_receipt_and_loads_every_marketing_embed(
    new_context: Callable[..., BrowserContext],
    site: Callable[..., str],
    third_party: tuple[str, ThirdParty],
    tmp_path: Path,
) -> None:
    page = new_context().new_page()
    page.goto(site() + "/")
    page.evaluate("window.sameDocument = true")
    expect(page.locator(PH)).to_have_count(3)
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/_consent")) as posted:
        placeholder(page, "#map").locator(ALLOW).click()
    body = json.loads(posted.value.post_data or "{}")
    assert body["categories"] == ["marketing"] and body["method"] == "placeholder"
    expect(page.locator(STATUS)).to_contain_text(EN["status.saved"])
    expect(page.frame_locator("#video").locator("#embedded")).to_be_visible()
    expect(page.frame_locator("#map").locator("#embedded")).to_be_visible()
    expect(page.locator(PH)).to_have_count(1)  # the analytics poll waits for analytics
    assert sorted(third_party[1].hits) == ["map", "video"]
    assert page.evaluate("window.sameDocument") is True
    expect(page.locator(NOTICE)).to_be_hidden()  # a choice has been made
    consent_id = page.evaluate("fetch('/_consent').then(r => r.json())")["consent"]["consent_id"]
    (receipt,) = receipts(tmp_path / "log.sqlite3", consent_id)
    assert len(receipts(tmp_path / "log.sqlite3")) == 1
    assert receipt.method == "placeholder"
    assert set(receipt.granted) == {"marketing"}
    assert set(receipt.refused) == {"personalization", "analytics"}
    # a returning visitor: the embeds load at once
    page.reload()
    expect(page.frame_locator("#video").locator("#embedded")).to_be_visible()
    expect(page.locator(PH)).to_have_count(1)


def test_a_decided_visitor_gets_placeholders_from_the_fetched_part(
    new_context: Callable[..., BrowserContext],
    site: Callable[..., str],
    third_party: tuple[str, ThirdParty],
    tmp_path: Path,
) -> None:
    """The page of a visitor who has chosen holds no placeholder template: it comes with the
    banner's part (GET /_consent/dialog), and "Allow" works as on a first visit."""
    url = site()
    context = new_context(viewport={"width": 1000, "height": 900})
    denied = context.request.post(
        url + "/_consent", data='{"action": "deny_all"}', headers={"content-type": "application/json", "origin": url}
    )
    assert denied.ok
    page = context.new_page()
    parts: list[str] = []
    page.on("request", lambda r: parts.append(r.url) if "/_consent/dialog" in r.url else None)
    response = page.goto(url + "/")
    assert response is not None and "<template data-consentgate" not in response.text()
    expect(page.locator(PH)).to_have_count(3)
    assert len(parts) == 1
    settle(page)
    assert page.evaluate("window.__cls") == 0, page.evaluate("window.__shifts")  # placeholders after the fetch
    box = placeholder(page, "#video").bounding_box()
    assert box is not None and (box["width"], box["height"]) == (564, 319)
    expect(placeholder(page, "#video").locator(ALLOW)).to_have_accessible_name("Allow Marketing and load SchoolTube")
    placeholder(page, "#video").locator(ALLOW).click()
    expect(page.frame_locator("#video").locator("#embedded")).to_be_visible()
    expect(page.locator(PH)).to_have_count(1)
    consent_id = page.evaluate("fetch('/_consent').then(r => r.json())")["consent"]["consent_id"]
    # both receipts of this visitor (ordered by time to the second, then by random id: either order)
    assert sorted(r.method for r in receipts(tmp_path / "log.sqlite3", consent_id)) == ["deny_all", "placeholder"]
    assert third_party[1].hits.count("poll") == 0


def test_withdrawal_puts_loaded_embeds_back_to_placeholders_without_reload(
    new_context: Callable[..., BrowserContext], site: Callable[..., str], third_party: tuple[str, ThirdParty]
) -> None:
    page = new_context().new_page()
    visit(page, site() + "/")
    page.evaluate("window.sameDocument = true")
    page.evaluate("consentgate.acceptAll()")
    expect(page.locator(PH)).to_have_count(0)
    expect(page.frame_locator("#poll iframe").locator("#embedded")).to_be_visible()
    assert page.evaluate("window.pollRan") == 1  # the widget's script ran once it was allowed
    page.locator('footer [data-consentgate="open"]').click()
    page.locator(f'{DIALOG} [data-consentgate-category="marketing"]').uncheck()
    page.locator(f'{DIALOG} [data-consentgate="save"]').click()
    expect(page.locator(PH)).to_have_count(2)
    assert page.locator("#video").get_attribute("src") == "about:blank"  # the third party's page is gone
    expect(page.locator("#video")).to_be_hidden()
    expect(page.frame_locator("#poll iframe").locator("#embedded")).to_be_visible()  # analytics stays
    page.evaluate("consentgate.denyAll()")
    expect(page.locator(PH)).to_have_count(3)
    assert page.locator("#poll iframe").count() == 0
    assert page.evaluate("window.sameDocument") is True
    # and they load again when allowed again
    placeholder(page, "#poll").locator(ALLOW).click()
    expect(page.frame_locator("#poll iframe").locator("#embedded")).to_be_visible()


def test_r_stu_1_student_placeholder_says_marketing_is_locked_and_offers_no_grant(
    new_context: Callable[..., BrowserContext], site: Callable[..., str], third_party: tuple[str, ThirdParty]
) -> None:
    url = site()
    context = new_context()
    context.add_cookies([{"name": "session", "value": "student", "url": url}])
    page = context.new_page()
    visit(page, url + "/")
    video = placeholder(page, "#video")
    expect(video.locator(".cg-lock:visible")).to_have_text(EN["category.locked.student"])
    expect(video.locator(ONCE)).to_be_hidden()
    expect(video.locator(ALLOW)).to_be_hidden()
    expect(placeholder(page, "#poll").locator(ALLOW)).to_be_visible()  # analytics is not locked
    page.evaluate("consentgate.acceptAll()")
    expect(page.locator(PH)).to_have_count(2)  # Accept all still cannot load marketing
    expect(page.frame_locator("#poll iframe").locator("#embedded")).to_be_visible()  # the poll's request made
    assert third_party[1].hits == ["poll"]


@pytest.mark.parametrize("signal", ["header", "navigator"])
def test_r_gpc_1_placeholder_under_global_privacy_control(
    new_context: Callable[..., BrowserContext], site: Callable[..., str], signal: str
) -> None:
    context = new_context(extra_http_headers={"Sec-GPC": "1"}) if signal == "header" else new_context()
    if signal == "navigator":
        context.add_init_script(GPC_ON)
    page = context.new_page()
    visit(page, site() + "/")
    map_ph = placeholder(page, "#map")
    expect(map_ph.locator(".cg-lock:visible")).to_have_text(EN["category.locked.gpc"])
    expect(map_ph.locator(ALLOW)).to_be_hidden()
    expect(map_ph.locator(ONCE)).to_be_hidden()
    expect(placeholder(page, "#poll").locator(ONCE)).to_be_visible()


def test_load_once_is_offered_only_where_the_policy_says_so(
    new_context: Callable[..., BrowserContext], site: Callable[..., str]
) -> None:
    page = new_context().new_page()
    visit(page, site(load_once=False) + "/")
    expect(page.locator(f"{PH} {ONCE}")).to_have_count(3)
    for index in range(3):
        expect(page.locator(f"{PH} {ONCE}").nth(index)).to_be_hidden()
    expect(placeholder(page, "#video").locator(ALLOW)).to_be_visible()


def test_keyboard_reaches_the_placeholder_and_focus_lands_on_the_loaded_embed(
    new_context: Callable[..., BrowserContext], site: Callable[..., str]
) -> None:
    page = new_context().new_page()
    visit(page, site() + "/")
    page.locator(f"{NOTICE} [data-consentgate='deny-all']").click()
    expect(page.locator(STATUS)).to_contain_text(EN["status.saved"])
    page.locator("h1").click()  # start tabbing from the top of the page
    names = []
    for _ in range(4):
        page.keyboard.press("Tab")
        names.append(page.evaluate("document.activeElement.getAttribute('aria-label') || document.activeElement.textContent"))
    assert names[:3] == ["Load this once: SchoolTube", "Allow Marketing and load SchoolTube", EN["button.open"]]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # Allow Marketing
    expect(page.locator("#video")).to_be_focused()
    # the placeholder's link opens the preferences dialog
    placeholder(page, "#poll").locator('[data-consentgate="open"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator(DIALOG)).to_be_visible()


def test_works_under_the_apps_strict_csp(new_context: Callable[..., BrowserContext], site: Callable[..., str]) -> None:
    """No inline script or style: the script sizes placeholders through the CSSOM."""
    page = new_context(viewport={"width": 1000, "height": 1400}).new_page()  # the poll above the banner
    visit(page, site(strict_csp=True) + "/")
    box = placeholder(page, "#video").bounding_box()
    assert box is not None and (box["width"], box["height"]) == (564, 319)
    placeholder(page, "#poll").locator(ALLOW).click()
    expect(page.frame_locator("#poll iframe").locator("#embedded")).to_be_visible()
    assert page.evaluate("window.pollRan") == 1
    assert page.evaluate("window.__violations") == []


@pytest.mark.parametrize(("scheme", "language"), [("light", "en"), ("dark", "en"), ("light", "ar")])
def test_r_a11y_1_axe_clean_with_placeholders(
    new_context: Callable[..., BrowserContext], site: Callable[..., str], scheme: str, language: str
) -> None:
    page = new_context(color_scheme=scheme, locale=language).new_page()
    visit(page, site() + "/")
    video = placeholder(page, "#video")
    assert video.get_attribute("dir") == ("rtl" if language == "ar" else "ltr")
    assert video.get_attribute("lang") == language
    expect(video.locator(ALLOW)).to_have_text(catalog(language)["embed.allow"].replace("{category}", catalog(language)["category.marketing.label"]))
    page.evaluate("document.getAnimations().forEach(a => a.finish())")
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa"]}})
    violations = [(v["id"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]]
    assert violations == []
    checked = {rule["id"] for rule in results.response["passes"]}
    assert {"color-contrast", "button-name"} <= checked


def test_under_an_enforced_consent_aware_csp_allow_reloads_and_load_once_is_not_offered(
    new_context: Callable[..., BrowserContext], live_server: Callable[[ASGIApp], str]
) -> None:
    """The page's own consent-aware CSP names only the hosts allowed when it loaded: a frame of
    another host cannot load in it, so the embed loads on the next page (the module reloads).
    The third party is a name on the default port here, answered by the browser's router (a CSP
    host without a port means the scheme's default port)."""
    third_party = "http://video.example"
    served: list[str] = []
    page = new_context().new_page()
    page.route(
        f"{third_party}/**",
        lambda route: (served.append(route.request.url), route.fulfill(
            content_type="text/html", body="<!doctype html><title>x</title><p id='embedded'>video</p>"
        )),
    )
    visit(page, live_server(build_site(third_party, csp="enforce")) + "/")
    page.evaluate("window.sameDocument = true")
    video = placeholder(page, "#video")
    expect(video.locator(ONCE)).to_be_hidden()
    assert served == []
    video.locator(ALLOW).click()
    expect(page.frame_locator("#video").locator("#embedded")).to_be_visible()
    assert page.evaluate("window.sameDocument") is None  # reloaded
    assert page.evaluate("window.__violations") == []
    assert sorted(url.rsplit("/", 1)[1] for url in served) == ["map", "video"]


def test_screenshot_docs_embeds_png(
    new_context: Callable[..., BrowserContext], live_server: Callable[[ASGIApp], str], tmp_path: Path
) -> None:
    """docs/images/embeds.png: the lesson video's placeholder, as a visitor sees it before any
    choice; CONSENTGATE_SCREENSHOT=1 regenerates it."""
    page = new_context(viewport={"width": 800, "height": 900}, reduced_motion="reduce").new_page()
    visit(page, live_server(build_site("http://video.example")) + "/")
    target = DOCS_PNG if os.environ.get("CONSENTGATE_SCREENSHOT") == "1" else tmp_path / "embeds.png"
    placeholder(page, "#video").screenshot(path=str(target))
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert DOCS_PNG.is_file(), "run with CONSENTGATE_SCREENSHOT=1 once to create docs/images/embeds.png"
