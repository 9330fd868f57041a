"""The demo's lesson video: a local stand-in player behind a click-to-load placeholder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, expect

from consentgate.demo.app import create_demo_app

pytestmark = pytest.mark.e2e

TOKEN = "demo-embed-test-token-0123456789abcdefghij"


def test_the_demo_video_waits_behind_a_placeholder(
    browser: Browser, live_server: Callable[[Any], str], tmp_path: Path
) -> None:
    base = live_server(create_demo_app(str(tmp_path / "demo.sqlite3"), dashboard_token=TOKEN))
    context = browser.new_context(reduced_motion="reduce")
    try:
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(base + "/courses")
        placeholder = page.locator(".cg-ph")
        expect(placeholder.locator("strong")).to_have_text("Lesson videos (stand-in)")
        expect(placeholder).to_contain_text("Loading it connects your browser to 127.0.0.1")
        results = Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
        assert not any("/embed/" in url for url in requests)
        placeholder.locator('[data-consentgate="embed-once"]').click()
        player = page.frame_locator("iframe.video")
        expect(player.locator("h1")).to_have_text("Cells: the building blocks of life")
        assert player.locator('[data-consentgate="banner"]').count() == 0  # a player has no banner
        assert any(url.endswith("/embed/lesson-video") for url in requests)
    finally:
        context.close()
