"""The demo school site, driven over HTTP: pages, demo sign-in and the student ceiling, the cookie
lab, the language switcher, the dashboard mount and the ``consentgate demo`` command line."""

from __future__ import annotations

import json
import re
import time
from base64 import b64encode
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import itsdangerous
import pytest
from coreapp import decide
from starlette.testclient import TestClient

from consentgate._files import package_dir
from consentgate.cli import build_parser, main
from consentgate.dashboard.app import COOKIE_NAME as DASHBOARD_COOKIE
from consentgate.demo.app import POLICY_PATH, SessionRoles, create_demo_app
from consentgate.enforce.policy import Policy

TOKEN = "demo-dashboard-token-0123456789-abcdefgh"
SESSION_KEY = "demo-session-key-0123456789-abcdefghijk"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[TestClient]:
    app = create_demo_app(str(tmp_path / "demo.sqlite3"), dashboard_token=TOKEN, session_key=SESSION_KEY)
    with TestClient(app, base_url="http://testserver") as tc:
        yield tc


def set_cookie_names(response: object) -> dict[str, str]:
    out = {}
    for value in response.headers.get_list("set-cookie"):  # type: ignore[attr-defined]
        out[value.split("=", 1)[0]] = value
    return out


def sign_in(tc: TestClient, role: str) -> None:
    response = tc.post("/sign-in", data={"role": role}, follow_redirects=False)
    assert response.status_code == 303
    assert "session" in set_cookie_names(response)  # essential: it passes the policy


def test_policy_of_the_demo_is_valid_and_names_every_cookie_the_site_sets() -> None:
    policy = Policy.from_file(POLICY_PATH)
    for name in ("session", "csrftoken", "consentgate_lang", DASHBOARD_COOKIE):
        assert policy.category_of_cookie(name) == "essential", name
    assert policy.category_of_cookie("_ga_DEMO") == "analytics"
    assert policy.category_of_cookie("ad_demo") == "marketing"
    assert policy.student_denied("lincoln-high") == {"marketing", "personalization"}


def test_every_page_has_the_banner_the_preferences_control_and_the_language_switcher(
    demo: TestClient,
) -> None:
    """R-CON-5: the banner and the reopen control on every page; R-CON-1: nothing optional is set
    before the visitor acts."""
    for path in ("/", "/courses", "/quiz", "/cookies", "/sign-in"):
        response = demo.get(path)
        assert response.status_code == 200, path
        page = response.text
        assert 'data-consentgate="banner"' in page, path
        assert 'data-consentgate="open"' in page and "Privacy preferences" in page, path
        for code in ("en", "es", "fr", "ar", "ja", "zh"):
            assert f'href="?consentgate_lang={code}" lang="{code}"' in page, (path, code)
        assert 'href="/_consent/my-data"' in page
        assert 'href="/dashboard/"' in page
        # R-CON-1: nothing optional is set before the visitor acts.
        assert set(set_cookie_names(response)) <= {"csrftoken"}, path


def test_language_switcher_sets_page_and_banner_language(demo: TestClient) -> None:
    response = demo.get("/?consentgate_lang=ar")
    assert '<html lang="ar" dir="rtl">' in response.text
    assert re.search(r'data-consentgate="banner" lang="ar" dir="rtl"', response.text)
    assert "تفضيلات الخصوصية" in response.text  # "Privacy preferences"
    cookie = set_cookie_names(response)["consentgate_lang"]  # essential: a preference asked for
    assert cookie.startswith("consentgate_lang=ar;")
    # Remembered on the next page, without the query.
    later = demo.get("/courses")
    assert '<html lang="ja"' not in later.text and '<html lang="ar" dir="rtl">' in later.text
    assert '<main id="content" lang="en" dir="ltr">' in later.text  # the sample content stays English
    assert '<html lang="ja" dir="ltr">' in demo.get("/?consentgate_lang=ja").text


def test_student_accept_all_never_grants_marketing(demo: TestClient) -> None:
    """R-STU-1 / R-STU-2: the demo sign-in makes a student session of lincoln-high; Accept All then
    allows analytics only — marketing (always) and personalization (this school) stay off."""
    sign_in(demo, "student")
    assert "Signed in as a student (demo)" in demo.get("/").text
    decided = decide(demo, {"action": "accept_all"}).json()["consent"]
    assert decided["is_student"] is True and decided["tenant"] == "lincoln-high"
    assert decided["granted"] == ["essential", "analytics"]
    assert decided["locked"] == {"marketing": "student", "personalization": "student"}
    lab = demo.get("/cookies")
    names = set_cookie_names(lab)
    assert set(names) == {"csrftoken", "_ga"}
    assert "HttpOnly" in names["_ga"]
    assert "_fbp" not in lab.text.split("<table", 1)[0]  # nothing leaked before the explanation
    assert re.search(
        r"<code>_fbp</code></th>\s*<td>marketing</td><td>server \(Set-Cookie\)</td>\s*<td>no: dropped",
        lab.text,
    )
    # The stand-in tags are in the page, inert until the banner activates them.
    assert (
        '<script type="text/plain" data-consent-category="marketing" src="/static/demo/marketing-tag.js">'
        in lab.text
    )
    assert (
        '<script type="text/plain" data-consent-category="analytics" src="/static/demo/analytics-tag.js">'
        in lab.text
    )


def test_teacher_accept_all_then_withdrawal_deletes_server_cookies(demo: TestClient) -> None:
    """R-CON-6 on the demo: withdrawing deletes the server-set cookies, HttpOnly ones included."""
    sign_in(demo, "teacher")
    assert "Signed in as a teacher (demo)" in demo.get("/").text
    assert decide(demo, {"action": "accept_all"}).json()["consent"]["granted"] == [
        "essential",
        "personalization",
        "analytics",
        "marketing",
    ]
    names = set_cookie_names(demo.get("/cookies"))
    assert set(names) == {"csrftoken", "theme", "last_class", "_ga", "_fbp", "ad_demo"}
    # R-CON-6: withdrawing deletes them, the HttpOnly _ga included.
    withdrawn = decide(demo, {"action": "deny_all"})
    deleted = set_cookie_names(withdrawn)
    for name in ("theme", "last_class", "_ga", "_fbp", "ad_demo"):
        assert "Max-Age=0" in deleted[name], name
    assert set(set_cookie_names(demo.get("/cookies"))) == {"csrftoken"}


def test_forged_or_foreign_session_is_no_student(demo: TestClient, tmp_path: Path) -> None:
    """The resolvers verify the session signature: a cookie signed with another key is ignored."""
    payload = b64encode(json.dumps({"role": "student", "tenant": "lincoln-high"}).encode())
    forged = itsdangerous.TimestampSigner("some-other-key-0123456789-abcdefghijkl").sign(payload).decode()
    response = demo.get("/_consent", headers={"cookie": f"session={forged}"})
    assert response.json()["consent"]["is_student"] is False
    genuine = itsdangerous.TimestampSigner(SESSION_KEY).sign(payload).decode()
    response = demo.get("/_consent", headers={"cookie": f"session={genuine}"})
    assert response.json()["consent"]["is_student"] is True
    roles = SessionRoles(SESSION_KEY)
    scope = {"type": "http", "headers": [(b"cookie", f"a=1; session={genuine}; b=2".encode())]}
    assert roles.is_student(scope) and roles.tenant(scope) == "lincoln-high"


def test_sign_out_ends_the_student_session(demo: TestClient) -> None:
    sign_in(demo, "student")
    assert demo.get("/_consent").json()["consent"]["is_student"] is True
    response = demo.post("/sign-out", follow_redirects=False)
    assert response.status_code == 303
    assert demo.get("/_consent").json()["consent"]["is_student"] is False
    assert "Not signed in" in demo.get("/").text


def test_sign_in_accepts_only_the_two_demo_roles(demo: TestClient) -> None:
    assert demo.post("/sign-in", data={"role": "admin"}).status_code == 400
    assert "no passwords" in demo.get("/sign-in").text


def test_quiz_scores_answers(demo: TestClient) -> None:
    response = demo.post("/quiz", data={"q0": "1", "q1": "0", "q2": "0"})
    assert "You answered 2 of 3 correctly." in response.text


def test_stand_in_tags_only_write_cookies() -> None:
    """Nothing leaves the machine: the tags contain no network call and no other URL."""
    folder = package_dir("static") / "demo"
    for name, cookies in (("analytics-tag.js", {"_ga", "_ga_DEMO"}), ("marketing-tag.js", {"_fbp"})):
        code = (folder / name).read_text()
        assert set(re.findall(r"document\.cookie = `(\w+)=", code)) == cookies
        for forbidden in ("fetch", "XMLHttpRequest", "sendBeacon", "http", "import", "src", "WebSocket"):
            assert forbidden not in code, (name, forbidden)


def test_static_files_are_served_locally(demo: TestClient) -> None:
    for name in ("analytics-tag.js", "marketing-tag.js", "demo.css"):
        assert demo.get(f"/static/demo/{name}").status_code == 200
    assert demo.get("/static/demo/../app.py").status_code == 404


def test_dashboard_is_mounted_and_its_cookie_passes_the_policy(demo: TestClient) -> None:
    assert demo.get("/dashboard/").status_code == 401
    response = demo.get(f"/dashboard/?token={TOKEN}", follow_redirects=False)
    assert response.status_code == 303
    assert DASHBOARD_COOKIE in set_cookie_names(response)
    page = demo.get("/dashboard/")  # the client's cookie jar now holds the access cookie
    assert page.status_code == 200
    assert 'id="chart-days"' in page.text and "<script" not in page.text


def _my_data(tc: TestClient) -> dict[str, Any]:
    data: dict[str, Any] = tc.get("/_consent/my-data", headers={"accept": "application/json"}).json()
    return data


def test_my_data_lists_the_visit_and_forget_me_empties_it(demo: TestClient) -> None:
    """R-VIS-1 / R-VIS-2 on the demo: a visit allowed by analytics is recorded (by the log's
    background writer) and listed; "Forget me" deletes every record of the consent id."""
    decide(demo, {"action": "accept_all"})
    assert demo.get("/courses").status_code == 200
    deadline = time.monotonic() + 10
    data = _my_data(demo)
    while not data["visits"] and time.monotonic() < deadline:
        time.sleep(0.05)
        data = _my_data(demo)
    assert len(data["receipts"]) == 1
    assert [visit["path"] for visit in data["visits"]] == ["/courses"]
    forgotten = demo.post(
        "/_consent/forget", headers={"origin": "http://testserver", "accept": "application/json"}
    )
    assert forgotten.status_code == 200
    assert forgotten.json() == {"forgotten": True, "receipts": 1, "visits": 1}
    after = _my_data(demo)
    assert after["consent_id"] is None and after["receipts"] == [] and after["visits"] == []


# -- the command line ------------------------------------------------------------------------


def test_demo_help_describes_every_option(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # no wrapping inside hyphenated words
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    demo_parser = build_parser()._subparsers._group_actions[0].choices["demo"]  # type: ignore[union-attr]
    for action in demo_parser._actions:
        for option in action.option_strings:
            assert option in text
        assert action.help and " ".join(action.help.split()).split("%(")[0] in text
    for option in ("--host", "--port", "--store", "--dashboard-token", "--log-level"):
        assert option in text


def test_demo_refuses_a_short_dashboard_token(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["demo", "--store", str(tmp_path / "x.sqlite3"), "--dashboard-token", "short"])
    assert code == 2
    assert "at least 32 characters" in capsys.readouterr().err


# -- in the browser ----------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_demo_pages_have_no_axe_violations(
    browser: Any, live_server: Callable[[Any], str], tmp_path: Path, scheme: str
) -> None:
    """R-A11Y-1: every demo page with its banner, in light and dark, left-to-right and right-to-left. Reduced
    motion: axe judges colours in their final state, not halfway through the banner's fade-in."""
    from axe_playwright_python.sync_playwright import Axe

    base = live_server(create_demo_app(str(tmp_path / "demo.sqlite3"), dashboard_token=TOKEN))
    context = browser.new_context(color_scheme=scheme, reduced_motion="reduce")
    try:
        page = context.new_page()
        for path in ("/", "/courses", "/quiz", "/cookies", "/sign-in", "/?consentgate_lang=ar"):
            page.goto(base + path)
            page.locator('[data-consentgate="notice"]').wait_for()
            results = Axe().run(page)
            assert results.violations_count == 0, (path, results.generate_report())
    finally:
        context.close()
