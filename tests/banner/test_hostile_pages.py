"""Hostile input, second part (issue 7): what reaches the banner, the language negotiation and the
proxy-header parser. A 10 MB streamed page, fuzzed Accept-Language and X-Forwarded-For/Forwarded,
header-splitting attempts. Nothing answers 500, nothing grows without bound, no CR/LF reaches a
response header."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from typing import Any

from coreapp import SECRET, make_policy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.asgi import call_asgi
from support.fuzzcount import tried

from consentgate import ConsentMiddleware
from consentgate.i18n.catalogs import LANGUAGES, negotiate
from consentgate.log.client_ip import TrustedProxies, client_ip

POLICY = make_policy()
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


async def _call(app: Any, headers: list[tuple[bytes, bytes]], method: str = "GET", path: str = "/",
                body: bytes = b"", query: bytes = b"") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    _, messages = await call_asgi(app, headers, method=method, path=path, body=body, query=query)
    return messages[0], messages[1:]


def _html_app(chunks: int, chunk_size: int) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html; charset=utf-8")]})
        filler = b"<p>" + b"x" * (chunk_size - 7) + b"</p>\n"
        await send({"type": "http.response.body", "body": b"<!doctype html><html><body>", "more_body": True})
        for _ in range(chunks):
            await send({"type": "http.response.body", "body": filler, "more_body": True})
        await send({"type": "http.response.body", "body": b"<script>'</body>'</script></body></html>",
                    "more_body": False})

    return app


def test_a_10_mb_streamed_page_is_passed_on_as_it_comes_with_the_banner_once() -> None:
    tried("hand-made cases")
    chunks, size = 160, 65536  # 10 MiB
    middleware = ConsentMiddleware(_html_app(chunks, size), policy=POLICY, secret_key=SECRET)
    start, messages = asyncio.run(_call(middleware, [(b"accept", b"text/html")]))
    assert start["status"] == 200
    assert not any(k == b"content-length" for k, _ in start["headers"])  # streamed: chunked
    bodies = [m["body"] for m in messages]
    assert len(bodies) >= chunks  # forwarded as it came, not buffered whole
    assert max(len(b) for b in bodies) < size + 8192  # only the tail is ever held back
    page = b"".join(bodies)
    assert page.count(b'data-consentgate="banner"') == 1
    assert page.index(b'data-consentgate="banner"') > page.index(b"'</body>'")  # before the last </body>
    assert page.endswith(b"</body></html>")


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.text(max_size=120).map(str.encode),
                 st.lists(st.tuples(st.sampled_from(["en", "fr-CA", "zh-TW", "ar", "*", "x-klingon", "", "ja;"]),
                                    st.floats(min_value=-1, max_value=2)), max_size=6)
                 .map(lambda items: ", ".join(f"{t};q={q}" for t, q in items).encode())))
def test_fuzz_accept_language_always_picks_one_of_the_six(value: bytes) -> None:
    tried("Accept-Language")
    assert negotiate(value.decode("latin-1"), "en") in LANGUAGES
    middleware = ConsentMiddleware(_html_app(1, 64), policy=POLICY, secret_key=SECRET)
    start, messages = asyncio.run(_call(middleware, [(b"accept-language", value)], path="/_consent"))
    assert start["status"] == 200
    assert json.loads(b"".join(m["body"] for m in messages))["language"] in LANGUAGES


proxy_values = st.one_of(
    st.binary(max_size=120),
    st.lists(st.one_of(st.ip_addresses().map(str), st.sampled_from(["unknown", "_hidden", "[::1]:80", "1.2.3.4:99",
                                                                      '"[2001:db8::1]:8080"', "", " ", "for="])),
             max_size=6).map(lambda parts: ", ".join(parts).encode()),
    st.lists(st.one_of(st.ip_addresses().map(lambda a: f"for={a}"), st.just('for="[2001:db8::7]"'),
                       st.just("for=unknown;proto=https"), st.text(max_size=10)), max_size=5)
    .map(lambda parts: ", ".join(parts).encode()),
)
TRUSTED = TrustedProxies.parse(["10.0.0.0/8", "127.0.0.1"])


@FUZZ
@given(xff=proxy_values, forwarded=proxy_values, trusted_peer=st.booleans())
def test_fuzz_forwarded_headers_never_raise_and_never_fool_an_untrusted_peer(
    xff: bytes, forwarded: bytes, trusted_peer: bool
) -> None:
    tried("X-Forwarded-For / Forwarded")
    peer = "10.1.2.3" if trusted_peer else "203.0.113.9"
    scope = {"client": (peer, 1234), "headers": [(b"x-forwarded-for", xff), (b"forwarded", forwarded)]}
    found = client_ip(scope, TRUSTED)
    if not trusted_peer:
        assert found == peer  # R-MIN-7: an untrusted peer's headers are ignored
    elif found is not None:
        ipaddress.ip_address(found)  # always a real address, never header garbage


@FUZZ
@given(st.text(max_size=40), st.binary(max_size=40))
def test_fuzz_header_splitting_attempts_never_reach_a_response_header(language: str, query: bytes) -> None:
    tried("header splitting")
    middleware = ConsentMiddleware(_html_app(1, 64), policy=POLICY, secret_key=SECRET, decision_rate_limit=None)
    body = json.dumps({"action": "accept_all", "language": language + "\r\nSet-Cookie: evil=1"}).encode()
    headers = [(b"content-type", b"application/json"), (b"origin", b"http://127.0.0.1:8000"),
               (b"host", b"127.0.0.1:8000")]
    start, _ = asyncio.run(_call(middleware, headers, method="POST", path="/_consent", body=body))
    assert start["status"] == 400  # a language must be a language code
    page_start, _ = asyncio.run(_call(middleware, [(b"cookie", b"consentgate_lang=fr\r\nx: y")],
                                      query=b"consentgate_lang=" + query))
    for name, value in page_start["headers"]:
        assert b"\r" not in name + value
        assert b"\n" not in name + value
        assert not name.startswith(b"set-cookie") or b"evil" not in value
