"""The docs' screenshots come from the demo site in the test suite's Chromium, so they show what the
code does. Every run takes them (and checks what they show); ``CONSENTGATE_SCREENSHOT=1`` writes them
into docs/images/ (the banner's first layer: tests/banner/test_banner_e2e.py)."""

from __future__ import annotations

import os
import random
import re
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from starlette.testclient import TestClient
from support.records import make_receipt, make_visit

from consentgate.demo.app import create_demo_app
from consentgate.i18n.catalogs import catalog
from consentgate.log.stores.factory import open_store

pytestmark = pytest.mark.e2e

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
VIEWPORT = {"width": 1100, "height": 720}
TOKEN = "docs-screenshot-dashboard-token-0123456789"
WRITE = os.environ.get("CONSENTGATE_SCREENSHOT") == "1"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def shoot(page: Page, name: str, tmp_path: Path, size: dict[str, int] = VIEWPORT) -> None:
    """Screenshot the viewport; into docs/images/ when asked, else into tmp_path. The docs' copy must
    exist either way (the site links it)."""
    page.evaluate("document.getAnimations().forEach(a => a.finish())")
    target = IMAGES / name if WRITE else tmp_path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target))
    assert png_size(target.read_bytes()) == (size["width"], size["height"])
    committed = IMAGES / name
    assert committed.is_file(), f"run with CONSENTGATE_SCREENSHOT=1 once to create docs/images/{name}"
    assert png_size(committed.read_bytes()) == (size["width"], size["height"])


def seed(store_path: str) -> int:
    """A month of a school site's decisions and visits, made the way the privacy log makes them.
    Deterministic (a seeded generator), so the picture changes only when the dashboard does."""
    rng = random.Random(18)
    optional = ("personalization", "analytics", "marketing")
    now = datetime.now(UTC).replace(microsecond=0)
    receipts, visits = [], []
    for day in range(30):
        for n in range(rng.randint(6, 28)):
            when = now - timedelta(days=day, minutes=rng.randint(0, 600))
            student, gpc = rng.random() < 0.3, rng.random() < 0.12
            granted = frozenset(c for c in optional if rng.random() < {"personalization": 0.45, "analytics": 0.5, "marketing": 0.25}[c])
            if student:
                granted -= {"marketing"}
            if gpc:
                granted -= {"marketing"}
            cid = f"d{day}-{n}"
            receipts.append(make_receipt(cid, when=when, granted=granted, gpc=gpc, student=student))
            if "analytics" in granted:
                visits.extend(make_visit(cid, when=when + timedelta(seconds=s)) for s in range(rng.randint(1, 6)))
    store = open_store(store_path)
    try:
        store.add_receipts(receipts)
        store.add_visits(visits)
    finally:
        store.close()
    return len(receipts)


@pytest.fixture
def demo(tmp_path: Path, live_server: Callable[[Any], str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo site on a privacy log holding a month of decisions (its dashboard shows the path)."""
    monkeypatch.chdir(tmp_path)
    store = "consentgate-demo.sqlite3"
    open_store(store).close()
    with TestClient(create_demo_app(store, dashboard_token=TOKEN)):
        pass  # the app's start-up migrates the new database
    seed(store)
    return live_server(create_demo_app(store, dashboard_token=TOKEN))


def test_screenshot_preferences_dialog(browser: Browser, demo: str, tmp_path: Path) -> None:
    context = browser.new_context(viewport=VIEWPORT, reduced_motion="reduce", locale="en")
    try:
        page = context.new_page()
        page.goto(demo + "/")
        page.get_by_role("button", name=catalog("en")["button.preferences"], exact=True).click()
        dialog = page.get_by_role("dialog", name=catalog("en")["dialog.title"])
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("checkbox")).to_have_count(3)
        shoot(page, "dialog.png", tmp_path)
    finally:
        context.close()


def test_screenshot_banner_in_arabic(browser: Browser, demo: str, tmp_path: Path) -> None:
    context = browser.new_context(viewport=VIEWPORT, reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(demo + "/?consentgate_lang=ar")
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        notice = page.get_by_role("region", name=catalog("ar")["banner.title"])
        expect(notice).to_be_visible()
        expect(notice).to_have_css("direction", "rtl")
        shoot(page, "banner-arabic.png", tmp_path)
    finally:
        context.close()


def test_screenshot_dashboard(browser: Browser, demo: str, tmp_path: Path) -> None:
    size = {"width": 1100, "height": 1500}
    context = browser.new_context(viewport=size, reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(f"{demo}/dashboard/?token={TOKEN}")
        expect(page.get_by_role("img", name=re.compile("Consent decisions per day"))).to_be_visible()
        expect(page.get_by_role("img", name=re.compile("Opt-in rate per category"))).to_be_visible()
        expect(page.get_by_text("SQLite file consentgate-demo.sqlite3")).to_be_visible()
        shoot(page, "dashboard.png", tmp_path, size)
    finally:
        context.close()
