"""The CSRF Origin check of ``POST /_consent`` and ``POST /_consent/forget``: the Origin must name this
site's scheme, host and port (a missing port is the scheme's default), else 403 and nothing changes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from coreapp import SECRET, make_policy
from support.asgi import call_asgi

from consentgate import ConsentMiddleware
from consentgate.enforce.endpoints import RequestError, check_same_origin
from consentgate.log.privacy_log import PrivacyLog

POLICY = make_policy()


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"app"})


def _post(
    middleware: Any, path: str, origin: bytes | None, host: bytes | None, scheme: str = "http"
) -> tuple[int, list[tuple[bytes, bytes]], Any]:
    headers = [(b"content-type", b"application/json")]
    if host is not None:
        headers.append((b"host", host))
    if origin is not None:
        headers.append((b"origin", origin))
    body = json.dumps({"action": "accept_all"}).encode()
    _, sent = asyncio.run(call_asgi(middleware, headers, method="POST", path=path, body=body, scheme=scheme))
    content = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], sent[0]["headers"], json.loads(content) if content.startswith(b"{") else content


def _middleware(**options: Any) -> ConsentMiddleware:
    return ConsentMiddleware(_app, policy=POLICY, secret_key=SECRET, decision_rate_limit=None, **options)


SAME_ORIGIN = [
    # (request scheme, Host header, Origin header)
    ("http", b"school.test", b"http://school.test"),
    ("http", b"school.test", b"http://school.test:80"),  # the default port spelled out
    ("http", b"school.test:80", b"http://school.test"),
    ("http", b"school.test:8000", b"http://school.test:8000"),
    ("http", b"School.Test:8000", b"HTTP://school.TEST:8000"),  # scheme and host are case-insensitive
    ("https", b"school.test", b"https://school.test"),
    ("https", b"school.test", b"https://school.test:443"),
    ("https", b"school.test:443", b"https://school.test"),
    ("http", b"127.0.0.1:8000", b"http://127.0.0.1:8000"),
    ("http", b"[::1]:8000", b"http://[::1]:8000"),
    ("http", b"[::1]", b"http://[::1]:80"),
]

CROSS_ORIGIN = [
    # the scheme differs: an https or ftp page posting to an http site, and the reverse
    ("http", b"school.test", b"https://school.test"),
    ("http", b"school.test", b"ftp://school.test"),
    ("https", b"school.test", b"http://school.test"),
    ("http", b"school.test:8000", b"https://school.test:8000"),
    # the port differs, default ports included
    ("http", b"school.test:8000", b"http://school.test:8001"),
    ("http", b"school.test:8000", b"http://school.test"),
    ("http", b"school.test", b"http://school.test:8000"),
    ("http", b"school.test", b"http://school.test:443"),
    ("https", b"school.test", b"https://school.test:80"),
    ("https", b"school.test:8443", b"https://school.test"),
    ("http", b"[::1]:8000", b"http://[::1]:8001"),
    # the host differs
    ("http", b"school.test", b"http://evil.test"),
    ("http", b"school.test", b"http://school.test.evil.test"),
    ("http", b"school.test", b"http://evil@school.test"),
    ("http", b"[::1]:8000", b"http://[::2]:8000"),
    # not an origin at all
    ("http", b"school.test", b"null"),
    ("http", b"school.test", b"school.test"),
    ("http", b"school.test", b"http://"),
    ("http", b"school.test", b"http://school.test/"),
    ("http", b"school.test", b"http://school.test:80x"),
    ("http", b"school.test", b"http://school.test:123456"),
    ("http", b"school.test", b"http://:80"),
    ("http", b"school.test", b""),
]


@pytest.mark.parametrize(("scheme", "host", "origin"), SAME_ORIGIN)
def test_same_origin_decisions_are_accepted(scheme: str, host: bytes, origin: bytes) -> None:
    status, headers, body = _post(_middleware(), "/_consent", origin, host, scheme)
    assert status == 200, body
    assert any(k == b"set-cookie" and b"consentgate=" in v for k, v in headers)


@pytest.mark.parametrize(("scheme", "host", "origin"), CROSS_ORIGIN)
def test_cross_origin_decisions_are_refused_on_scheme_host_or_port(scheme: str, host: bytes, origin: bytes) -> None:
    status, headers, body = _post(_middleware(), "/_consent", origin, host, scheme)
    assert status == 403
    assert "Origin header names another site" in body["error"]
    assert not [v for k, v in headers if k == b"set-cookie"]


def test_an_origin_without_a_host_header_is_refused_and_no_origin_is_left_to_fetch_metadata() -> None:
    assert _post(_middleware(), "/_consent", b"http://school.test", None)[0] == 403
    assert _post(_middleware(), "/_consent", None, b"school.test")[0] == 200


def test_https_setting_behind_a_tls_proxy_decides_the_scheme() -> None:
    """``ConsentMiddleware(https=True)`` behind a proxy that terminates TLS: the request arrives as http,
    the browser's Origin is https, and that is the same site; an http Origin is not."""
    behind_proxy = _middleware(https=True)
    assert _post(behind_proxy, "/_consent", b"https://school.test", b"school.test")[0] == 200
    assert _post(behind_proxy, "/_consent", b"http://school.test", b"school.test")[0] == 403
    plain = _middleware(https=False)
    assert _post(plain, "/_consent", b"http://school.test", b"school.test", scheme="https")[0] == 200
    assert _post(plain, "/_consent", b"https://school.test", b"school.test", scheme="https")[0] == 403


@pytest.mark.parametrize(("scheme", "host", "origin"), CROSS_ORIGIN[:6])
def test_forget_me_has_the_same_origin_check(tmp_path: Path, scheme: str, host: bytes, origin: bytes) -> None:
    log = PrivacyLog(str(tmp_path / "log.sqlite3"), POLICY)
    status, headers, _ = _post(_middleware(privacy_log=log), "/_consent/forget", origin, host, scheme)
    assert status == 403
    assert not [v for k, v in headers if k == b"set-cookie"]
    matching = scheme.encode() + b"://" + host
    status, headers, _ = _post(_middleware(privacy_log=log), "/_consent/forget", matching, host, scheme)
    assert status == 200
    assert [v for k, v in headers if k == b"set-cookie"]  # the consent cookie is cleared


def test_forget_me_follows_the_https_setting_too(tmp_path: Path) -> None:
    log = PrivacyLog(str(tmp_path / "log.sqlite3"), POLICY)
    behind_proxy = _middleware(privacy_log=log, https=True)
    assert _post(behind_proxy, "/_consent/forget", b"https://school.test", b"school.test")[0] == 200
    assert _post(behind_proxy, "/_consent/forget", b"http://school.test", b"school.test")[0] == 403


def _scope(headers: list[tuple[bytes, bytes]], scheme: str = "http") -> dict[str, Any]:
    return {"type": "http", "scheme": scheme, "headers": headers}


def test_check_same_origin_on_its_own() -> None:
    check_same_origin(_scope([(b"host", b"a.test"), (b"origin", b"http://a.test")]))
    check_same_origin(_scope([(b"host", b"a.test"), (b"origin", b"https://a.test")], "wss"))
    check_same_origin(_scope([(b"host", b"a.test"), (b"origin", b"https://a.test")]), https=True)
    check_same_origin(_scope([(b"sec-fetch-site", b"same-origin")]))
    check_same_origin(_scope([(b"sec-fetch-site", b"none")]))
    for headers, scheme in [
        ([(b"host", b"a.test"), (b"origin", b"https://a.test")], "http"),
        ([(b"host", b"a.test"), (b"origin", b"http://a.test")], "https"),
        ([(b"host", b"a.test"), (b"origin", b"http://a.test")], "wss"),
        ([(b"sec-fetch-site", b"same-site")], "http"),
        ([(b"sec-fetch-site", b"cross-site"), (b"host", b"a.test"), (b"origin", b"http://a.test")], "http"),
    ]:
        with pytest.raises(RequestError) as refused:
            check_same_origin(_scope(headers, scheme))
        assert refused.value.status == 403


def test_a_port_has_at_most_five_digits_and_a_host_is_never_empty() -> None:
    assert _post(_middleware(), "/_consent", b"http://school.test:65535", b"school.test:65535")[0] == 200
    assert _post(_middleware(), "/_consent", b"http://school.test:123456", b"school.test:123456")[0] == 403
    assert _post(_middleware(), "/_consent", b"http://:80", b":80")[0] == 403
    assert _post(_middleware(), "/_consent", b"http://:8000", b":8000")[0] == 403
