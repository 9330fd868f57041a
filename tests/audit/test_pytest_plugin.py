"""The pytest plugin: consent cookies the middleware accepts, preset browser contexts, the assertion
helper, and a sample downstream suite that uses them, run through pytester."""

from __future__ import annotations

import importlib.metadata
import textwrap
from typing import Any

import pytest
from sites import POLICY_TOML, SECRET, policy
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consentgate import ConsentMiddleware
from consentgate.audit.pytest_plugin import ConsentCookieFactory, assert_cookies_allowed


def _app() -> Starlette:
    def consent(request: Request) -> JSONResponse:
        state = request.state.consent
        return JSONResponse({"granted": sorted(state.granted), "needs_choice": state.needs_choice})

    def cookies(request: Request) -> Response:
        response = Response("cookies")
        for name in ("csrftoken", "theme", "_ga", "_fbp", "tracker_uid"):
            response.set_cookie(name, "1")
        return response

    return Starlette(
        routes=[Route("/", consent), Route("/cookies", cookies)],
        middleware=[Middleware(ConsentMiddleware, policy=policy(), secret_key=SECRET, banner=False)],
    )


# -- consent_cookie ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "granted"),
    [
        (["analytics"], ["analytics", "essential"]),
        ("accept_all", ["analytics", "essential", "marketing", "personalization"]),
        ("deny_all", ["essential"]),
        (["essential", "personalization"], ["essential", "personalization"]),
    ],
)
def test_consent_cookie_is_accepted_by_the_middleware(choice: Any, granted: list[str]) -> None:
    cookie = ConsentCookieFactory(policy(), SECRET)(choice)
    client = TestClient(_app(), base_url="http://testserver")
    answer = client.get("/", headers=cookie.headers).json()
    assert answer == {"granted": granted, "needs_choice": False}
    assert cookie.name == "consentgate"
    assert cookie.cookies == {"consentgate": cookie.value}
    assert cookie.header == f"consentgate={cookie.value}"


def test_r_stu_1_student_cookie_stores_only_what_a_student_may_grant() -> None:
    cookie = ConsentCookieFactory(policy(), SECRET)("accept_all", student=True)
    assert cookie.granted == {"essential", "personalization"}  # no marketing, no analytics (policy)


def test_consent_cookie_signed_with_another_key_is_no_choice() -> None:
    cookie = ConsentCookieFactory(policy(), "another-secret-0123456789-abcdefghijk")(["analytics"])
    client = TestClient(_app(), base_url="http://testserver")
    assert client.get("/", headers=cookie.headers).json()["needs_choice"] is True


def test_consent_cookie_over_https_uses_the_host_prefix() -> None:
    cookie = ConsentCookieFactory(policy(), SECRET)(["analytics"], https=True)
    assert cookie.name == "__Host-consentgate"
    client = TestClient(_app(), base_url="https://testserver")
    assert client.get("/", headers=cookie.headers).json()["granted"] == ["analytics", "essential"]
    browser_cookie = cookie.for_browser("https://school.example/")
    assert browser_cookie["secure"] is True and browser_cookie["httpOnly"] is True


def test_consent_cookie_refuses_unknown_categories() -> None:
    factory = ConsentCookieFactory(policy(), SECRET)
    with pytest.raises(ValueError, match="unknown category adverts; the policy has essential"):
        factory(["adverts"])
    with pytest.raises(ValueError, match="'accept_all' or 'deny_all'"):
        factory("analytics")


# -- assert_cookies_allowed --------------------------------------------------------------------


def test_assert_cookies_allowed_names_each_offending_cookie_and_its_category() -> None:
    cookie = ConsentCookieFactory(policy(), SECRET)(["analytics"])
    response = TestClient(_app(), base_url="http://testserver").get("/cookies", headers=cookie.headers)
    # The middleware let through what analytics allows: this passes.
    assert_cookies_allowed(policy(), response, allowed=["analytics"])
    # A stricter expectation fails, naming the cookie and its category.
    with pytest.raises(AssertionError) as failure:
        assert_cookies_allowed(policy(), response, allowed=[])
    assert str(failure.value) == (
        "1 cookie outside the allowed categories (allowed: essential):\n"
        "  - _ga: category analytics, which is not allowed"
    )


def test_assert_cookies_allowed_reads_browser_cookies_mappings_and_lines() -> None:
    browser = [
        {"name": "csrftoken", "domain": "127.0.0.1"},
        {"name": "_fbp", "domain": "127.0.0.1"},
        {"name": "tracker_uid", "domain": ".127.0.0.3"},
        {"name": "consentgate", "domain": "127.0.0.1"},
    ]
    with pytest.raises(AssertionError) as failure:
        assert_cookies_allowed(policy(), browser, allowed=["analytics"])
    assert str(failure.value).splitlines() == [
        "2 cookies outside the allowed categories (allowed: essential, analytics):",
        "  - _fbp (domain 127.0.0.1): category marketing, which is not allowed",
        "  - tracker_uid (domain .127.0.0.3): declared by no rule in the policy audit-site.toml",
    ]
    assert_cookies_allowed(policy(), {"theme": "dark", "csrftoken": "x"}, allowed=["personalization"])
    assert_cookies_allowed(policy(), ["tracker_uid=1"], allow_undeclared=True)
    # Deleting a cookie is not setting it (R-CON-6 withdrawals answer with deletions).
    assert_cookies_allowed(
        policy(), ["_fbp=; Max-Age=0; Path=/", "_ga=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"]
    )
    with pytest.raises(AssertionError, match="_fbp: category marketing"):
        assert_cookies_allowed(policy(), "_fbp=1; Max-Age=60")
    with pytest.raises(ValueError, match="unknown category adverts"):
        assert_cookies_allowed(policy(), [], allowed=["adverts"])


# -- a downstream project using the plugin, run through pytester ------------------------------

_DOWNSTREAM_APP = '''
    """The downstream app: a school site behind consentgate."""
    import os

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from consentgate import ConsentMiddleware, Policy


    def home(request: Request) -> HTMLResponse:
        response = HTMLResponse("<!doctype html><html lang='en'><title>Home</title><body><h1>Home</h1></body></html>")
        response.set_cookie("csrftoken", "t1")
        response.set_cookie("_ga", "GA1.1")
        response.set_cookie("_fbp", "fb.1")
        return response


    def create_app(policy_path: str = "consent.toml") -> Starlette:
        return Starlette(
            routes=[Route("/", home)],
            middleware=[
                Middleware(
                    ConsentMiddleware,
                    policy=Policy.from_file(policy_path),
                    secret_key=os.environ["CONSENTGATE_SECRET"],
                )
            ],
        )
'''

_DOWNSTREAM_TESTS = """
    from starlette.testclient import TestClient

    from app import create_app
    from consentgate.audit.pytest_plugin import assert_cookies_allowed


    def test_analytics_consent_gets_analytics_but_no_marketing(consent_cookie, consentgate_policy):
        client = TestClient(create_app())
        response = client.get("/", headers=consent_cookie(["analytics"]).headers)
        assert_cookies_allowed(consentgate_policy, response, allowed=["analytics"])
        names = [line.split("=")[0] for line in response.headers.get_list("set-cookie")]
        assert "_ga" in names and "_fbp" not in names


    def test_student_never_gets_marketing(consent_cookie, consentgate_policy):
        client = TestClient(create_app())
        response = client.get("/", headers=consent_cookie("accept_all", student=True).headers)
        assert_cookies_allowed(consentgate_policy, response, allowed=["personalization", "analytics"])


    def test_this_one_shows_the_failure_message(consent_cookie, consentgate_policy):
        client = TestClient(create_app())
        response = client.get("/", headers=consent_cookie("accept_all").headers)
        assert_cookies_allowed(consentgate_policy, response, allowed=["analytics"])
"""

_DOWNSTREAM_BROWSER_TESTS = """
    import threading
    import time

    import pytest
    import uvicorn

    from app import create_app
    from consentgate.audit.browser import launch_options
    from consentgate.audit.pytest_plugin import assert_cookies_allowed, click_through_banner


    @pytest.fixture(scope="session")
    def browser_type_launch_args(browser_type_launch_args):
        return {**browser_type_launch_args, **launch_options()}


    @pytest.fixture
    def site_url():
        server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
        server.should_exit = True
        thread.join()


    def test_preset_consent_needs_no_banner_click(consent_context, consentgate_policy, site_url):
        context = consent_context(site_url, ["analytics"])
        page = context.new_page()
        page.goto(site_url + "/")
        assert page.locator('[data-consentgate="accept-all"]').first.is_hidden()
        names = {cookie["name"] for cookie in context.cookies()}
        assert {"_ga", "csrftoken", "consentgate"} <= names
        assert_cookies_allowed(consentgate_policy, context, allowed=["analytics"])


    def test_deny_all_through_the_banner(page, consentgate_policy, site_url):
        page.goto(site_url + "/")
        click_through_banner(page, "deny_all")
        page.reload()
        assert_cookies_allowed(consentgate_policy, page.context, allowed=[])


    def test_partial_choice_through_the_preferences_dialog(page, consentgate_policy, site_url):
        page.goto(site_url + "/")
        click_through_banner(page, ["analytics"])
        page.reload()
        assert "_ga" in {cookie["name"] for cookie in page.context.cookies()}
        assert_cookies_allowed(consentgate_policy, page.context, allowed=["analytics"])
"""


def _plugin_args() -> list[str]:
    """Load the plugin by name until the pytest11 entry point is installed."""
    installed = any(
        e.value == "consentgate.audit.pytest_plugin" for e in importlib.metadata.entry_points(group="pytest11")
    )
    return [] if installed else ["-p", "consentgate.audit.pytest_plugin"]


@pytest.fixture
def downstream(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("CONSENTGATE_SECRET", SECRET)
    pytester.makefile(".toml", consent=POLICY_TOML)
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nconsentgate_policy = "consent.toml"\n')
    pytester.makepyfile(app=textwrap.dedent(_DOWNSTREAM_APP))
    return pytester


def test_sample_downstream_suite_uses_the_fixtures(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(test_app=textwrap.dedent(_DOWNSTREAM_TESTS))
    result = downstream.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: 1 cookie outside the allowed categories (allowed: essential, analytics):",
            "*  - _fbp: category marketing, which is not allowed",
        ]
    )


def test_fixtures_say_how_to_configure_them(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONSENTGATE_SECRET", raising=False)
    pytester.makepyfile(
        test_config="""
        def test_policy(consentgate_policy):
            pass

        def test_secret(consentgate_secret):
            pass
        """
    )
    result = pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            '*consentgate: no policy for the consent fixtures. Set `consentgate_policy = "consent.toml"`*',
            "*consentgate: the environment variable CONSENTGATE_SECRET holds no secret key*",
        ]
    )


@pytest.mark.e2e
def test_sample_downstream_browser_tests(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(test_browser=textwrap.dedent(_DOWNSTREAM_BROWSER_TESTS))
    result = downstream.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
