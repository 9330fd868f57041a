"""ConsentMiddleware: effective consent, Set-Cookie filtering, inbound filtering, withdrawal, Vary."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from coreapp import POLICY_TOML, SECRET, build_app, client, cookie_from, decide, make_policy, raw_headers_app
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from support.asgi import call_asgi

from consentgate import ConsentMiddleware, Policy, SecretKeys, WeakSecretError
from consentgate.enforce.consent_cookie import ConsentCookieCodec
from consentgate.enforce.cookie_headers import set_cookie_name

POLICY = make_policy()
CODEC = ConsentCookieCodec(SecretKeys.load(SECRET), POLICY)


def consent_cookie(granted: set[str], consent_id: str = "visitor-1") -> str:
    return f"consentgate={CODEC.encode(granted, consent_id)}"


async def _call(app: Any, headers: list[tuple[bytes, bytes]], path: str = "/", scheme: str = "http") -> Any:
    _, sent = await call_asgi(app, headers, path=path, scheme=scheme)
    return sent[0]


def call(app: Any, headers: list[tuple[bytes, bytes]], **kw: Any) -> list[tuple[bytes, bytes]]:
    start = asyncio.run(_call(app, headers, **kw))
    return list(start["headers"])


# -- effective consent ---------------------------------------------------------------------


def test_no_choice_yet_means_essential_only_and_needs_choice() -> None:
    data = client(build_app()).get("/").json()
    assert data["granted"] == ["essential"]
    assert data["needs_choice"] is True
    assert data["consent_id"] is None
    assert data["same_in_scope"] is True


def test_r_con_1_first_visit_only_essential_cookies_leave_the_app() -> None:
    response = client(build_app()).get("/cookies")
    names = [set_cookie_name(v.encode()) for v in response.headers.get_list("set-cookie")]
    assert names == ["session"]


def test_stored_choice_is_honoured() -> None:
    cookie = consent_cookie({"analytics"})
    tc = client(build_app())
    data = tc.get("/", headers={"cookie": cookie}).json()
    assert data["granted"] == ["analytics", "essential"]
    assert data["needs_choice"] is False
    assert data["consent_id"] == "visitor-1"
    response = tc.get("/cookies", headers={"cookie": cookie})
    names = [set_cookie_name(v.encode()) for v in response.headers.get_list("set-cookie")]
    assert names == ["session", "_ga"]  # HttpOnly _ga passes, theme/_fbp/mystery do not


def test_r_con_7_and_8_a_remembered_visitor_is_asked_again_once_the_choice_lapses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import consentgate.middleware as middleware_module

    app = build_app()
    day = 86400.0
    given = 1_750_000_000.0
    cookie = {"cookie": f"consentgate={CODEC.encode({'analytics'}, 'visitor-1', int(given))}"}
    monkeypatch.setattr(middleware_module, "_now", lambda: given + 394 * day)
    assert client(app).get("/", headers=cookie).json()["granted"] == ["analytics", "essential"]
    # The same Cookie header (memoised by the middleware) a few days later: consent lapsed.
    monkeypatch.setattr(middleware_module, "_now", lambda: given + 396 * day)
    lapsed = client(app).get("/", headers=cookie).json()
    assert (lapsed["granted"], lapsed["needs_choice"]) == (["essential"], True)
    # Given in the future (beyond the allowed clock skew): not current either.
    monkeypatch.setattr(middleware_module, "_now", lambda: given - day)
    assert client(app).get("/", headers=cookie).json()["needs_choice"] is True
    # A new policy revision asks everyone again, whenever the choice was made.
    revised = build_app(policy=make_policy(POLICY_TOML.replace("revision = 3", "revision = 4", 1)))
    monkeypatch.setattr(middleware_module, "_now", lambda: given + day)
    assert client(revised).get("/", headers=cookie).json()["needs_choice"] is True


def test_r_gpc_1_and_2_gpc_beats_a_stored_accept() -> None:
    cookie = consent_cookie({"personalization", "analytics", "marketing"})
    tc = client(build_app())
    data = tc.get("/", headers={"cookie": cookie, "sec-gpc": "1"}).json()
    assert data["granted"] == ["analytics", "essential", "personalization"]
    assert data["gpc"] is True
    response = tc.get("/cookies", headers={"cookie": cookie, "sec-gpc": "1"})
    names = [set_cookie_name(v.encode()) for v in response.headers.get_list("set-cookie")]
    assert "_fbp" not in names and "_ga" in names


@pytest.mark.parametrize("value", ["0", "true", "yes", "", "11", "1, 1"])
def test_r_gpc_1_only_exactly_1_counts(value: str) -> None:
    cookie = consent_cookie({"marketing"})
    data = client(build_app()).get("/", headers={"cookie": cookie, "sec-gpc": value}).json()
    assert data["gpc"] is False
    assert "marketing" in data["granted"]


def _student_app(**kw: Any) -> Starlette:
    def resolver(scope: Any) -> bool:
        return scope["path"].startswith("/student") or scope.get("query_string") == b"student"

    async def tenant(scope: Any) -> str | None:
        return "lincoln-high" if b"lincoln" in scope.get("query_string", b"") else None

    return build_app(
        routes=[Route("/student", lambda r: PlainTextResponse("s"))],
        student_resolver=resolver,
        tenant_resolver=tenant,
        **kw,
    )


def test_r_stu_1_student_never_gets_marketing_whatever_the_cookie_says() -> None:
    cookie = consent_cookie({"personalization", "analytics", "marketing"})
    data = client(_student_app()).get("/?student", headers={"cookie": cookie}).json()
    assert data["is_student"] is True
    assert data["granted"] == ["essential", "personalization"]  # analytics denied by [students]


def test_r_stu_2_tenant_denies_more_for_its_students() -> None:
    cookie = consent_cookie({"personalization", "analytics", "marketing"})
    tc = client(_student_app())
    data = tc.get("/?lincoln", headers={"cookie": cookie}).json()
    assert data["tenant"] == "lincoln-high" and data["is_student"] is False
    assert data["granted"] == ["analytics", "essential", "marketing", "personalization"]
    scope_headers = {"cookie": cookie}
    # A student of that school: personalization also off.
    app = build_app(student_resolver=lambda s: True, tenant_resolver=lambda s: "lincoln-high")
    data = client(app).get("/", headers=scope_headers).json()
    assert data["granted"] == ["essential"]


def test_r_stu_3_builtin_roles_from_session_make_a_student() -> None:
    from starlette.middleware.sessions import SessionMiddleware

    def login(request: Request) -> PlainTextResponse:
        request.session["roles"] = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
        request.session["tenant"] = "lincoln-high"
        return PlainTextResponse("in")

    from coreapp import echo_consent

    app = Starlette(
        routes=[Route("/", echo_consent), Route("/login", login)],
        middleware=[
            Middleware(SessionMiddleware, secret_key=SECRET),
            Middleware(ConsentMiddleware, policy=POLICY, secret_key=SECRET),
        ],
    )
    tc = client(app)
    assert tc.get("/").json()["is_student"] is False
    tc.get("/login")
    data = tc.get("/").json()
    assert data["is_student"] is True
    assert data["tenant"] == "lincoln-high"


# -- outbound ------------------------------------------------------------------------------

RAW = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"set-cookie", b"session=abc; Path=/; HttpOnly"),
    (b"x-custom", b"  odd   spacing  "),
    (b"set-cookie", b"_fbp=fb.1.2; Max-Age=7776000; Path=/"),
    (b"set-cookie", b"_ga=GA1.1; HttpOnly; Secure"),
    (b"set-cookie", b"nameless-value"),
    (b"set-cookie", b"mystery=1"),
    (b"Set-Cookie", b"IDE=x; Domain=.doubleclick.net"),
    (b"x-last", b"end"),
]


def test_blocked_cookies_removed_everything_else_byte_exact_in_order() -> None:
    app = ConsentMiddleware(raw_headers_app(RAW), policy=POLICY, secret_key=SECRET)
    headers = call(app, [(b"cookie", consent_cookie({"analytics"}).encode())])
    assert headers == [
        RAW[0],
        RAW[1],
        RAW[2],
        RAW[4],
        RAW[8],
        (b"vary", b"Cookie, Sec-GPC"),
    ]


def test_unknown_cookies_allow_lets_unknown_and_nameless_through() -> None:
    policy = make_policy().__class__.from_toml(
        'revision = 3\nunknown_cookies = "allow"\n[categories.marketing]\ncookies = ["_fbp", "IDE"]'
    )
    app = ConsentMiddleware(raw_headers_app(RAW), policy=policy, secret_key=SECRET)
    headers = call(app, [])
    kept = [v for k, v in headers if k.lower() == b"set-cookie"]
    assert kept == [RAW[1][1], RAW[4][1], RAW[5][1], RAW[6][1]]


def test_vary_merges_with_existing_header() -> None:
    raw = [(b"vary", b"Accept-Encoding"), (b"set-cookie", b"session=1")]
    app = ConsentMiddleware(raw_headers_app(raw), policy=POLICY, secret_key=SECRET)
    assert call(app, []) == [(b"vary", b"Accept-Encoding, Cookie, Sec-GPC"), raw[1]]
    # Tokens the app already names, in any case and spacing, are not repeated.
    raw = [(b"Vary", b"Accept-Encoding,cookie"), (b"set-cookie", b"session=1")]
    app = ConsentMiddleware(raw_headers_app(raw), policy=POLICY, secret_key=SECRET)
    assert call(app, []) == [(b"Vary", b"Accept-Encoding,cookie, Sec-GPC"), raw[1]]
    raw = [(b"vary", b"SEC-GPC , Cookie"), (b"set-cookie", b"session=1")]
    app = ConsentMiddleware(raw_headers_app(raw), policy=POLICY, secret_key=SECRET)
    assert call(app, []) == raw
    star = [(b"vary", b"*"), (b"set-cookie", b"session=1")]
    app = ConsentMiddleware(raw_headers_app(star), policy=POLICY, secret_key=SECRET)
    assert call(app, []) == star


def test_vary_auto_skips_responses_that_do_not_depend_on_consent() -> None:
    raw = [(b"content-type", b"image/png")]
    app = ConsentMiddleware(raw_headers_app(raw), policy=POLICY, secret_key=SECRET)
    assert call(app, []) == raw
    always = ConsentMiddleware(raw_headers_app(raw), policy=POLICY, secret_key=SECRET, vary="always")
    assert call(always, []) == [*raw, (b"vary", b"Cookie, Sec-GPC")]
    html = [(b"content-type", b"text/html; charset=utf-8")]
    app = ConsentMiddleware(raw_headers_app(html), policy=POLICY, secret_key=SECRET)
    assert (b"vary", b"Cookie, Sec-GPC") in call(app, [])


OPTIONAL = ["personalization", "analytics", "marketing"]
NAMES = ["session", "csrftoken", "lang", "theme", "_ga", "_ga_X1", "_pk_id.1.a", "_fbp", "IDE", "ad_x", "zz", ""]


@st.composite
def set_cookie_lines(draw: st.DrawFn) -> bytes:
    name = draw(st.sampled_from(NAMES) | st.text(alphabet="abcxyz_-.", min_size=0, max_size=6))
    sep = draw(st.sampled_from(["=", " = ", "=\t"]))
    value = draw(st.text(alphabet="abc123=;\"% ", max_size=10))
    attrs = draw(st.sampled_from(["", "; Path=/", "; HttpOnly; Secure", "; Max-Age=0", ";Domain=x.org"]))
    line = f"{name}{sep}{value}{attrs}" if name or draw(st.booleans()) else value
    return line.encode()


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(set_cookie_lines(), max_size=8),
    granted=st.sets(st.sampled_from(OPTIONAL)),
    student=st.booleans(),
    gpc=st.booleans(),
    have_choice=st.booleans(),
)
def test_property_no_disallowed_cookie_passes_allowed_pass_byte_exact(
    lines: list[bytes], granted: set[str], student: bool, gpc: bool, have_choice: bool
) -> None:
    raw = [(b"set-cookie", line) for line in lines]
    app = ConsentMiddleware(
        raw_headers_app(raw), policy=POLICY, secret_key=SECRET, student_resolver=lambda s: student
    )
    request_headers: list[tuple[bytes, bytes]] = []
    if have_choice:
        request_headers.append((b"cookie", consent_cookie(granted).encode()))
    if gpc:
        request_headers.append((b"sec-gpc", b"1"))
    out = [v for k, v in call(app, request_headers) if k == b"set-cookie"]

    allowed = {"essential"} | (granted if have_choice else set())
    if student:
        allowed -= {"marketing", "analytics"}
    if gpc:
        allowed -= {"marketing"}
    expected = []
    for line in lines:
        category = POLICY.category_of_cookie(set_cookie_name(line))
        if category is not None and category in allowed:
            expected.append(line)
    assert out == expected  # same bytes, same order, nothing else


# -- inbound and withdrawal ----------------------------------------------------------------


def test_inbound_cookies_of_disallowed_categories_are_hidden_from_the_app() -> None:
    consent = consent_cookie({"analytics"})  # made once: a second one may carry the next second
    cookie = consent + "; session=s; _fbp=f; _ga=g; mystery=m; theme=t"
    data = client(build_app()).get("/", headers={"cookie": cookie}).json()
    assert data["cookie_header"] == consent + "; session=s; _ga=g"


def test_r_con_6_withdrawn_cookies_are_deleted_httponly_included() -> None:
    cookie = consent_cookie(set()) + "; session=s; _ga=g; _pk_id.1.ab=p; mystery=m"
    response = client(build_app()).get("/", headers={"cookie": cookie})
    deletions = [v for v in response.headers.get_list("set-cookie") if "Max-Age=0" in v]
    assert sorted(d.split("=", 1)[0] for d in deletions) == ["_ga", "_pk_id.1.ab"]  # not "mystery"
    for value in deletions:
        assert "Path=/" in value and "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in value
    assert "Cookie" in response.headers["vary"]


def test_r_ck_2_withdrawal_uses_the_declared_path_and_domain() -> None:
    policy = Policy.from_toml(
        'revision = 1\n[categories.analytics]\ncookies = [{ name = "_ga", path = "/app", domain = ".school.org" }]'
    )
    app = ConsentMiddleware(raw_headers_app([]), policy=policy, secret_key=SECRET)
    headers = call(app, [(b"cookie", b"_ga=1")], scheme="https")
    assert headers[0] == (
        b"set-cookie",
        b"_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/app; Domain=.school.org; Secure",
    )


def test_https_reads_the_host_prefixed_cookie() -> None:
    value = CODEC.encode({"analytics"}, "id-https")
    app = build_app()
    tc = client(app, base_url="https://testserver")
    data = tc.get("/", headers={"cookie": f"__Host-consentgate={value}"}).json()
    assert data["consent_id"] == "id-https"


@pytest.mark.parametrize(
    "bad_cookie",
    [
        "consentgate=garbage",
        "consentgate=" + "A" * 4000,
        "consentgate=" + CODEC.encode({"marketing"}, "id").replace("marketing", "analytics"),
        "consentgate=c1.3.0.x.marketing.invalid-signature",
        "consentgate",
        "consentgate=\u00ff\u00fe",
    ],
)
def test_bad_consent_cookie_means_ask_again_never_an_error(bad_cookie: str) -> None:
    response = client(build_app()).get("/", headers={"cookie": bad_cookie.encode("latin-1")})
    assert response.status_code == 200
    assert response.json()["needs_choice"] is True
    assert response.json()["granted"] == ["essential"]


# -- other scopes, frameworks, configuration ------------------------------------------------


def test_websocket_and_lifespan_pass_through() -> None:
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    started: list[bool] = []

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        started.append(True)
        yield

    app = Starlette(
        routes=[WebSocketRoute("/ws", ws)],
        middleware=[Middleware(ConsentMiddleware, policy=POLICY, secret_key=SECRET)],
        lifespan=lifespan,
    )
    with client(app) as tc, tc.websocket_connect("/ws") as socket:
        assert socket.receive_text() == "hello"
    assert started == [True]


def test_fastapi_add_middleware() -> None:
    app = FastAPI()
    app.add_middleware(ConsentMiddleware, policy=POLICY, secret_key=SECRET)

    @app.get("/")
    def home(request: Request) -> dict[str, Any]:
        return {"analytics": request.state.consent.allows("analytics")}

    tc = client(app)
    assert tc.get("/").json() == {"analytics": False}
    assert decide(tc, {"action": "accept_all"}).status_code == 200
    assert tc.get("/").json() == {"analytics": True}


def test_weak_or_missing_secret_is_a_startup_error() -> None:
    with pytest.raises(WeakSecretError, match="missing"):
        ConsentMiddleware(raw_headers_app([]), policy=POLICY, secret_key=None)
    with pytest.raises(WeakSecretError, match="too weak"):
        ConsentMiddleware(raw_headers_app([]), policy=POLICY, secret_key="short")
    with pytest.raises(WeakSecretError, match="too weak"):
        ConsentMiddleware(raw_headers_app([]), policy=POLICY, secret_key="a" * 64)
    ConsentMiddleware(raw_headers_app([]), policy=POLICY, secret_key=None, development=True)


def test_secret_keys_repr_hides_them() -> None:
    keys = SecretKeys.load([SECRET, SECRET + "x"])
    assert SECRET not in repr(keys)
    app = ConsentMiddleware(raw_headers_app([]), policy=POLICY, secret_key=SECRET)
    attributes = {name: getattr(app, name) for name in dir(app) if not name.startswith("__")}
    assert SECRET not in repr(attributes)


def test_decision_then_later_request_deletes_the_withdrawn_category() -> None:
    tc = client(build_app())
    decide(tc, {"action": "accept_all"})
    assert "_ga" in [set_cookie_name(v.encode()) for v in tc.get("/cookies").headers.get_list("set-cookie")]
    consent = cookie_from(decide(tc, {"categories": ["personalization"]}), "consentgate")
    response = tc.get("/", headers={"cookie": f"consentgate={consent}; _ga=1; theme=dark"})
    deleted = [v.split("=", 1)[0] for v in response.headers.get_list("set-cookie") if "Max-Age=0" in v]
    assert deleted == ["_ga"]
