"""The privacy-team dashboard: access by token only, same-site only, charts from a real privacy log
filled through real decisions, every policy string escaped, usable without JavaScript, axe-clean."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from coreapp import SECRET, decide
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from starlette.types import Scope

import consentgate.dashboard.access as dashboard_module
from consentgate import ConsentMiddleware, Policy
from consentgate.dashboard.app import COOKIE_NAME, Dashboard
from consentgate.log.privacy_log import PrivacyLog
from consentgate.log.stores.factory import open_store

TOKEN = "dashboard-token-0123456789-abcdefghijklmnop"
OTHER_TOKEN = "another-token-0123456789-abcdefghijklmnopq"
HOSTILE = "<img src=x onerror=alert(1)>"

# The test policy carries hostile text where a privacy team writes free text.
POLICY_TOML = f"""
revision = 7
unknown_cookies = "block"

[categories.essential]
cookies = ["session", "{COOKIE_NAME}"]

[categories.personalization]
label = "Preferences <b>bold</b>"
cookies = ["theme"]

[categories.analytics]
description = "{HOSTILE}"
cookies = ["_ga", "_ga_*"]
hosts = ["www.google-analytics.com"]
services = ["<script>alert(2)</script>"]

[categories.marketing]
cookies = ["_fbp", {{ name = "ad_id", path = "/ads", domain = "example.org" }}]
hosts = ["connect.facebook.net"]

[students]
deny = ["analytics"]

[tenants.lincoln-high]
student_deny = ["personalization"]

[retention]
visits_days = 21
receipts_days = 390
"""


def _policy() -> Policy:
    return Policy.from_toml(POLICY_TOML, source="dashboard-test.toml")


def _student_header(scope: Scope) -> bool:
    return any(key == b"x-test-student" for key, _ in scope["headers"])


def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang='en'><title>p</title><body><main>page</main></body></html>"
    )


def build_site(store_path: Path, **dashboard_options: Any) -> Starlette:
    """A site with the middleware, a real privacy log, and the dashboard mounted at /privacy."""
    policy = _policy()
    store = open_store(str(store_path))
    options: dict[str, Any] = {"token": TOKEN, **dashboard_options}
    return Starlette(
        routes=[Route("/", _page), Mount("/privacy", app=Dashboard(store, policy, **options))],
        middleware=[
            Middleware(
                ConsentMiddleware,
                policy=policy,
                secret_key=SECRET,
                student_resolver=_student_header,
                privacy_log=PrivacyLog(store, policy),
            )
        ],
    )


@pytest.fixture
def site(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(build_site(tmp_path / "log.sqlite3"), base_url="http://testserver") as tc:
        yield tc


def _bearer(token: str = TOKEN) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _fill(tc: TestClient) -> None:
    """Four visitors decide through the real consent endpoint."""
    for body, headers in (
        ({"action": "accept_all"}, {}),
        ({"action": "deny_all"}, {}),
        ({"action": "accept_all"}, {"sec-gpc": "1"}),
        ({"action": "accept_all"}, {"x-test-student": "1"}),
    ):
        tc.cookies.clear()
        response = decide(tc, body, **headers)
        assert response.status_code == 200, response.text
    tc.cookies.clear()


# -- access ------------------------------------------------------------------------------------


def test_token_is_required_and_nothing_is_shown_without_it(site: TestClient) -> None:
    _fill(site)
    response = site.get("/privacy/")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="consentgate dashboard"'
    assert 'name="token"' in response.text  # a form that works without JavaScript
    assert "Consent receipts held" not in response.text
    assert "chart-days" not in response.text
    assert "set-cookie" not in response.headers
    assert site.get("/privacy/stats.json").status_code == 401


@pytest.mark.parametrize(
    "how",
    ["bearer", "other-scheme", "query", "cookie", "short", "empty-bearer"],
)
def test_wrong_token_is_refused(site: TestClient, how: str) -> None:
    headers: dict[str, str] = {}
    url = "/privacy/"
    if how == "bearer":
        headers = _bearer(OTHER_TOKEN)
    elif how == "other-scheme":
        headers = {"authorization": f"Basic {TOKEN}"}
    elif how == "query":
        url = f"/privacy/?token={OTHER_TOKEN}"
    elif how == "cookie":
        headers = {"cookie": f"{COOKIE_NAME}={'0' * 64}"}
    elif how == "short":
        headers = _bearer("x")
    else:
        headers = {"authorization": "Bearer "}
    response = site.get(url, headers=headers, follow_redirects=False)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "That token is not valid" in response.text
    assert "set-cookie" not in response.headers
    assert "Policy in force" not in response.text


def test_token_check_compares_every_token_in_constant_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Whatever is given (right, wrong, another length), every configured token is compared with
    ``hmac.compare_digest`` over equal-length digests: no early exit, no length leak."""
    compared: list[tuple[int, int]] = []
    real = dashboard_module.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(dashboard_module.hmac, "compare_digest", spy)
    app = Dashboard(str(tmp_path / "log.sqlite3"), _policy(), token=[TOKEN, OTHER_TOKEN])
    with TestClient(app, base_url="http://testserver") as tc:
        for candidate, status in ((TOKEN, 200), (OTHER_TOKEN, 200), ("nope", 401), ("y" * 500, 401)):
            compared.clear()
            assert tc.get("/", headers=_bearer(candidate)).status_code == status
            assert compared == [(32, 32), (32, 32)], candidate


def test_query_token_moves_into_a_strict_cookie_and_leaves_the_url(site: TestClient) -> None:
    response = site.get(f"/privacy/?days=7&token={TOKEN}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/privacy/?days=7"
    assert response.headers["referrer-policy"] == "no-referrer"
    cookie = response.headers["set-cookie"]
    name_value, *attributes = [part.strip() for part in cookie.split(";")]
    name, value = name_value.split("=", 1)
    assert name == COOKIE_NAME
    assert TOKEN not in cookie and value  # a keyed hash of the token, never the token
    assert set(attributes) == {"Path=/privacy", "HttpOnly", "SameSite=Strict"}  # plain HTTP: no Secure
    page = site.get("/privacy/", headers={"cookie": f"{COOKIE_NAME}={value}"})
    assert page.status_code == 200
    assert "Policy in force" in page.text


def test_cookie_is_secure_over_https(tmp_path: Path) -> None:
    app = build_site(tmp_path / "log.sqlite3")
    with TestClient(app, base_url="https://testserver") as tc:
        response = tc.get(f"/privacy/?token={TOKEN}", follow_redirects=False)
    assert response.status_code == 303
    assert "; Secure" in response.headers["set-cookie"]


def test_constructor_refuses_a_missing_or_short_token(tmp_path: Path) -> None:
    store = str(tmp_path / "log.sqlite3")
    with pytest.raises(ValueError, match="token="):
        Dashboard(store, _policy())
    with pytest.raises(ValueError, match="at least 32"):
        Dashboard(store, _policy(), token="short")
    with pytest.raises(TypeError):
        Dashboard(store, POLICY_TOML, token=TOKEN)  # type: ignore[arg-type]
    board = Dashboard(store, _policy(), token=TOKEN)
    assert TOKEN not in repr(board) and TOKEN not in repr(board.tokens)


def test_without_token_only_when_the_app_guards_it(tmp_path: Path) -> None:
    app = Dashboard(str(tmp_path / "log.sqlite3"), _policy(), require_token=False)
    with TestClient(app, base_url="http://testserver") as tc:
        response = tc.get("/")
    assert response.status_code == 200
    assert "Policy in force" in response.text


def test_cross_site_requests_are_refused_even_with_the_token(site: TestClient) -> None:
    refused = site.get("/privacy/", headers={**_bearer(), "sec-fetch-site": "cross-site"})
    assert refused.status_code == 403
    assert "Policy in force" not in refused.text
    via_link = site.get(
        f"/privacy/?token={TOKEN}", headers={"sec-fetch-site": "cross-site"}, follow_redirects=False
    )
    assert via_link.status_code == 403
    assert "set-cookie" not in via_link.headers
    for site_value in ("same-origin", "same-site", "none"):
        assert site.get("/privacy/", headers={**_bearer(), "sec-fetch-site": site_value}).status_code == 200


def test_read_only_and_unknown_paths(site: TestClient) -> None:
    response = site.post("/privacy/", headers=_bearer())
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert site.get("/privacy/nothing-here", headers=_bearer()).status_code == 404
    head = site.head("/privacy/", headers=_bearer())
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 1000


# -- the page ----------------------------------------------------------------------------------


def test_page_cannot_be_framed_and_runs_no_script(site: TestClient) -> None:
    """Even inside ConsentMiddleware with the banner on, the page carries no script at all, and its
    CSP allows exactly its own inline stylesheet."""
    response = site.get("/privacy/", headers=_bearer())
    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "DENY"
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert "script-src" not in csp  # falls back to default-src 'none'
    style = re.search(r"<style>(.*?)</style>", response.text, re.DOTALL)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    assert "<script" not in response.text.lower()
    assert 'data-consentgate="banner"' not in response.text
    assert response.headers["cache-control"] == "no-store"
    # The rest of the site still gets its banner.
    assert 'data-consentgate="banner"' in site.get("/").text


def test_charts_show_the_decisions_of_a_real_log(site: TestClient) -> None:
    _fill(site)
    page = site.get("/privacy/", headers=_bearer()).text
    today = datetime.now(UTC).date().isoformat()
    # Per day: the four decisions are on today's bar, and in the data table.
    assert f"<title>{today}: 4 decisions</title>" in page
    assert f'<th scope="row">{today}</th><td>4</td><td>1</td><td>1</td>' in page
    assert page.count('class="cg-bar"') >= 1
    days_chart = page[page.index('id="chart-days"') : page.index("</svg>", page.index('id="chart-days"'))]
    assert days_chart.count("<rect") == 30  # one bar per day of the period
    assert 'role="img"' in days_chart and 'aria-labelledby="chart-days-title chart-days-desc"' in days_chart
    # Opt-in per category, after the ceilings: marketing only for the adult without GPC,
    # analytics for both adults who accepted (students are denied analytics by this policy),
    # personalization for all three who accepted (this student has no school denying it).
    assert "Marketing: 25% (1 of 4)" in page
    assert "Analytics: 50% (2 of 4)" in page
    assert "Preferences &lt;b&gt;bold&lt;/b&gt;: 75% (3 of 4)" in page
    # Shares of GPC and student decisions.
    assert "Global Privacy Control: 25% (1 of 4)" in page
    assert "Student sessions: 25% (1 of 4)" in page
    # Records held per kind and the retention in force.
    assert re.search(r"Consent receipts held</dt><dd>4</dd>", page)
    assert re.search(
        r"Consent receipts \(proof of each decision\)</th>\s*<td>4</td>\s*<td>390 days</td>", page
    )
    assert re.search(r"Visit records \(minimised metadata\)</th>\s*<td>\d+</td>\s*<td>21 days</td>", page)
    # The policy in force.
    assert '<tr><th scope="row">Revision</th><td>7</td></tr>' in page
    assert "<code>ad_id (path /ads, domain example.org)</code>" in page
    assert "<code>connect.facebook.net</code>" in page


def test_empty_log_renders_without_data(site: TestClient) -> None:
    page = site.get("/privacy/", headers=_bearer()).text
    assert "No decisions in this period" in page
    assert "Marketing: no data" in page
    assert re.search(r"Decisions \(30 days\)</dt><dd>0</dd>", page)


def test_unreachable_store_gives_503_with_the_policy_still_shown() -> None:
    """An outage of the log's database is a clear 503 page (and JSON error), never a 500."""
    from support.postgres import free_port

    down = open_store(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    with TestClient(Dashboard(down, _policy(), token=TOKEN), base_url="http://testserver") as tc:
        page = tc.get("/", headers=_bearer())
        data = tc.get("/stats.json", headers=_bearer())
    assert page.status_code == 503
    assert "The privacy log cannot be read right now" in page.text
    assert "Policy in force" in page.text and "390 days" in page.text
    assert data.status_code == 503 and "error" in data.json()


def test_stats_json_matches_the_store(site: TestClient) -> None:
    _fill(site)
    data = site.get("/privacy/stats.json", headers=_bearer()).json()
    assert data["policy"]["revision"] == 7
    assert data["retention"] == {"receipts_days": 390, "visits_days": 21}
    assert data["stats"]["decisions"] == 4
    assert data["stats"]["gpc_decisions"] == 1
    assert data["stats"]["categories"]["marketing"] == {"granted": 1, "refused": 3, "opt_in_rate": 0.25}


def test_policy_strings_are_escaped(site: TestClient) -> None:
    page = site.get("/privacy/", headers=_bearer()).text
    assert HOSTILE not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>alert(2)</script>" not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page


# -- in the browser ----------------------------------------------------------------------------


@pytest.fixture
def dashboard_url(tmp_path: Path, live_server: Callable[[Any], str]) -> str:
    with TestClient(build_site(tmp_path / "log.sqlite3"), base_url="http://testserver") as tc:
        _fill(tc)  # real decisions into the log first; then the browser reads the same file
    return live_server(build_site(tmp_path / "log.sqlite3"))


@pytest.mark.e2e
def test_dashboard_works_without_javascript(browser: Any, dashboard_url: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{dashboard_url}/privacy/")
        assert page.get_by_role("heading", name="Access token needed").is_visible()
        page.get_by_label("Dashboard token").fill(TOKEN)
        page.get_by_role("button", name="Open the dashboard").click()
        page.wait_for_url(f"{dashboard_url}/privacy/")  # redirected: the token left the URL
        chart = page.get_by_role("img", name=re.compile("Consent decisions per day"))
        assert chart.is_visible()
        assert chart.bounding_box()["height"] > 100  # type: ignore[index]
        assert page.get_by_role("img", name=re.compile("Opt-in rate per category")).is_visible()
        page.get_by_text("Opt-in per category as a table").click()  # <details> opens without script
        assert page.get_by_role("cell", name="25%").first.is_visible()
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies[COOKIE_NAME]["httpOnly"] is True
        assert cookies[COOKIE_NAME]["sameSite"] == "Strict"
        assert cookies[COOKIE_NAME]["path"] == "/privacy"
    finally:
        context.close()


@pytest.mark.e2e
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_dashboard_has_no_axe_violations(browser: Any, dashboard_url: str, scheme: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(f"{dashboard_url}/privacy/?token={TOKEN}")
        page.get_by_role("img", name=re.compile("Consent decisions per day")).wait_for()
        for summary in page.locator("summary").all():
            summary.click()  # the data tables are checked too
        results = Axe().run(
            page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}
        )
        assert results.violations_count == 0, results.generate_report()
        # The login page too.
        context.clear_cookies()
        page.goto(f"{dashboard_url}/privacy/")
        results = Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
    finally:
        context.close()
