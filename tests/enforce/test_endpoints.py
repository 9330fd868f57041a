"""The consent endpoints: GET/POST /_consent, the decision hook, errors, /.well-known/gpc.json."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest
from coreapp import SECRET, build_app, client, cookie_from, decide, make_policy
from hypothesis import given, settings
from hypothesis import strategies as st

from consentgate import Decision, SecretKeys
from consentgate.enforce.consent_cookie import ConsentCookieCodec

CODEC = ConsentCookieCodec(SecretKeys.load(SECRET), make_policy())


def test_get_describes_consent_and_categories() -> None:
    data = client(build_app()).get("/_consent").json()
    assert data["consent"]["needs_choice"] is True
    assert data["consent"]["granted"] == ["essential"]
    assert [c["name"] for c in data["categories"]] == ["essential", "personalization", "analytics", "marketing"]
    analytics = data["categories"][2]
    assert analytics["cookies"] == ["_ga", "_ga_*", "_pk_id.*"]
    assert analytics["hosts"] == ["www.google-analytics.com"]
    assert data["categories"][0]["required"] is True


def test_accept_all_sets_cookie_and_answers_new_consent() -> None:
    tc = client(build_app())
    response = decide(tc, {"action": "accept_all"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    consent = response.json()["consent"]
    assert consent["granted"] == ["essential", "personalization", "analytics", "marketing"]
    assert consent["needs_choice"] is False
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", consent["consent_id"])
    header = next(v for v in response.headers.get_list("set-cookie") if v.startswith("consentgate="))
    assert "Max-Age=34128000" in header  # 395 days (R-CON-7)
    assert tc.get("/").json()["granted"] == ["analytics", "essential", "marketing", "personalization"]


def test_r_con_7_refusal_lives_182_days() -> None:
    response = decide(client(build_app()), {"action": "deny_all"})
    header = next(v for v in response.headers.get_list("set-cookie") if v.startswith("consentgate="))
    assert "Max-Age=15724800" in header
    assert response.json()["consent"]["granted"] == ["essential"]


def test_partial_choice_and_consent_id_kept_across_decisions() -> None:
    tc = client(build_app())
    first = decide(tc, {"categories": ["analytics"]}).json()["consent"]
    assert first["granted"] == ["essential", "analytics"]
    second = decide(tc, {"categories": ["essential", "personalization"]}).json()["consent"]
    assert second["granted"] == ["essential", "personalization"]
    assert second["consent_id"] == first["consent_id"]


def test_r_stu_1_student_accept_all_stores_no_marketing_for_the_next_user() -> None:
    student = {"value": True}
    tc = client(build_app(student_resolver=lambda scope: student["value"]))
    response = decide(tc, {"action": "accept_all"})
    assert response.json()["consent"]["granted"] == ["essential", "personalization"]
    assert response.json()["consent"]["locked"] == {"analytics": "student", "marketing": "student"}
    stored = CODEC.decode(cookie_from(response, "consentgate").encode())
    assert stored is not None and stored.granted == {"personalization"}
    student["value"] = False  # the next person on the shared classroom device
    assert tc.get("/").json()["granted"] == ["essential", "personalization"]


def test_r_gpc_2_gpc_decision_stores_the_choice_but_marketing_stays_off() -> None:
    decisions: list[Decision] = []
    tc = client(build_app(on_decision=decisions.append))
    response = decide(tc, {"action": "accept_all"}, **{"sec-gpc": "1"})
    consent = response.json()["consent"]
    assert "marketing" not in consent["granted"]
    assert consent["locked"] == {"marketing": "gpc"}
    assert decisions[0].limited_by == {"marketing": "gpc"}
    assert decisions[0].limited


def test_hook_receives_the_decision_sync_and_async() -> None:
    seen: list[Decision] = []

    async def hook(decision: Decision) -> None:
        seen.append(decision)

    tc = client(build_app(on_decision=hook))
    decide(tc, {"categories": ["analytics"], "method": "banner:save", "language": "fr"})
    (decision,) = seen
    assert decision.method == "banner:save"
    assert decision.language == "fr"
    assert decision.requested == {"analytics"}
    assert decision.granted == {"analytics"}
    assert decision.refused == {"personalization", "marketing"}
    assert decision.revision == 3
    assert re.fullmatch(r"[0-9a-f]{64}", decision.notice_hash)
    assert decision.is_student is False and decision.tenant is None
    assert decision.time.tzinfo is not None


def test_failing_hook_is_a_clear_503_and_no_cookie() -> None:
    def hook(decision: Decision) -> None:
        raise RuntimeError("database down")

    response = decide(client(build_app(on_decision=hook)), {"action": "accept_all"})
    assert response.status_code == 503
    assert "could not be recorded" in response.json()["error"]
    assert not response.headers.get_list("set-cookie")


def test_decision_response_deletes_withdrawn_cookies() -> None:
    tc = client(build_app())
    consent = cookie_from(decide(tc, {"action": "accept_all"}), "consentgate")
    response = tc.post(
        "/_consent",
        json={"action": "deny_all"},
        headers={"cookie": f"consentgate={consent}; _ga=1; _fbp=2; session=3", "origin": "http://testserver"},
    )
    deleted = sorted(v.split("=", 1)[0] for v in response.headers.get_list("set-cookie") if "Max-Age=0" in v)
    assert deleted == ["_fbp", "_ga"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"action": "accept_some"}', 400, "unknown action"),
        (b'{"categories": ["analytics", "tracking"]}', 400, "unknown category 'tracking'"),
        (b'{"categories": "analytics"}', 400, "must be a list"),
        (b'{"action": "accept_all", "categories": []}', 400, "either"),
        (b"{}", 400, "either"),
        (b"[]", 400, "JSON object"),
        (b'{"action": "deny_all", "extra": 1}', 400, "unknown field"),
        (b'{"action": "deny_all", "method": "DROP TABLE"}', 400, "method"),
        (b'{"action": "deny_all", "language": "<script>"}', 400, "language"),
        (b'{"categories": ["' + b"x" * 9000 + b'"]}', 413, "8192"),
        (b"\xff\xfe\x00", 400, "not valid JSON"),
    ],
)
def test_bad_requests_get_a_json_error(body: bytes, status: int, fragment: str) -> None:
    response = client(build_app()).post(
        "/_consent", content=body, headers={"content-type": "application/json", "origin": "http://testserver"}
    )
    assert response.status_code == status
    assert fragment in response.json()["error"]
    assert not response.headers.get_list("set-cookie")


def test_streamed_oversized_body_is_refused_without_reading_it_all() -> None:
    def chunks() -> Any:
        for _ in range(100):
            yield b" " * 1024

    response = client(build_app()).post(
        "/_consent", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "http://testserver.evil.example"},
    ],
)
def test_cross_site_decisions_are_refused(headers: dict[str, str]) -> None:
    response = client(build_app()).post("/_consent", json={"action": "accept_all"}, headers=headers)
    assert response.status_code == 403
    assert "refused" in response.json()["error"]
    assert not response.headers.get_list("set-cookie")


def test_same_origin_fetch_metadata_is_accepted() -> None:
    response = client(build_app()).post(
        "/_consent",
        json={"action": "deny_all"},
        headers={"sec-fetch-site": "same-origin", "origin": "http://testserver"},
    )
    assert response.status_code == 200


def test_form_posts_are_refused_415() -> None:
    response = client(build_app()).post("/_consent", data={"action": "accept_all"})
    assert response.status_code == 415


def test_other_methods_405() -> None:
    assert client(build_app()).delete("/_consent").status_code == 405
    assert client(build_app()).post("/.well-known/gpc.json").status_code == 405


def test_r_gpc_4_well_known_gpc_json() -> None:
    app = build_app(gpc_last_update=date(2026, 11, 1))
    response = client(app).get("/.well-known/gpc.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"gpc": True, "lastUpdate": "2026-11-01"}
    default = client(build_app()).get("/.well-known/gpc.json").json()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", default["lastUpdate"])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(
    body=st.one_of(
        json_values.map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {"action": st.sampled_from(["accept_all", "deny_all", "x"])},
            optional={"method": st.text(max_size=50), "language": st.text(max_size=8)},
        ).map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries({"categories": st.lists(st.sampled_from(["analytics", "marketing", "essential", "?"]))}).map(
            lambda v: json.dumps(v).encode()
        ),
        st.binary(max_size=64),
    ),
    content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""]),
)
def test_no_body_can_make_a_500_or_grant_what_was_not_asked(body: bytes, content_type: str) -> None:
    tc = client(build_app(student_resolver=lambda scope: True))
    response = tc.post("/_consent", content=body, headers={"content-type": content_type})
    assert response.status_code in (200, 400, 413, 415)
    if response.status_code == 200:
        granted = set(response.json()["consent"]["granted"])
        assert "marketing" not in granted  # a student, whatever was sent
        asked = json.loads(body)
        if asked.get("action") == "deny_all" or asked.get("categories") == []:
            assert granted == {"essential"}


# -- what the banner is told, exactly --------------------------------------------------------------

LABELLED = """
revision = 5

[categories.essential]
cookies = ["session"]

[categories.analytics]
cookies = ["_ga", "_ga_*"]
hosts = ["stats.example"]
services = ["Matomo"]
label = { fr = "Mesure d'audience", en = "Audience" }
description = "Counts visits."

[categories.marketing]
cookies = ["_fbp"]
"""


def test_state_without_wording_uses_the_policys_labels() -> None:
    from consentgate.enforce.consent import ConsentResolver
    from consentgate.enforce.consent_cookie import StoredChoice
    from consentgate.enforce.endpoints import ConsentEndpoints

    policy = make_policy(LABELLED)
    resolver = ConsentResolver(policy)
    endpoints = ConsentEndpoints(
        policy, ConsentCookieCodec(SecretKeys.load(SECRET), policy), resolver, prefix="/_consent",
        on_decision=None, notice_hash=lambda language: "h", gpc_last_update=date(2026, 1, 1),
    )  # fmt: skip
    choice = StoredChoice(frozenset({"analytics", "marketing"}), 5, 1_750_000_000, "cid")
    consent = resolver.resolve(choice, is_student=False, gpc=True, tenant="t1")
    assert endpoints.state(consent, {"headers": []}) == {
        "consent": {
            "granted": ["essential", "analytics"],
            "denied": ["marketing", "personalization"],
            "locked": {"marketing": "gpc"},
            "needs_choice": False,
            "consent_id": "cid",
            "is_student": False,
            "gpc": True,
            "tenant": "t1",
            "revision": 5,
            "given_at": "2025-06-15T15:06:40Z",
        },
        "language": "en",
        "categories": [
            {"name": "essential", "required": True, "label": "Essential", "description": "",
             "cookies": ["session"], "hosts": [], "services": [], "locked": None},
            {"name": "analytics", "required": False, "label": "Audience", "description": "Counts visits.",
             "cookies": ["_ga", "_ga_*"], "hosts": ["stats.example"], "services": ["Matomo"], "locked": None},
            {"name": "marketing", "required": False, "label": "Marketing", "description": "",
             "cookies": ["_fbp"], "hosts": [], "services": [], "locked": "gpc"},
            {"name": "personalization", "required": False, "label": "Personalization", "description": "",
             "cookies": [], "hosts": [], "services": [], "locked": None},
        ],
    }  # fmt: skip
    no_choice = resolver.resolve(None, is_student=True, gpc=False, tenant=None)
    state = endpoints.state(no_choice, {"headers": []}, "fr")  # no catalogs: the policy's default language
    assert state["consent"]["needs_choice"] is True and state["consent"]["given_at"] is None
    assert state["consent"]["locked"] == {"marketing": "student"}
    assert state["language"] == "en"
    assert [c["label"] for c in state["categories"]] == ["Essential", "Audience", "Marketing", "Personalization"]


def test_get_consent_answers_the_banners_words_in_the_visitors_language() -> None:
    tc = client(build_app(policy=make_policy(LABELLED)))
    data = tc.get("/_consent", headers={"accept-language": "fr"}).json()
    assert data["language"] == "fr"
    labels = {c["name"]: (c["label"], c["description"]) for c in data["categories"]}
    assert labels["analytics"] == ("Mesure d'audience", "Counts visits.")
    assert labels["essential"][0] != "Essential"  # the French catalog's word, not the policy's default
    assert data["consent"] == {
        "granted": ["essential"], "denied": ["analytics", "marketing", "personalization"], "locked": {},
        "needs_choice": True, "consent_id": None, "is_student": False, "gpc": False, "tenant": None,
        "revision": 5, "given_at": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", 'expected a JSON object such as {"action": "accept_all"}'),
        (b'{"action": "deny_all", "extra": 1, "b": 2}', "unknown field(s): b, extra"),
        (b"{}", 'give either "action" ("accept_all" or "deny_all") or "categories"'),
        (b'{"action": "x' + b"y" * 50 + b'"}', "unknown action 'x" + "y" * 39 + "': use \"accept_all\" or \"deny_all\""),
        (b'{"action": "deny_all", "method": "DROP TABLE"}', '"method" must be a short lowercase token such as "banner:save"'),
        (b'{"action": "deny_all", "language": "<script>"}', '"language" must be a language code such as "en"'),
        (b'{"action": "deny_all", "gpc": "yes"}', '"gpc" must be true or false (navigator.globalPrivacyControl)'),
        (b'{"action": "deny_all", "gpc": 1}', '"gpc" must be true or false (navigator.globalPrivacyControl)'),
        (b'{"categories": ["analytics", "tracking", "x"]}', "unknown category 'tracking', 'x'; categories are essential, personalization, analytics, marketing"),
        (b'{"categories": "analytics"}', '"categories" must be a list of category names'),
    ],
)
def test_bad_decisions_are_answered_with_exact_messages(body: bytes, message: str) -> None:
    response = client(build_app()).post(
        "/_consent", content=body, headers={"content-type": "application/json", "origin": "http://testserver"}
    )
    assert (response.status_code, response.json()) == (400, {"error": message})
    assert "set-cookie" not in response.headers


def test_the_decision_handed_to_the_hook_and_the_answer_exactly() -> None:
    """A student of a school that also denies personalization, with the banner's GPC signal, asks for
    everything in French: the hook gets every field right and the answer speaks French."""
    from consentgate.banner.banner import Banner

    decisions: list[Decision] = []
    app = build_app(
        on_decision=decisions.append,
        student_resolver=lambda scope: True,
        tenant_resolver=lambda scope: "lincoln-high",
    )
    tc = client(app)
    response = decide(tc, {"categories": ["analytics", "marketing", "personalization"], "gpc": True},
                      **{"accept-language": "fr-CA,fr;q=0.9"})  # fmt: skip
    (decision,) = decisions
    assert decision.method == "categories"
    assert (decision.requested, decision.granted, decision.stored) == (
        {"analytics", "marketing", "personalization"}, set(), set(),
    )  # fmt: skip
    assert decision.refused == {"analytics", "marketing", "personalization"}
    assert dict(decision.limited_by) == {"analytics": "student", "marketing": "student", "personalization": "student"}
    assert (decision.is_student, decision.gpc, decision.tenant, decision.language) == (True, True, "lincoln-high", "fr")
    assert decision.revision == 3
    middleware = app.middleware_stack
    while not isinstance(getattr(middleware, "banner", None), Banner):
        middleware = middleware.app  # type: ignore[union-attr]
    assert decision.notice_hash == middleware.banner.notice_hash("fr") != middleware.banner.notice_hash("en")
    data = response.json()
    assert data["language"] == "fr"
    assert data["consent"]["locked"] == {"analytics": "student", "marketing": "student", "personalization": "student"}
    stored = CODEC.decode(cookie_from(response, "consentgate").encode())
    assert stored is not None
    assert data["consent"]["given_at"] == decision.time.isoformat().replace("+00:00", "Z")
    assert stored.given_at == int(decision.time.timestamp())
    accepted = decide(tc, {"action": "accept_all", "language": "es"})
    assert (decisions[1].method, decisions[1].language, accepted.json()["language"]) == ("accept_all", "es", "es")


def test_a_failing_hook_is_logged_and_answered_exactly(caplog: pytest.LogCaptureFixture) -> None:
    def hook(decision: Decision) -> None:
        raise RuntimeError("database down")

    response = decide(client(build_app(on_decision=hook)), {"action": "accept_all"})
    assert response.json() == {"error": "your choice could not be recorded; please try again"}
    (record,) = [r for r in caplog.records if r.name == "consentgate"]
    assert record.getMessage() == "consentgate: the decision hook failed; the decision was not acknowledged"
    assert record.exc_info is not None and "database down" in str(record.exc_info[1])


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    from consentgate.enforce.endpoints import error_response

    assert error_response(429, "slow down", 0.2).headers["retry-after"] == "1"
    assert error_response(429, "slow down", 1.01).headers["retry-after"] == "2"
    assert error_response(429, "slow down", 3.0).headers["retry-after"] == "3"
    assert "retry-after" not in error_response(400, "bad").headers


def test_a_json_content_type_with_parameters_is_json() -> None:
    response = client(build_app()).post(
        "/_consent", content=b'{"action": "deny_all"}',
        headers={"content-type": "Application/JSON ; charset=utf-8", "origin": "http://testserver"},
    )  # fmt: skip
    assert response.status_code == 200


def test_a_request_error_reads_as_its_message() -> None:
    from consentgate.enforce.endpoints import RequestError

    error = RequestError(429, "slow down", retry_after=2.5)
    assert (str(error), error.status, error.message, error.retry_after) == ("slow down", 429, "slow down", 2.5)


def test_unknown_categories_are_named_five_at_most_and_cut_at_40_characters() -> None:
    names = [f"c{i}" for i in range(7)] + ["x" * 50]
    response = client(build_app()).post(
        "/_consent", json={"categories": ["x" * 50, *names]}, headers={"origin": "http://testserver"}
    )
    error = response.json()["error"]
    assert error.startswith(f"unknown category '{'x' * 40}', 'c0', 'c1', 'c2', 'c3'; categories are ")


def test_state_without_wording_names_a_category_from_its_key() -> None:
    from consentgate.enforce.consent import ConsentResolver
    from consentgate.enforce.endpoints import ConsentEndpoints

    policy = make_policy('revision = 1\n[categories.video_calls]\ndescription = { en = "Lessons by video." }')
    endpoints = ConsentEndpoints(
        policy, ConsentCookieCodec(SecretKeys.load(SECRET), policy), ConsentResolver(policy), prefix="/_consent",
        on_decision=None, notice_hash=lambda language: "h", gpc_last_update=date(2026, 1, 1),
    )  # fmt: skip
    consent = ConsentResolver(policy).resolve(None, is_student=False, gpc=False, tenant=None)
    (video,) = [c for c in endpoints.state(consent, {"headers": []})["categories"] if c["name"] == "video_calls"]
    assert (video["label"], video["description"]) == ("Video calls", "Lessons by video.")


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        ({"content-type": "text/plain"}, b"{}", 415, "send the decision as JSON with Content-Type: application/json"),
        ({}, b"{}", 415, "send the decision as JSON with Content-Type: application/json"),
        ({"content-type": "application/json", "content-length": "9000"}, b"{}", 413, "request body over 8192 bytes"),
        ({"content-type": "application/json", "content-length": "x"}, b"{}", 400, "invalid Content-Length"),
        ({"content-type": "application/json"}, b"{nope", 400, "body is not valid JSON"),
    ],
)
def test_a_body_that_cannot_be_read_is_answered_exactly(
    headers: dict[str, str], body: bytes, status: int, message: str
) -> None:
    import asyncio

    from support.asgi import call_asgi

    from consentgate import ConsentMiddleware

    middleware = ConsentMiddleware(lambda *a: None, policy=make_policy(), secret_key=SECRET, decision_rate_limit=None)
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    _, sent = asyncio.run(call_asgi(middleware, raw, method="POST", path="/_consent", body=body))
    assert sent[0]["status"] == status
    assert json.loads(sent[1]["body"]) == {"error": message}


def _read(messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    """read_json_body on a scope with ``headers`` (JSON by default) and a client sending ``messages``."""
    import asyncio

    from consentgate.enforce.endpoints import read_json_body

    pending = list(messages)

    async def receive() -> dict[str, Any]:
        return pending.pop(0)

    scope = {"type": "http", "headers": [(b"content-type", b"application/json")] if headers is None else headers}
    return asyncio.run(read_json_body(scope, receive))


def _refused(messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, str]:
    from consentgate.enforce.endpoints import RequestError

    with pytest.raises(RequestError) as refused:
        _read(messages, headers)
    return refused.value.status, refused.value.message


def test_a_body_is_read_in_chunks_up_to_exactly_8_kib() -> None:
    def chunk(body: bytes, more: bool = False) -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": more}

    assert _read([chunk(b'{"action":', True), chunk(b' "deny_all"}')]) == {"action": "deny_all"}
    assert _read([chunk(b"{}", True), {"type": "http.request"}]) == {}  # a message may carry no body
    limit = b'"' + b"a" * 8190 + b'"'  # 8,192 bytes: the most that is read
    assert _read([chunk(limit)]) == "a" * 8190
    json_with_length = [(b"content-type", b"application/json"), (b"content-length", b"8192")]
    assert _read([chunk(limit[:4000], True), chunk(limit[4000:])], json_with_length) == "a" * 8190
    over = (413, "request body over 8192 bytes")
    assert _refused([chunk(limit + b" ")]) == over
    assert _refused([chunk(b" " * 5000, True), chunk(b" " * 5000)]) == over  # counted over every chunk
    assert _refused([chunk(b"{", True), {"type": "http.disconnect"}]) == (400, "client disconnected")


def test_r_con_9_a_decision_loop_without_a_client_address_is_refused_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client the server gives no address is limited too (one shared key); the refusal names the
    wait in whole seconds, at least 1, even when less than a second is left."""
    import asyncio
    from types import SimpleNamespace

    from support.asgi import call_asgi

    from consentgate import ConsentMiddleware, DecisionRateLimit
    from consentgate.enforce import rate_limit

    monkeypatch.setattr(rate_limit, "time", SimpleNamespace(monotonic=lambda: 1000.0))  # a stopped clock
    middleware = ConsentMiddleware(
        lambda *a: None, policy=make_policy(), secret_key=SECRET,
        decision_rate_limit=DecisionRateLimit(burst=1, per_minute=120, per_address=1, shared=False),
    )  # fmt: skip
    headers = [(b"content-type", b"application/json"), (b"origin", b"http://testserver"), (b"host", b"testserver")]

    async def twice() -> list[list[dict[str, Any]]]:
        body = b'{"action": "deny_all"}'
        return [(await call_asgi(middleware, headers, "POST", "/_consent", body, client=None))[1] for _ in range(2)]

    first, second = asyncio.run(twice())
    assert first[0]["status"] == 200
    assert second[0]["status"] == 429  # half a second to wait
    assert (b"retry-after", b"1") in second[0]["headers"]
    assert json.loads(second[1]["body"]) == {"error": "too many consent decisions from this browser; try again shortly"}


def test_the_state_names_categories_in_the_visitors_language() -> None:
    data = client(build_app()).get("/_consent", headers={"accept-language": "fr"}).json()
    assert data["language"] == "fr"
    assert [c["label"] for c in data["categories"]] == ["Essentiels", "Personnalisation", "Mesure d\u2019audience", "Marketing"]
    assert data["categories"][2]["description"].startswith("Compte les visites")


def test_head_reads_like_get_other_methods_are_refused_exactly_and_pages_are_served_here() -> None:
    tc = client(build_app())
    head = tc.head("/_consent")
    assert (head.status_code, head.headers["cache-control"], head.headers["content-type"]) == (200, "no-store", "application/json")
    assert tc.get("/_consent").headers["cache-control"] == "no-store"
    assert tc.head("/.well-known/gpc.json").status_code == 200
    for method, path, message in (
        ("POST", "/.well-known/gpc.json", "use GET"),
        ("PUT", "/_consent", "use GET to read consent or POST to decide"),
        ("DELETE", "/_consent", "use GET to read consent or POST to decide"),
    ):
        refused = tc.request(method, path)
        assert (refused.status_code, refused.json()) == (405, {"error": message})
    page = tc.get("/_consent/cookies")  # the banner's cookie declaration, served by the endpoints
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>Cookies on this site</title>" in page.text


def test_cross_site_and_cross_origin_decisions_are_refused_with_exact_messages() -> None:
    tc = client(build_app())
    cross_site = tc.post("/_consent", json={"action": "accept_all"}, headers={"sec-fetch-site": "cross-site"})
    assert (cross_site.status_code, cross_site.json()) == (
        403, {"error": "cross-site request refused: consent can only be changed by the site itself"}
    )
    cross_origin = decide(tc, {"action": "accept_all"}, origin="http://evil.example")
    assert (cross_origin.status_code, cross_origin.json()) == (
        403, {"error": "cross-origin request refused: the Origin header names another site"}
    )
