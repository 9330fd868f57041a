"""Crawlers get no banner and nothing is recorded for them; enforcement is unchanged; a policy
switch turns detection off (enforce/crawlers.py, the middleware's use of it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from coreapp import SECRET, make_policy, raw_headers_app
from support.asgi import call_asgi

from consentgate import ConsentMiddleware, PolicyError, PrivacyLog
from consentgate.audit.pytest_plugin import ConsentCookieFactory
from consentgate.enforce.crawlers import CrawlerDetector
from consentgate.log.useragent import is_bot

CRAWLERS = {
    "googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "googlebot-smartphone": "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/134.0.6998.165 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html)",
    "bingbot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
    "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
    "gptbot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "applebot": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "headless-chrome": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/156.0.0.0 Safari/537.36",
    "statuscake (ua-parser's bot class)": "Mozilla/5.0 (Windows NT 6.2; WOW64) AppleWebKit/537.4 "
    "(KHTML, like Gecko) Chrome/98 Safari/537.4 (StatusCake)",
}
BROWSERS = {
    "chrome": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/138.0.0.0 Safari/537.36",
    "firefox": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "safari-iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
    "edge": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/138.0.0.0 Safari/537.36 Edg/138.0.0.0",
    "cubot-phone": "Mozilla/5.0 (Linux; U; Android 4.2.1; en-gb; CUBOT ONE Build/JOP40D) AppleWebKit/534.30 "
    "(KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
    "baidu-browser": "Mozilla/5.0 (Windows; U; Windows NT 6.1; zh_CN) AppleWebKit/534.7 (KHTML, like Gecko) "
    "Chrome/7.0 baidubrowser/1.x Safari/534.7",
}
PAGE = b"<!doctype html><html><body><main>Lessons</main></body></html>"
HTML = [(b"content-type", b"text/html; charset=utf-8"), (b"set-cookie", b"_fbp=fb.1; Path=/")]


def _app(tmp_path: Path, policy_text: str | None = None) -> tuple[ConsentMiddleware, PrivacyLog]:
    policy = make_policy(policy_text) if policy_text else make_policy()
    log = PrivacyLog(str(tmp_path / "log.sqlite3"), policy)
    log.store.migrate()
    app = ConsentMiddleware(raw_headers_app(HTML, PAGE), policy=policy, secret_key=SECRET,
                            privacy_log=log, csp="enforce")  # fmt: skip
    return app, log


def _get(
    app: ConsentMiddleware, agent: str, cookie: str | None = None
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    headers = [(b"host", b"testserver"), (b"user-agent", agent.encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    _, messages = asyncio.run(call_asgi(app, headers))
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return body, messages[0]["headers"]


@pytest.mark.parametrize("agent", CRAWLERS.values(), ids=CRAWLERS.keys())
def test_r_min_1_a_crawler_gets_no_banner_no_visit_and_the_same_enforcement(
    agent: str, tmp_path: Path
) -> None:
    app, log = _app(tmp_path)
    cookie = ConsentCookieFactory(make_policy(), SECRET)(["analytics"])  # even a consenting cookie
    body, headers = _get(app, agent, f"{cookie.name}={cookie.value}")
    assert b"data-consentgate" not in body
    assert body == PAGE
    names = [k for k, _ in headers]
    assert b"content-security-policy" in names  # enforcement is unchanged
    assert (b"set-cookie", b"_fbp=fb.1; Path=/") not in headers
    assert log.visits.flush()
    assert log.store.visits(consent_id=cookie.consent_id) == []


@pytest.mark.parametrize("agent", CRAWLERS.values(), ids=CRAWLERS.keys())
def test_a_crawlers_decision_is_refused_no_receipt_no_cookie(agent: str, tmp_path: Path) -> None:
    app, log = _app(tmp_path)
    body = b'{"action": "accept_all"}'
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver"), (b"user-agent", agent.encode()),
               (b"content-type", b"application/json")]  # fmt: skip
    _, messages = asyncio.run(call_asgi(app, headers, method="POST", path="/_consent", body=body))
    assert messages[0]["status"] == 403
    assert not [v for k, v in messages[0]["headers"] if k == b"set-cookie"]
    assert log.receipts_stored == 0 and log.receipts_spooled == 0


@pytest.mark.parametrize("agent", BROWSERS.values(), ids=BROWSERS.keys())
def test_ordinary_browsers_still_see_the_banner_and_are_recorded(agent: str, tmp_path: Path) -> None:
    app, log = _app(tmp_path)
    body, _ = _get(app, agent)
    assert b'data-consentgate="banner"' in body
    cookie = ConsentCookieFactory(make_policy(), SECRET)(["analytics"])
    _get(app, agent, f"{cookie.name}={cookie.value}")
    assert log.visits.flush()
    assert len(log.store.visits(consent_id=cookie.consent_id)) == 1


def test_the_policy_switch_turns_detection_off(tmp_path: Path) -> None:
    from coreapp import POLICY_TOML

    app, _ = _app(tmp_path, POLICY_TOML + "\n[crawlers]\ndetect = false\n")
    assert app.crawlers is None
    body, _ = _get(app, CRAWLERS["googlebot"])
    assert b'data-consentgate="banner"' in body


def test_policy_tokens_add_crawlers(tmp_path: Path) -> None:
    from coreapp import POLICY_TOML

    app, _ = _app(tmp_path, POLICY_TOML + '\n[crawlers]\ntokens = ["SchoolMonitor"]\n')
    body, _ = _get(app, "Mozilla/5.0 (compatible; schoolmonitor 3.1)")
    assert b"data-consentgate" not in body


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("detect = 1", "crawlers.detect"),
        ('tokens = ["ab"]', "crawlers.tokens[0]"),
        ("tokens = 3", "crawlers.tokens"),
        ("other = true", "crawlers.other"),
    ],
)
def test_bad_crawler_settings_name_the_key(table: str, key: str) -> None:
    from coreapp import POLICY_TOML

    with pytest.raises(PolicyError) as error:
        make_policy(POLICY_TOML + f"\n[crawlers]\n{table}\n")
    assert key in str(error.value)


def test_the_policy_summary_says_how_crawlers_are_treated() -> None:
    from coreapp import POLICY_TOML

    assert "crawlers: detected (no banner, no visit, no receipt)" in make_policy().describe()
    off = make_policy(POLICY_TOML + "\n[crawlers]\ndetect = false\n").describe()
    assert "crawlers: not detected ([crawlers] detect = false)" in off


def test_the_detector_asks_the_fallback_once_per_user_agent() -> None:
    asked: list[str] = []

    def fallback(agent: str) -> bool:
        asked.append(agent)
        return is_bot(agent)

    detector = CrawlerDetector(fallback=fallback)
    for _ in range(3):
        assert detector.is_crawler(CRAWLERS["statuscake (ua-parser's bot class)"])
        assert not detector.is_crawler(BROWSERS["firefox"])
        assert detector.is_crawler(CRAWLERS["gptbot"])  # a token: the fallback is not asked
    assert asked == [CRAWLERS["statuscake (ua-parser's bot class)"], BROWSERS["firefox"]]
    assert not detector({"headers": []})  # no User-Agent: not a crawler


def test_the_jinja_helper_places_nothing_for_a_crawler(tmp_path: Path) -> None:
    from starlette.requests import Request

    from consentgate import consentgate_banner

    seen: dict[str, str] = {}

    async def page(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        seen["banner"] = str(consentgate_banner(Request(scope)))
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]}
        )
        await send({"type": "http.response.body", "body": PAGE})

    app = ConsentMiddleware(page, policy=make_policy(), secret_key=SECRET)
    headers = [(b"user-agent", CRAWLERS["bingbot"].encode())]
    _, messages = asyncio.run(call_asgi(app, headers))
    assert seen["banner"] == ""
    assert b"data-consentgate" not in b"".join(m.get("body", b"") for m in messages[1:])
    asyncio.run(call_asgi(app, [(b"user-agent", BROWSERS["chrome"].encode())]))
    assert 'data-consentgate="banner"' in seen["banner"]


def test_garbled_request_headers_are_not_a_crawler() -> None:
    detector = CrawlerDetector()
    assert not detector({"headers": [b"not a header pair"]})
    assert not detector({"headers": [(None, b"x")]})


def test_a_user_agent_as_text_or_bytes_outside_latin_1_never_raises() -> None:
    from consentgate.enforce.crawlers import CrawlerDetector

    detector = CrawlerDetector()
    assert detector.is_crawler("Mozilla/5.0 (compatible; Googlebot/2.1) \u2603")
    assert detector.is_crawler(b"Mozilla/5.0 (compatible; Googlebot/2.1)")
    assert not detector.is_crawler("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0 \u2603")


def test_the_user_agent_header_is_found_in_any_spelling_and_no_other_header_counts() -> None:
    detect = CrawlerDetector()
    bot = b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    assert detect({"headers": [(b"user-agent", bot)]}) is True
    assert detect({"headers": [(b"User-Agent", bot)]}) is True  # Django sends it so
    assert detect({"headers": [(b"USER-AGENT", bot)]}) is True
    assert detect({"headers": [(b"connection", bot), (b"user-agent", b"Mozilla/5.0 Firefox/130.0")]}) is False
    assert detect({"headers": [(b"x-agent-id", bot)]}) is False  # ten characters, not the User-Agent
