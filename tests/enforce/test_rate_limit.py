"""A burst of decisions from one client cannot grow the receipt log without bound (issue 7)."""

from __future__ import annotations

from coreapp import build_app, client, cookie_from, decide

from consentgate import Decision
from consentgate.enforce.rate_limit import DecisionRateLimit, RateLimiter


def test_bucket_allows_a_burst_then_a_steady_rate() -> None:
    limiter = RateLimiter(DecisionRateLimit(burst=3, per_minute=60, max_clients=10))
    assert [limiter.acquire("a", now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("a", now=100.0)
    assert 0.9 < wait <= 1.0
    assert limiter.acquire("a", now=101.1) == 0.0  # one token back after a second
    assert limiter.acquire("b", now=101.1) == 0.0  # other clients are not affected


def test_bucket_table_is_bounded() -> None:
    limiter = RateLimiter(DecisionRateLimit(burst=1, per_minute=1, max_clients=100))
    for i in range(10_000):
        limiter.acquire(f"client-{i}", now=float(i))
    assert len(limiter) == 100


def test_a_decision_loop_is_cut_off_with_429_and_records_nothing_more() -> None:
    decisions: list[Decision] = []
    app = build_app(on_decision=decisions.append, decision_rate_limit=DecisionRateLimit(burst=5, per_minute=6))
    tc = client(app)
    first = decide(tc, {"action": "deny_all"})  # no consent id yet: charged to the client address
    cookie = "consentgate=" + cookie_from(first, "consentgate")
    statuses = []
    for _ in range(40):  # the same browser, now known by its consent id
        response = decide(tc, {"action": "accept_all"}, cookie=cookie)
        statuses.append(response.status_code)
        if response.status_code != 200:
            assert response.status_code == 429
            assert int(response.headers["retry-after"]) >= 1
            assert "set-cookie" not in response.headers
            assert "too many" in response.json()["error"]
    assert statuses.count(200) == 5
    assert len(decisions) == 6
    assert {d.consent_id for d in decisions} == {decisions[0].consent_id}


def test_first_decisions_without_a_consent_id_are_limited_per_client_address() -> None:
    decisions: list[Decision] = []
    app = build_app(on_decision=decisions.append, decision_rate_limit=DecisionRateLimit(burst=3, per_minute=1))
    # A script that drops the cookie every time gets a new consent id every time: the address is the key.
    statuses = [decide(client(app), {"action": "deny_all"}).status_code for _ in range(10)]
    assert statuses == [200] * 3 + [429] * 7
    assert len(decisions) == 3


def test_limit_can_be_turned_off() -> None:
    app = build_app(decision_rate_limit=None)
    tc = client(app)
    assert {decide(tc, {"action": "deny_all"}).status_code for _ in range(50)} == {200}
