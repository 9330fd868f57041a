"""Header names in any case, through every feature (Django sends ``Content-Type``; an inner
middleware or a test client may send ``Cookie`` or ``User-Agent``).

Each test runs the same request with the names spelled four ways: lowercase (what servers send),
capitalised (Django), upper case and mixed case. A raw ASGI app answers with exactly the spelling
asked for, so nothing normalises the names before the middleware sees them."""

from __future__ import annotations

import asyncio
import gzip
import logging
from pathlib import Path
from typing import Any

import pytest
from coreapp import SECRET, make_policy, raw_headers_app
from support.asgi import call_asgi

from consentgate import ConsentMiddleware, PrivacyLog
from consentgate.audit.pytest_plugin import ConsentCookieFactory
from consentgate.log.privacy_log import _counts_html_get

STYLES = ("lower", "capitalised", "upper", "mixed")
PAGE = b"<!doctype html><html><body><main>Lessons</main></body></html>"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def spell(name: str, style: str) -> bytes:
    if style == "lower":
        return name.lower().encode()
    if style == "capitalised":
        return "-".join(part.capitalize() for part in name.split("-")).encode()
    if style == "upper":
        return name.upper().encode()
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(name)).encode()


def names(response: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [key.lower() for key, _ in response]


def values(response: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [value for key, value in response if key.lower() == name]


def body_of(messages: list[dict[str, Any]]) -> bytes:
    return b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")


def start_of(messages: list[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    return next(m for m in messages if m["type"] == "http.response.start")["headers"]


@pytest.fixture
def cookies() -> ConsentCookieFactory:
    return ConsentCookieFactory(make_policy(), SECRET)


@pytest.mark.parametrize("style", STYLES)
def test_html_page_gets_banner_csp_vary_length_and_cookie_filtering(style: str) -> None:
    response_headers = [
        (spell("content-type", style), b"text/html; charset=utf-8"),
        (spell("content-length", style), b"%d" % len(PAGE)),
        (spell("set-cookie", style), b"_fbp=fb.1; Path=/"),
        (spell("set-cookie", style), b"csrftoken=abc; Path=/"),
        (spell("vary", style), b"Accept-Encoding"),
        (spell("x-frame-options", style), b"DENY"),
    ]
    app = ConsentMiddleware(raw_headers_app(response_headers, PAGE), policy=make_policy(),
                            secret_key=SECRET, csp="enforce")  # fmt: skip
    _, messages = asyncio.run(call_asgi(app, [(b"host", b"testserver")]))
    headers = start_of(messages)
    body = body_of(messages)
    # banner injected before </body>, and the length says so (one Content-Length, the new one)
    assert b'data-consentgate="banner"' in body and body.endswith(b"</body></html>")
    assert values(headers, b"content-length") == [b"%d" % len(body)]
    # the consent-aware CSP is there
    assert values(headers, b"content-security-policy")[0].startswith(b"script-src 'self'")
    # marketing dropped before consent; essential passes byte-exact with its own spelling
    assert values(headers, b"set-cookie") == [b"csrftoken=abc; Path=/"]
    assert (spell("set-cookie", style), b"csrftoken=abc; Path=/") in headers
    # our Vary tokens join the app's own Vary header rather than adding a second one
    assert values(headers, b"vary") == [b"Accept-Encoding, Cookie, Sec-GPC"]
    assert names(headers).count(b"vary") == 1
    assert (spell("x-frame-options", style), b"DENY") in headers


@pytest.mark.parametrize("style", STYLES)
def test_streamed_html_drops_the_length_whatever_its_spelling(style: str) -> None:
    async def streaming(scope: Any, receive: Any, send: Any) -> None:
        start = [
            (spell("content-type", style), b"text/html"),
            (spell("content-length", style), b"%d" % len(PAGE)),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": start})
        await send({"type": "http.response.body", "body": PAGE[:20], "more_body": True})
        await send({"type": "http.response.body", "body": PAGE[20:], "more_body": False})

    app = ConsentMiddleware(streaming, policy=make_policy(), secret_key=SECRET)
    _, messages = asyncio.run(call_asgi(app, [(b"host", b"testserver")]))
    assert b"content-length" not in names(start_of(messages))
    assert b'data-consentgate="banner"' in body_of(messages)


@pytest.mark.parametrize("style", STYLES)
def test_compressed_html_is_left_alone_whatever_the_spelling(
    style: str, caplog: pytest.LogCaptureFixture
) -> None:
    packed = gzip.compress(PAGE)
    response_headers = [
        (spell("content-type", style), b"text/html"),
        (spell("content-encoding", style), b"gzip"),
        (spell("content-length", style), b"%d" % len(packed)),
    ]
    app = ConsentMiddleware(
        raw_headers_app(response_headers, packed), policy=make_policy(), secret_key=SECRET
    )
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        _, messages = asyncio.run(call_asgi(app, [(b"host", b"testserver")]))
    assert body_of(messages) == packed
    assert values(start_of(messages), b"content-length") == [b"%d" % len(packed)]
    assert any("GZipMiddleware" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("style", STYLES)
def test_request_headers_in_any_case_consent_gpc_language_and_cookie_filtering(
    style: str, cookies: ConsentCookieFactory
) -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["cookie"] = [v for k, v in scope["headers"] if k.lower() == b"cookie"]
        seen["consent"] = scope["consentgate.consent"]
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"Content-Type", b"text/html")]}
        )
        await send({"type": "http.response.body", "body": PAGE})

    cookie = cookies(["analytics", "marketing"])
    request_headers = [
        (spell("host", style), b"testserver"),
        (spell("cookie", style), f"{cookie.name}={cookie.value}; _fbp=fb.1; _ga=GA1".encode()),
        (spell("sec-gpc", style), b"1"),
        (spell("accept-language", style), b"fr-CA,fr;q=0.9"),
    ]
    middleware = ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET)
    _, messages = asyncio.run(call_asgi(middleware, request_headers))
    consent = seen["consent"]
    assert consent.consent_id == cookie.consent_id
    assert consent.gpc and "marketing" not in consent.granted and "analytics" in consent.granted
    assert seen["cookie"] == [f"{cookie.name}={cookie.value}; _ga=GA1".encode()]  # _fbp removed (GPC)
    assert b'lang="fr"' in body_of(messages)
    # the withdrawn marketing cookie is deleted in the answer
    assert any(v.startswith(b"_fbp=;") for v in values(start_of(messages), b"set-cookie"))


@pytest.mark.parametrize("style", STYLES)
def test_a_visit_is_recorded_from_headers_in_any_case(
    style: str, tmp_path: Path, cookies: ConsentCookieFactory
) -> None:
    log = PrivacyLog(str(tmp_path / "log.sqlite3"), make_policy())
    log.store.migrate()
    response_headers = [(spell("content-type", style), b"text/html; charset=utf-8")]
    app = ConsentMiddleware(raw_headers_app(response_headers, PAGE), policy=make_policy(), secret_key=SECRET,
                            privacy_log=log)  # fmt: skip
    cookie = cookies(["analytics"])
    request_headers = [
        (spell("host", style), b"testserver"),
        (spell("cookie", style), f"{cookie.name}={cookie.value}".encode()),
        (spell("user-agent", style), FIREFOX.encode()),
        (spell("referer", style), b"https://search.example/q?term=secret"),
    ]
    asyncio.run(call_asgi(app, request_headers, path="/lessons"))
    assert log.visits.flush()
    [visit] = log.store.visits(consent_id=cookie.consent_id)
    assert visit["path"] == "/lessons"
    assert (visit["browser"], visit["os"], visit["device"]) == ("Firefox", "Linux", "desktop")
    assert visit["referrer_origin"] == "https://search.example"


@pytest.mark.parametrize("style", STYLES)
def test_decision_endpoint_reads_its_request_headers_in_any_case(style: str) -> None:
    app = ConsentMiddleware(raw_headers_app([]), policy=make_policy(), secret_key=SECRET)
    body = b'{"action": "accept_all"}'
    request_headers = [
        (spell("host", style), b"testserver"),
        (spell("origin", style), b"http://testserver"),
        (spell("content-type", style), b"application/json"),
        (spell("content-length", style), b"%d" % len(body)),
    ]
    _, messages = asyncio.run(call_asgi(app, request_headers, method="POST", path="/_consent", body=body))
    assert messages[0]["status"] == 200
    # and a cross-site Origin is refused in any spelling
    hostile = [(spell("host", style), b"testserver"), (spell("origin", style), b"https://evil.example"),
               (spell("content-type", style), b"application/json")]  # fmt: skip
    _, messages = asyncio.run(call_asgi(app, hostile, method="POST", path="/_consent", body=body))
    assert messages[0]["status"] == 403


@pytest.mark.parametrize("style", STYLES)
def test_banner_assets_read_conditional_and_encoding_headers_in_any_case(style: str) -> None:
    middleware = ConsentMiddleware(raw_headers_app([]), policy=make_policy(), secret_key=SECRET)
    url = middleware.banner.js_url
    _, messages = asyncio.run(
        call_asgi(middleware, [(spell("accept-encoding", style), b"gzip, br")], path=url)
    )
    headers = dict(messages[0]["headers"])
    assert headers[b"content-encoding"] == b"gzip"
    _, messages = asyncio.run(
        call_asgi(middleware, [(spell("if-none-match", style), headers[b"etag"])], path=url)
    )
    assert messages[0]["status"] == 304


def test_the_html_get_count_rule_reads_content_type_in_any_case() -> None:
    scope = {"method": "GET"}
    for style in STYLES:
        assert _counts_html_get(scope, 200, [(spell("content-type", style), b"text/html")])
        assert not _counts_html_get(scope, 200, [(spell("content-type", style), b"application/json")])


@pytest.mark.parametrize("style", STYLES)
def test_dashboard_reads_authorization_in_any_case(style: str, tmp_path: Path) -> None:
    from consentgate import Dashboard, open_store

    token = "dashboard-token-0123456789-abcdefghijkl"
    store = open_store(str(tmp_path / "log.sqlite3"))
    store.migrate()
    dashboard = Dashboard(store, make_policy(), token=token)
    headers = [(spell("authorization", style), f"Bearer {token}".encode())]
    _, messages = asyncio.run(call_asgi(dashboard, headers, path="/stats.json"))
    assert messages[0]["status"] == 200
    _, messages = asyncio.run(
        call_asgi(dashboard, [(spell("authorization", style), b"Bearer wrong")], path="/stats.json")
    )
    assert messages[0]["status"] != 200
