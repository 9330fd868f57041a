"""Hostile input against the enforcement core (issue 7): whatever bytes arrive in the Cookie, Sec-GPC and
other headers, in Set-Cookie headers from the app or in consent POST bodies, the middleware never answers
500, never grants a category the visitor did not grant, and keeps its caches bounded."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from coreapp import SECRET, make_policy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.asgi import call_asgi
from support.fuzzcount import tried

from consentgate import ConsentMiddleware, SecretKeys
from consentgate.enforce.consent_cookie import ConsentCookieCodec
from consentgate.enforce.cookie_filter import NAME_LIMIT, SHAPE_LIMIT
from consentgate.enforce.cookie_headers import filter_cookie_header, set_cookie_name
from consentgate.enforce.visitors import VISITOR_LIMIT
from consentgate.middleware import SCOPE_KEY

POLICY = make_policy()
CODEC = ConsentCookieCodec(SecretKeys.load(SECRET), POLICY)
OPTIONAL = ["personalization", "analytics", "marketing"]
APP_COOKIES = [b"session=s", b"lang=en", b"theme=d", b"_ga=1", b"_ga_X=2", b"_pk_id.1=3", b"_fbp=4", b"IDE=5",
               b"ad_x=6", b"mystery=7", b"=nameless"]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _app() -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        scope["state"]["seen_cookie"] = dict(scope["headers"]).get(b"cookie")
        headers = [(b"content-type", b"text/plain")] + [(b"set-cookie", c + b"; Path=/") for c in APP_COOKIES]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


MIDDLEWARE = ConsentMiddleware(_app(), policy=POLICY, secret_key=SECRET, decision_rate_limit=None)


async def _request(
    app: Any, headers: list[tuple[bytes, bytes]], method: str = "GET", path: str = "/", body: bytes = b""
) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    scope, messages = await call_asgi(app, headers, method=method, path=path, body=body)
    return scope, messages[0], b"".join(m.get("body", b"") for m in messages[1:])


def run(headers: list[tuple[bytes, bytes]], **kw: Any) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    return asyncio.run(_request(MIDDLEWARE, headers, **kw))


def _passed_names(start: dict[str, Any]) -> list[str]:
    return [set_cookie_name(v) for k, v in start["headers"] if k == b"set-cookie" and b"Max-Age=0" not in v]


def _check_invariants(scope: dict[str, Any], start: dict[str, Any], may_grant: set[str]) -> None:
    assert start["status"] == 200
    consent = scope[SCOPE_KEY]
    assert consent.granted <= may_grant | {"essential"}, (consent.granted, may_grant)
    for name in _passed_names(start):
        category = POLICY.category_of_cookie(name)
        if name == "consentgate":
            continue
        assert category is not None, name  # unknown cookies are blocked by this policy
        assert category in consent.granted, (name, consent.granted)


def _mutations() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.just(("keep",)),
        st.tuples(st.just("flip"), st.integers(0, 300), st.integers(1, 255)),
        st.tuples(st.just("truncate"), st.integers(0, 300)),
        # Trailing spaces and ";" end a cookie value the way browsers read it, so they are not tampering.
        st.tuples(st.just("append"), st.binary(max_size=20).filter(lambda b: not b or b[:1] not in b" \t;")),
    )


def _mutate(value: bytes, mutation: Any) -> tuple[bytes, bool]:
    kind = mutation[0]
    if kind == "flip" and value:
        index = mutation[1] % len(value)
        changed = value[:index] + bytes([(value[index] + mutation[2]) % 256]) + value[index + 1 :]
        return changed, changed == value
    if kind == "truncate":
        cut = value[: mutation[1] % (len(value) + 1)]
        return cut, cut == value
    if kind == "append":
        return value + mutation[1], not mutation[1]
    return value, True


gpc_values = st.sampled_from([b"1", b"0", b" 1", b"1 ", b"true", b"", b"\xff", b"1,1", b"01", b"1\x00"])
junk_cookie_pairs = st.lists(
    st.tuples(st.binary(min_size=0, max_size=12), st.binary(max_size=16)).map(lambda p: p[0] + b"=" + p[1]),
    max_size=6,
)


@FUZZ
@given(
    granted=st.sets(st.sampled_from(OPTIONAL)),
    mutation=_mutations(),
    junk=junk_cookie_pairs,
    app_cookies=st.lists(st.sampled_from(APP_COOKIES), max_size=5),
    gpc=st.one_of(st.none(), gpc_values),
    separator=st.sampled_from([b"; ", b";", b" ;  ", b";;"]),
)
def test_fuzz_cookie_and_gpc_headers_never_grant_more_than_the_visitor_chose(
    granted: set[str], mutation: Any, junk: list[bytes], app_cookies: list[bytes], gpc: bytes | None, separator: bytes
) -> None:
    tried("Cookie + Sec-GPC request headers")
    value, intact = _mutate(CODEC.encode(granted, "fuzz-visitor").encode(), mutation)
    parts = [*junk, b"consentgate=" + value, *app_cookies]
    headers = [(b"cookie", separator.join(parts))]
    if gpc is not None:
        headers.append((b"sec-gpc", gpc))
    scope, start, _ = run(headers)
    may_grant = set(granted) if intact else set()
    if gpc == b"1":
        may_grant.discard("marketing")  # R-GPC-1: exactly "1" means opt-out
    _check_invariants(scope, start, may_grant)
    seen = scope["state"]["seen_cookie"] or b""
    for pair in seen.split(b";"):
        name = pair.split(b"=", 1)[0].strip().decode("latin-1")
        if name and name != "consentgate":
            category = POLICY.category_of_cookie(name)
            assert category is None or category in scope[SCOPE_KEY].granted


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_arbitrary_cookie_bytes_mean_no_choice(raw: bytes) -> None:
    tried("Cookie header, arbitrary bytes")
    scope, start, _ = run([(b"cookie", raw)])
    _check_invariants(scope, start, set())


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_consent_cookie_decoding_rejects_anything_unsigned(raw: bytes) -> None:
    tried("consent cookie decoding")
    assert CODEC.decode(raw) is None
    assert CODEC.decode_any(raw) is None


@FUZZ
@given(st.lists(st.binary(max_size=60), max_size=8))
def test_fuzz_set_cookie_headers_from_the_app(values: list[bytes]) -> None:
    tried("Set-Cookie response headers")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"set-cookie", v) for v in values]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    middleware = ConsentMiddleware(app, policy=POLICY, secret_key=SECRET)
    _, start, _ = asyncio.run(_request(middleware, [(b"cookie", b"consentgate=" + CODEC.encode({"analytics"}, "v").encode())]))
    assert start["status"] == 200
    kept = [v for k, v in start["headers"] if k == b"set-cookie"]
    for value in kept:
        assert value in values  # passed byte-exact, never rewritten
        category = POLICY.category_of_cookie(set_cookie_name(value))
        assert category in {"essential", "analytics"}


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
        st.dictionaries(
            st.sampled_from(["action", "categories", "method", "language", "gpc"]),
            st.one_of(st.text(max_size=20), st.lists(st.text(max_size=12), max_size=5), st.booleans(), st.none()),
        ).map(lambda v: json.dumps(v).encode()),
    ),
    content_type=st.sampled_from([b"application/json", b"text/plain", b"application/json; charset=utf-8", b"\xff"]),
    gpc=st.one_of(st.none(), gpc_values),
)
def test_fuzz_consent_post_bodies_answer_4xx_or_a_bounded_grant(body: bytes, content_type: bytes, gpc: bytes | None) -> None:
    tried("consent POST bodies")
    headers = [(b"content-type", content_type), (b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]
    if gpc is not None:
        headers.append((b"sec-gpc", gpc))
    _, start, content = run(headers, method="POST", path="/_consent", body=body)
    assert start["status"] in {200, 400, 403, 413, 415}, (start["status"], content)
    data = json.loads(content)
    if start["status"] != 200:
        assert "error" in data
        return
    granted = set(data["consent"]["granted"])
    try:
        asked = json.loads(body)
    except ValueError:
        raise AssertionError("a body that is not JSON was accepted") from None
    if asked.get("action") != "accept_all":
        assert granted <= {"essential", *asked.get("categories", [])}
    if gpc == b"1":
        assert "marketing" not in granted


def test_a_64_kib_cookie_header_and_1000_cookies_are_handled() -> None:
    tried("hand-made cases", 3)
    big = b"x=" + b"a" * 65536
    scope, start, _ = run([(b"cookie", big)])
    _check_invariants(scope, start, set())
    cookie = CODEC.encode({"analytics"}, "many").encode()
    many = b"; ".join([b"_ga_%d=%d" % (i, i) for i in range(500)] + [b"_fbp%d=1" % i for i in range(500)])
    scope, start, _ = run([(b"cookie", many + b"; consentgate=" + cookie)])
    _check_invariants(scope, start, {"analytics"})
    seen = scope["state"]["seen_cookie"]
    assert seen.count(b"_ga_") == 500  # analytics allowed: kept
    assert b"_fbp" not in seen  # unknown names (no rule matches "_fbp0") never reach the app
    # Invalid UTF-8 and control characters in every header the middleware reads.
    scope, start, _ = run([(b"cookie", b"\xff\xfe=\x00\x01; consentgate=\xc3\x28"), (b"sec-gpc", b"\x80"),
                           (b"accept-language", b"\xff\xfe"), (b"sec-fetch-site", b"\xff")])
    _check_invariants(scope, start, set())


def test_caches_stay_bounded_under_a_flood_of_distinct_visitors() -> None:
    """20,000 distinct cookie headers (valid, tampered and junk) do not grow the middleware's memory."""
    middleware = ConsentMiddleware(_app(), policy=POLICY, secret_key=SECRET)

    async def flood() -> None:
        for i in range(20_000):
            value = CODEC.encode({"analytics"}, f"v{i}").encode() if i % 3 == 0 else b"junk%d" % i
            await _request(middleware, [(b"cookie", b"_ga_%d=1; consentgate=" % i + value)])

    asyncio.run(flood())
    tried("hand-made cases", 20_000)
    assert 0 < middleware.visitors.held() <= 2 * VISITOR_LIMIT
    assert 0 < middleware.cookies.held() <= 2 * SHAPE_LIMIT + 2 * NAME_LIMIT
    assert len(CODEC._cache) <= 4096


def test_filter_cookie_header_survives_separator_soup() -> None:
    tried("hand-made cases", 4)
    for header in (b";;;;", b"=;=;=", b"   ", b"a=b;" * 5000):
        kept, dropped = filter_cookie_header(header, {"a"})
        assert kept is None or isinstance(kept, bytes)
        assert isinstance(dropped, list)
