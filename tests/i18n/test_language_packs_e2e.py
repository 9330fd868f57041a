"""A site's language packs in a real browser: the banner, the dialog and the placeholders speak
the visitor's language, a site-added one (sv) or a regional override (de-CH) included."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from starlette.types import ASGIApp
from support.embed_site import THIRD_PARTY_HOST, ThirdParty, build_site
from support.live_server import ThreadServer

from consentgate.i18n.catalogs import catalog

pytestmark = pytest.mark.e2e

PACKS = Path(__file__).resolve().parents[1] / "data" / "locales"
SV = json.loads((PACKS / "sv.json").read_text(encoding="utf-8"))
DE = catalog("de")


@pytest.fixture
def site(live_server: Callable[[ASGIApp], str]) -> Iterator[str]:
    server = ThreadServer(ThirdParty().app(), host=THIRD_PARTY_HOST, lifespan="off")
    try:
        yield live_server(build_site(server.start(), locales=PACKS))
    finally:
        server.stop()


def test_swedish_and_swiss_german_visitors(browser: Browser, site: str) -> None:
    swedish = browser.new_context(locale="sv-SE")
    page = swedish.new_page()
    page.goto(site + "/")
    expect(page.locator('[data-consentgate="banner"]')).to_have_attribute("lang", "sv")
    expect(page.locator('[data-consentgate="notice"] h2')).to_have_text(SV["banner.title"])
    video = page.locator(".cg-ph").first
    expect(video).to_contain_text("Laddas inte förrän du tillåter ”Marknadsföring”.")
    expect(video.locator('[data-consentgate="embed-allow"]')).to_have_accessible_name(
        "Tillåt ”Marknadsföring” och ladda SchoolTube"
    )
    with page.expect_request(lambda r: r.method == "POST") as posted:
        page.locator('[data-consentgate="notice"] [data-consentgate="deny-all"]').click()
    assert json.loads(posted.value.post_data or "{}")["language"] == "sv"
    swedish.close()

    swiss = browser.new_context(locale="de-CH")
    page = swiss.new_page()
    page.goto(site + "/")
    expect(page.locator('[data-consentgate="banner"]')).to_have_attribute("lang", "de-CH")
    expect(page.locator('[data-consentgate="notice"] h2')).to_have_text(DE["banner.title"])
    page.locator('[data-consentgate="notice"] [data-consentgate="preferences"]').click()
    expect(page.locator('[data-consentgate="close"]')).to_have_accessible_name("Schliessen")  # the override
    page.keyboard.press("Escape")
    expect(page.locator(".cg-ph").first).to_contain_text("Wird erst geladen, wenn Sie „Marketing“ erlauben.")
    swiss.close()
