"""What live discovery found, as the privacy team sees it (issue 14, point 3): the dashboard's
"Undeclared cookies" section and ``stats.json``, and ``consentgate cookies undeclared``."""

from __future__ import annotations

import html
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from consentgate import ConsentMiddleware, Dashboard, Policy, PrivacyLog
from consentgate.cli import main
from consentgate.log.stores.factory import open_store

SECRET = "undeclared-secret-0123456789-abcdefghij"
TOKEN = "dashboard-token-0123456789-abcdefghijklmnop"
POLICY = """
revision = 1
[categories.essential]
cookies = ["csrftoken", "consentgate_dashboard"]
[categories.analytics]
cookies = ["_ga"]
"""
FIELDS = {"name", "direction", "count", "first_seen", "last_seen", "example_path", "suggestion"}


def page(request: Request) -> HTMLResponse:
    response = HTMLResponse("<!doctype html><html lang='en'><title>p</title><body><main>p</main></body></html>")
    response.set_cookie("sessionid", "s3cr3t-session")  # the site's own (Django-like) session cookie
    response.set_cookie("_gid", "GA1.1.1")
    return response


def build(store_path: Path, policy_text: str = POLICY) -> Starlette:
    policy = Policy.from_toml(policy_text, source="consent.toml")
    store = open_store(str(store_path))
    return Starlette(
        routes=[Route("/", page), Route("/news/{n}", page), Mount("/privacy", app=Dashboard(store, policy, token=TOKEN))],
        middleware=[Middleware(ConsentMiddleware, policy=policy, secret_key=SECRET, privacy_log=PrivacyLog(store, policy))],
    )


def fill(store_path: Path) -> None:
    with TestClient(build(store_path)) as tc:
        for n in range(3):
            tc.get(f"/news/{n}", headers={"cookie": "_hjSessionUser_77=x; mystery_pref=dark"})
        tc.get("/", headers={"cookie": "_fbp=fb.1.2"})


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "log.sqlite3"
    fill(path)
    return path


def test_stats_json_lists_undeclared_cookies_with_suggestions(store_path: Path) -> None:
    with TestClient(build(store_path)) as tc:
        data = tc.get("/privacy/stats.json", headers={"authorization": f"Bearer {TOKEN}"}).json()
    found = {(e["name"], e["direction"]): e for e in data["undeclared_cookies"]}
    assert all(set(e) == FIELDS for e in found.values())
    assert set(found) == {
        ("sessionid", "set-cookie"),
        ("_gid", "set-cookie"),
        ("_hjSessionUser_*", "cookie"),
        ("mystery_pref", "cookie"),
        ("_fbp", "cookie"),
    }
    gid = found[("_gid", "set-cookie")]
    assert gid["count"] == 4 and gid["example_path"] == "/news/0"
    assert gid["suggestion"] == {"category": "analytics", "platform": "Google Analytics", "description": gid["suggestion"]["description"]}
    # The site's own server sets sessionid: a name match with Instagram's, placed nowhere.
    assert found[("sessionid", "set-cookie")]["suggestion"]["category"] is None
    assert found[("sessionid", "set-cookie")]["suggestion"]["platform"] == "Instagram"
    assert found[("_fbp", "cookie")]["suggestion"]["category"] == "marketing"  # a script's
    assert found[("mystery_pref", "cookie")]["suggestion"] is None
    hotjar = found[("_hjSessionUser_*", "cookie")]
    assert hotjar["count"] == 3 and hotjar["suggestion"]["platform"] == "Hotjar"


def test_dashboard_section_with_ready_to_paste_snippets(store_path: Path) -> None:
    with TestClient(build(store_path)) as tc:
        text = html.unescape(tc.get("/privacy/", headers={"authorization": f"Bearer {TOKEN}"}).text)
    section = text.split('<h2 id="undeclared-heading">Undeclared cookies</h2>')[1].split("</section>")[0]
    assert "<code>_gid</code>" in section and "Set-Cookie from the app" in section
    assert "name matches Instagram (third-party)" in section
    assert "not in the cookie database" in section  # mystery_pref
    snippets = {
        block.split("</figcaption>")[0]: block.split("<code>")[1].split("</code>")[0]
        for block in section.split("<figcaption>")[1:]
    }
    assert set(snippets) == {"essential", "analytics", "marketing", "to decide"}
    analytics = tomllib.loads(snippets["analytics"])  # pastes as valid TOML
    assert analytics["categories"]["analytics"]["cookies"] == ["_ga", "_gid"]
    merged = Policy.from_toml(f"revision = 1\n{snippets['analytics']}\n{snippets['marketing']}")
    assert merged.category_of_cookie("_gid") == "analytics" and merged.category_of_cookie("_fbp") == "marketing"
    assert '# "sessionid"' in snippets["to decide"] and '# "mystery_pref"' in snippets["to decide"]


def test_names_the_policy_declares_by_now_drop_out(store_path: Path) -> None:
    updated = POLICY + '[categories.marketing]\ncookies = ["_fbp"]\n'
    with TestClient(build(store_path, updated)) as tc:
        data = tc.get("/privacy/stats.json", headers={"authorization": f"Bearer {TOKEN}"}).json()
    assert "_fbp" not in {e["name"] for e in data["undeclared_cookies"]}


def test_cookies_undeclared_command(store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cookies", "undeclared", "--store", str(store_path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert all(set(e) == FIELDS for e in listed) and len(listed) == 5
    assert listed[0]["count"] >= listed[-1]["count"]  # most often seen first
    policy = tmp_path / "consent.toml"
    policy.write_text(POLICY + '[categories.marketing]\ncookies = ["_fbp"]\n')
    assert main(["cookies", "undeclared", "--store", str(store_path), "--policy", str(policy)]) == 0
    text = capsys.readouterr().out
    assert "4 undeclared cookie name(s)" in text and "_fbp" not in text.split("Suggested")[0]
    assert '"_gid",  # Google Analytics' in text
    assert main(["cookies", "undeclared", "--store", str(tmp_path / "missing.sqlite3")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.e2e
def test_dashboard_with_undeclared_cookies_has_no_axe_violations(
    browser: Any, store_path: Path, live_server: Callable[[Any], str]
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    url = live_server(build(store_path))
    context = browser.new_context()
    try:
        page_ = context.new_page()
        page_.goto(f"{url}/privacy/?token={TOKEN}")
        page_.get_by_role("heading", name="Undeclared cookies").wait_for()
        assert page_.get_by_role("cell", name="name matches Instagram (third-party)").is_visible()
        results = Axe().run(page_, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]})
        assert results.violations_count == 0, results.generate_report()
    finally:
        context.close()
