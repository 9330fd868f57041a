"""Injecting the banner into HTML responses: lengths, streaming, compression, charsets, fragments."""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.banner_app import SECRET, make_policy

from consentgate import ConsentMiddleware
from consentgate.banner.injection import COMPRESSED_SKIPPED, inject_before_body_end

MARK = b'data-consentgate="banner"'


def test_inject_before_the_last_body_end_any_case() -> None:
    assert inject_before_body_end(b"<body>x</body></html>", b"B") == b"<body>xB</body></html>"
    assert inject_before_body_end(b"<BODY>x</BODY ></HTML>", b"B") == b"<BODY>xB</BODY ></HTML>"
    assert inject_before_body_end(b"<body>x</body\n>", b"B") == b"<body>xB</body\n>"
    page = b'<body><script>var s = "</body>";</script><!-- </body> --><p>end</p></body></html>'
    assert inject_before_body_end(page, b"B") == page.replace(b"<p>end</p>", b"<p>end</p>B")
    assert inject_before_body_end(b"<p>fragment</p>", b"B") is None
    assert inject_before_body_end(b"</bodyx>", b"B") is None


def raw_app(
    chunks: Sequence[bytes],
    headers: Sequence[tuple[bytes, bytes]] = ((b"content-type", b"text/html; charset=utf-8"),),
    status: int = 200,
    length: bool = True,
) -> Any:
    """An ASGI app sending ``chunks`` as separate body messages."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        extra = [(b"content-length", b"%d" % sum(map(len, chunks)))] if length else []
        await send({"type": "http.response.start", "status": status, "headers": [*headers, *extra]})
        if not chunks:
            await send({"type": "http.response.body", "body": b""})
        for index, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": index < len(chunks) - 1})

    return app


def call(
    app: Any, method: str = "GET", headers: Sequence[tuple[bytes, bytes]] = (), **options: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    middleware = ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET, **options)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": list(headers),
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    start = sent[0]
    assert start["type"] == "http.response.start"
    return start, sent[1:]


def header(start: dict[str, Any], name: bytes) -> bytes | None:
    values = [v for k, v in start["headers"] if k == name]
    return values[0] if values else None


def body_of(messages: list[dict[str, Any]]) -> bytes:
    assert messages[-1].get("more_body", False) is False
    return b"".join(m["body"] for m in messages)


PAGE = b"<!doctype html><html><head><title>t</title></head><body><p>hello</p></body></html>"


def test_single_message_body_gets_the_banner_and_a_correct_length() -> None:
    start, messages = call(raw_app([PAGE]))
    body = body_of(messages)
    assert body.count(MARK) == 1
    assert body.index(MARK) < body.rindex(b"</body>")
    assert body.endswith(b"</body></html>")
    assert header(start, b"content-length") == b"%d" % len(body)


def test_streamed_body_is_forwarded_as_it_comes_holding_back_only_the_tail() -> None:
    first = b"<!doctype html><html><body>" + b"x" * 50_000
    chunks = [first, b"<p>more</p></bo", b"dy>\n</ht", b"ml>"]
    start, messages = call(raw_app(chunks))
    assert header(start, b"content-length") is None  # the server chunks the answer
    assert len(messages[0]["body"]) >= len(first) - 32  # not buffered
    body = body_of(messages)
    assert body.count(MARK) == 1
    snippet = body[body.index(b"<link") : body.rindex(b"</body>")]
    assert body.replace(snippet, b"") == b"".join(chunks)


def test_streamed_body_with_a_fake_body_end_in_a_script_uses_the_last_one() -> None:
    chunks = [b"<html><body><script>document.write('</body>')</script>", b"<p>tail</p>", b"</body></html>"]
    _, messages = call(raw_app(chunks, length=False))
    body = body_of(messages)
    assert body.index(MARK) > body.index(b"<p>tail</p>")


@given(
    body=st.binary(max_size=300).map(lambda b: b.replace(b"</body", b"")),
    cut_points=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
    end_tag=st.sampled_from([b"</body>", b"</BODY>", b"</body  >", b""]),
    after=st.sampled_from([b"</html>", b"", b"\n<!-- </body> in a comment? no: after -->"]),
)
@settings(max_examples=150, deadline=None)
def test_streaming_and_single_shot_agree_for_any_split(
    body: bytes, cut_points: list[int], end_tag: bytes, after: bytes
) -> None:
    page = b"<html><body>" + body + end_tag + after
    cuts = sorted({min(c, len(page)) for c in cut_points})
    chunks = [page[a:b] for a, b in zip([0, *cuts], [*cuts, len(page)], strict=True)]
    _, single = call(raw_app([page]))
    _, streamed = call(raw_app(chunks, length=False))
    assert body_of(streamed) == body_of(single)
    expected_marks = 1 if end_tag or b"</body>" in after else 0
    assert body_of(single).count(MARK) == expected_marks


def test_fragment_without_body_end_is_untouched() -> None:
    start, messages = call(raw_app([b"<li>htmx fragment</li>"]))
    assert body_of(messages) == b"<li>htmx fragment</li>"
    assert header(start, b"content-length") == b"22"


@pytest.mark.parametrize(
    "content_type", [b"text/plain", b"application/json", b"text/htmlx", b"image/svg+xml"]
)
def test_non_html_is_untouched(content_type: bytes) -> None:
    start, messages = call(raw_app([PAGE], headers=[(b"content-type", content_type)]))
    assert body_of(messages) == PAGE
    assert header(start, b"content-length") == b"%d" % len(PAGE)


def test_head_and_bodiless_statuses_are_untouched() -> None:
    start, messages = call(raw_app([PAGE]), method="HEAD")
    assert header(start, b"content-length") == b"%d" % len(PAGE)
    assert MARK not in body_of(messages)
    start, messages = call(raw_app([], status=304, length=False))
    assert start["status"] == 304 and body_of(messages) == b""


def test_compressed_html_is_left_alone_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    packed = gzip.compress(PAGE)
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-encoding", b"gzip")]
    app = raw_app([packed], headers=headers)
    middleware = ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET)
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [],
        "query_string": b"",
        "scheme": "http",
    }
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        for _ in range(3):
            asyncio.run(middleware(dict(scope), receive, send))
    bodies = [m["body"] for m in sent if m["type"] == "http.response.body"]
    assert bodies == [packed] * 3
    assert [r.getMessage() for r in caplog.records].count(COMPRESSED_SKIPPED) == 1


def test_banner_off_injects_nothing() -> None:
    _, messages = call(raw_app([PAGE]), banner=False)
    assert body_of(messages) == PAGE


def test_latin1_page_gets_character_references_for_what_latin1_cannot_hold() -> None:
    page = "<html><body><p>café</p></body></html>".encode("latin-1")
    headers = [(b"content-type", b"text/html; charset=ISO-8859-1")]
    _, messages = call(raw_app([page], headers=headers), headers=[(b"accept-language", b"ar")])
    text = body_of(messages).decode("latin-1")
    assert "<p>café</p>" in text
    assert "&#1585;" in text  # Arabic letters as references: the page's bytes stay latin-1
    assert 'lang="ar" dir="rtl"' in text


def test_page_without_charset_gets_a_pure_ascii_banner() -> None:
    _, messages = call(
        raw_app([PAGE], headers=[(b"content-type", b"text/html")]), headers=[(b"accept-language", b"ja")]
    )
    body = body_of(messages)
    assert body.isascii()
    assert "すべて拒否".encode("ascii", "xmlcharrefreplace") in body


def test_utf16_or_unknown_charsets_are_left_alone() -> None:
    for charset in (b"utf-16", b"x-made-up"):
        page = PAGE.decode().encode("utf-16") if charset == b"utf-16" else PAGE
        headers = [(b"content-type", b"text/html; charset=" + charset)]
        _, messages = call(raw_app([page], headers=headers))
        assert body_of(messages) == page


def test_utf8_page_gets_utf8_banner() -> None:
    _, messages = call(raw_app([PAGE]), headers=[(b"accept-language", b"zh-CN")])
    assert "全部拒绝".encode() in body_of(messages)
