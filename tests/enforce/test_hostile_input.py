"""Hostile input against the enforcement core (issue 7): whatever bytes arrive in the Cookie, Sec-GPC and
other headers, in Set-Cookie headers from the app or in consent POST bodies, the middleware never answers
500, grants exactly what the visitor granted (no more, and no less), and keeps its caches bounded.

Every invariant looks both ways against literal tables written here (which cookie belongs where, which
Sec-GPC values mean opt-out): nothing disallowed gets through, and nothing allowed is dropped. One
middleware serves every example, so what it remembers between requests is fuzzed too."""

from __future__ import annotations

import asyncio
import base64
import binascii
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
# The oracle: categories of the cookies above, by hand from coreapp's policy (None: no rule, blocked).
APP_CATEGORY: dict[bytes, str | None] = {
    b"session": "essential", b"lang": "personalization", b"theme": "personalization", b"_ga": "analytics",
    b"_ga_X": "analytics", b"_pk_id.1": "analytics", b"_fbp": "marketing", b"IDE": "marketing",
    b"ad_x": "marketing", b"mystery": None, b"": None,
}  # fmt: skip
GPC_ON = {b"1", b" 1", b"1 "}  # exactly "1", once the header's surrounding whitespace is gone
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


def _check_invariants(scope: dict[str, Any], start: dict[str, Any], granted: set[str]) -> None:
    """The request was granted exactly ``granted`` (and essential), and exactly the app's cookies of
    those categories left, byte-exact and in order (HttpOnly or not: ``_app`` sets them all)."""
    assert start["status"] == 200
    expected = {"essential"} | granted
    assert scope[SCOPE_KEY].granted == expected, (scope[SCOPE_KEY].granted, expected)
    passed = [v for k, v in start["headers"] if k == b"set-cookie" and b"Max-Age=0" not in v]
    want = [c + b"; Path=/" for c in APP_COOKIES if APP_CATEGORY[c.split(b"=", 1)[0]] in expected]
    assert passed == want, (passed, expected)


def _check_seen(scope: dict[str, Any], start: dict[str, Any], sent: list[bytes], expected: set[str]) -> None:
    """Of the app's cookies the request carried, the app sees exactly the allowed ones, and the known
    ones not allowed are deleted (R-CON-6); nothing allowed or unknown is deleted."""
    seen = {piece.strip() for piece in (scope["state"]["seen_cookie"] or b"").split(b";")}
    deleted = {set_cookie_name(v) for k, v in start["headers"] if k == b"set-cookie" and b"Max-Age=0" in v}
    for piece in sent:
        name = piece.split(b"=", 1)[0]
        category = APP_CATEGORY[name]
        assert (piece in seen) == (category in expected), (piece, expected)
        assert (name.decode() in deleted) == (category is not None and category not in expected), (piece, deleted)


def _mutations() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.just(("keep",)),
        st.tuples(st.just("flip"), st.integers(0, 300), st.integers(1, 255)),
        st.tuples(st.just("truncate"), st.integers(0, 300)),
        # Trailing spaces and ";" end a cookie value the way browsers read it, so they are not tampering.
        st.tuples(st.just("append"), st.binary(max_size=20).filter(lambda b: not b or b[:1] not in b" \t;")),
    )


def _same_signature(value: bytes, changed: bytes) -> bool:
    """Whether ``changed`` differs from ``value`` only in the unused low bits of the signature's
    last base64 character (the same signature bytes, written another way: not tampering)."""
    head, _, signature = value.rpartition(b".")
    other_head, _, other = changed.rpartition(b".")
    if head != other_head or len(signature) != len(other) or len(signature) % 4 == 0:
        return False
    padding = b"=" * (-len(signature) % 4)
    try:
        return base64.urlsafe_b64decode(signature + padding) == base64.urlsafe_b64decode(other + padding)
    except (binascii.Error, ValueError):
        return False


def _mutate(value: bytes, mutation: Any) -> tuple[bytes, bool]:
    kind = mutation[0]
    if kind == "flip" and value:
        index = mutation[1] % len(value)
        changed = value[:index] + bytes([(value[index] + mutation[2]) % 256]) + value[index + 1 :]
        return changed, changed == value or _same_signature(value, changed)
    if kind == "truncate":
        cut = value[: mutation[1] % (len(value) + 1)]
        return cut, cut == value
    if kind == "append":
        return value + mutation[1], not mutation[1]
    return value, True


gpc_values = st.sampled_from([b"1", b"0", b" 1", b"1 ", b"true", b"", b"\xff", b"1,1", b"01", b"1\x00"])
junk_cookie_pairs = st.lists(
    st.tuples(st.binary(min_size=0, max_size=12), st.binary(max_size=16))
    .map(lambda p: p[0] + b"=" + p[1])
    .filter(lambda pair: b"consentgate" not in pair),  # a second consent cookie would be another test
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
def test_fuzz_cookie_and_gpc_headers_grant_exactly_what_the_visitor_chose(
    granted: set[str], mutation: Any, junk: list[bytes], app_cookies: list[bytes], gpc: bytes | None, separator: bytes
) -> None:
    tried("Cookie + Sec-GPC request headers")
    value, intact = _mutate(CODEC.encode(granted, "fuzz-visitor").encode(), mutation)
    parts = [*junk, b"consentgate=" + value, *app_cookies]
    headers = [(b"cookie", separator.join(parts))]
    if gpc is not None:
        headers.append((b"sec-gpc", gpc))
    scope, start, _ = run(headers)
    expected = set(granted) if intact else set()  # a tampered cookie is no choice at all
    if gpc in GPC_ON:
        expected.discard("marketing")  # R-GPC-1: exactly "1" means opt-out
    _check_invariants(scope, start, expected)
    _check_seen(scope, start, app_cookies, {"essential"} | expected)
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
def test_fuzz_consent_post_bodies_answer_4xx_or_exactly_the_grant_asked(body: bytes, content_type: bytes, gpc: bytes | None) -> None:
    tried("consent POST bodies")
    headers = [(b"content-type", content_type), (b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]
    if gpc is not None:
        headers.append((b"sec-gpc", gpc))
    _, start, content = run(headers, method="POST", path="/_consent", body=body)
    # Same origin (Origin and Host agree): never a 403.
    assert start["status"] in {200, 400, 413, 415}, (start["status"], content)
    data = json.loads(content)
    try:
        asked = json.loads(body)
    except ValueError:
        asked = None
    plain = asked in ({"action": "accept_all"}, {"action": "deny_all"}, {"categories": []})
    if plain and content_type.startswith(b"application/json"):
        assert start["status"] == 200, content  # a well-formed decision is taken
    if start["status"] != 200:
        assert "error" in data
        return
    assert isinstance(asked, dict), "a body that is not a JSON object was accepted"
    if asked.get("action") == "accept_all":
        requested = set(OPTIONAL)
    elif asked.get("action") == "deny_all":
        requested = set()
    else:
        requested = set(asked["categories"]) - {"essential"}
    if gpc in GPC_ON or asked.get("gpc") is True:
        requested.discard("marketing")
    assert set(data["consent"]["granted"]) == {"essential"} | requested, (asked, gpc, data["consent"])


# Set-Cookie names as the app might write them, with the category they belong to (R-CK-3: a name is
# what comes before the first "=", without surrounding whitespace; case counts).
SET_COOKIE_NAMES: dict[bytes, str | None] = {
    b"session": "essential", b" csrftoken": "essential", b"theme\t": "personalization",
    b"_ga": "analytics", b"_ga_Z9": "analytics", b"_pk_id.4.x": "analytics", b" _ga ": "analytics",
    b"_fbp": "marketing", b"IDE": "marketing", b"ad_q": "marketing", b"mystery": None, b"Session": None,
    b"_gax": None, b"ad": None,
}  # fmt: skip
_EMIT: list[bytes] = []


async def _emitting_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"set-cookie", v) for v in _EMIT]})
    await send({"type": "http.response.body", "body": b""})


EMITTING = ConsentMiddleware(
    _emitting_app,
    policy=POLICY,
    secret_key=SECRET,
    student_resolver=lambda scope: (b"x-student", b"1") in scope["headers"],
    decision_rate_limit=None,
)


@FUZZ
@given(
    lines=st.lists(
        st.tuples(
            st.sampled_from(sorted(SET_COOKIE_NAMES)),
            st.binary(max_size=24),
            st.sampled_from([b"", b"; HttpOnly", b"; Path=/; Secure; HttpOnly", b"; Domain=x.test", b";Max-Age=60"]),
        ),
        max_size=8,
    ),
    granted=st.sets(st.sampled_from(OPTIONAL)),
    gpc=st.booleans(),
    student=st.booleans(),
)
def test_fuzz_set_cookie_lines_of_allowed_categories_pass_and_no_others(
    lines: list[tuple[bytes, bytes, bytes]], granted: set[str], gpc: bool, student: bool
) -> None:
    """Both ways, on one middleware whose verdicts per Set-Cookie name outlive each example: every
    line of an allowed category leaves byte-exact and in order, every other line is dropped (R-CON-1,
    R-GPC-1, R-STU-1, R-CK-3)."""
    tried("Set-Cookie lines, both directions")
    _EMIT[:] = [name + b"=" + value + attrs for name, value, attrs in lines]
    headers = [(b"cookie", b"consentgate=" + CODEC.encode(granted, "emitter").encode())]
    if gpc:
        headers.append((b"sec-gpc", b"1"))
    if student:
        headers.append((b"x-student", b"1"))
    _, start, _ = asyncio.run(_request(EMITTING, headers))
    allowed = {"essential"} | set(granted)
    if gpc:
        allowed.discard("marketing")
    if student:
        allowed -= {"marketing", "analytics"}  # always, and [students] deny
    want = [line for (name, _, _), line in zip(lines, _EMIT, strict=True) if SET_COOKIE_NAMES[name] in allowed]
    assert [v for k, v in start["headers"] if k == b"set-cookie"] == want


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


def test_the_cookie_filter_reports_every_verdict_it_holds() -> None:
    """``held()`` is what the bounded-memory checks read: it must count both directions."""
    from consentgate.enforce.cookie_filter import CookieFilter

    cookies = CookieFilter(POLICY)
    for i in range(3):
        cookies.inbound(b"_ga=1; x%d=2" % i, frozenset({"essential"}))
    cookies.outbound([(b"set-cookie", b"a=1"), (b"set-cookie", b"b=1")], frozenset({"essential"}), (), False)
    assert cookies.held() == 5
