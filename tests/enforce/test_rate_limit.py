"""A burst of decisions from one client cannot grow the receipt log without bound (issue 7).

The limiter's own tests run on an injected clock (``acquire(key, now=...)``); the tests through the
middleware use a refill so slow (one decision per 100 minutes) that no machine is slow enough for
a token to come back during the test, so their counts hold however long each request takes."""

from __future__ import annotations

import asyncio

import pytest
from coreapp import build_app, client, cookie_from, decide

from consentgate import Decision
from consentgate.enforce.rate_limit import DecisionRateLimit, RateLimiter

SLOW = 0.01  # decisions per minute: a token every 6,000 s


def test_bucket_allows_a_burst_then_a_steady_rate() -> None:
    limiter = RateLimiter(DecisionRateLimit(burst=3, per_minute=60, max_clients=10))
    assert [limiter.acquire("a", now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a", now=100.0) == pytest.approx(1.0)  # one token a second
    assert limiter.acquire("a", now=100.5) == pytest.approx(0.5)  # half of it came back meanwhile
    assert limiter.acquire("a", now=101.0) == 0.0  # a whole token after a second
    assert limiter.acquire("a", now=101.0) == pytest.approx(1.0)
    assert limiter.acquire("b", now=101.0) == 0.0  # other clients are not affected


def test_refill_follows_per_minute_exactly() -> None:
    limiter = RateLimiter(DecisionRateLimit(burst=1, per_minute=30, max_clients=10))  # a token per 2 s
    assert limiter.acquire("a", now=0.0) == 0.0
    assert limiter.acquire("a", now=0.0) == pytest.approx(2.0)
    assert limiter.acquire("a", now=1.0) == pytest.approx(1.0)  # half a token back: a second to go
    assert limiter.acquire("a", now=2.5) == 0.0  # a refused try takes nothing: 1.25 tokens, capped at 1
    assert limiter.acquire("a", now=2.5) == pytest.approx(2.0)  # none left: the cap kept no extra quarter


def test_an_idle_client_gets_at_most_the_burst_back() -> None:
    limiter = RateLimiter(DecisionRateLimit(burst=2, per_minute=60, max_clients=10))
    assert limiter.acquire("a", now=0.0) == 0.0
    allowed = [limiter.acquire("a", now=1_000_000.0) for _ in range(4)]
    assert allowed[:2] == [0.0, 0.0]
    assert allowed[2] == pytest.approx(1.0)
    assert allowed[3] == pytest.approx(1.0)


def test_a_token_exactly_refilled_is_enough() -> None:
    limiter = RateLimiter(DecisionRateLimit(burst=1, per_minute=60, max_clients=10))
    assert limiter.acquire("a", now=10.0) == 0.0
    assert limiter.acquire("a", now=11.0) == 0.0  # exactly one token back after exactly one second


def test_bucket_table_is_bounded() -> None:
    limiter = RateLimiter(DecisionRateLimit(burst=1, per_minute=1, max_clients=100))
    for i in range(10_000):
        limiter.acquire(f"client-{i}", now=float(i))
    assert len(limiter) == 100
    limiter = RateLimiter(DecisionRateLimit(burst=1, per_minute=1, max_clients=1))
    limiter.acquire("a", now=0.0)
    limiter.acquire("b", now=0.0)
    assert len(limiter) == 1


def test_the_least_recently_used_client_is_forgotten_first() -> None:
    limiter = RateLimiter(DecisionRateLimit(burst=1, per_minute=SLOW, max_clients=2))
    assert limiter.acquire("old", now=0.0) == 0.0
    assert limiter.acquire("busy", now=0.0) == 0.0
    assert limiter.acquire("old", now=1.0) > 0  # "old" is used again: now "busy" is the least recent
    assert limiter.acquire("new", now=2.0) == 0.0  # a third client: "busy" is forgotten
    assert limiter.acquire("old", now=3.0) > 0  # still remembered, still limited
    assert limiter.acquire("busy", now=4.0) == 0.0  # forgotten: a fresh bucket


@pytest.mark.parametrize(
    "limit",
    [{"burst": 0}, {"burst": -1}, {"per_minute": 0}, {"per_minute": -0.5}, {"max_clients": 0}, {"per_address": 0}],
)
def test_limits_that_would_refuse_everything_or_remember_nobody_are_errors(limit: dict[str, float]) -> None:
    message = r"^decision rate limit: burst >= 1, per_minute > 0, max_clients >= 1 and per_address >= 1$"
    with pytest.raises(ValueError, match=message):
        DecisionRateLimit(**limit)  # type: ignore[arg-type]


def test_the_smallest_valid_limit_is_accepted() -> None:
    limit = DecisionRateLimit(burst=1, per_minute=0.001, max_clients=1)
    assert RateLimiter(limit).acquire("a", now=0.0) == 0.0
    assert DecisionRateLimit() == DecisionRateLimit(burst=20, per_minute=30.0, max_clients=50_000, per_address=10)


def test_a_decision_loop_is_cut_off_with_429_and_records_nothing_more() -> None:
    decisions: list[Decision] = []
    app = build_app(on_decision=decisions.append, decision_rate_limit=DecisionRateLimit(burst=5, per_minute=SLOW))
    tc = client(app)
    first = decide(tc, {"action": "deny_all"})  # no consent id yet: charged to the client address
    cookie = "consentgate=" + cookie_from(first, "consentgate")
    statuses = []
    for _ in range(40):  # the same browser, now known by its consent id
        response = decide(tc, {"action": "accept_all"}, cookie=cookie)
        statuses.append(response.status_code)
        if response.status_code != 200:
            assert response.status_code == 429
            assert 5_900 <= int(response.headers["retry-after"]) <= 6_000  # until the next token
            assert "set-cookie" not in response.headers
            assert "too many" in response.json()["error"]
    assert statuses == [200] * 5 + [429] * 35
    assert len(decisions) == 6
    assert {d.consent_id for d in decisions} == {decisions[0].consent_id}


def test_first_decisions_without_a_consent_id_are_limited_per_client_address() -> None:
    decisions: list[Decision] = []
    limit = DecisionRateLimit(burst=3, per_minute=SLOW, per_address=1)
    app = build_app(on_decision=decisions.append, decision_rate_limit=limit)
    # A script that drops the cookie every time gets a new consent id every time: the address is the key.
    statuses = [decide(client(app), {"action": "deny_all"}).status_code for _ in range(10)]
    assert statuses == [200] * 3 + [429] * 7
    assert len(decisions) == 3
    other = client(app, client=("192.0.2.7", 4000))
    assert decide(other, {"action": "deny_all"}).status_code == 200  # another address, another bucket


def test_a_known_visitor_is_limited_by_consent_id_not_by_address() -> None:
    app = build_app(decision_rate_limit=DecisionRateLimit(burst=1, per_minute=SLOW, per_address=1))
    tc = client(app)
    cookie = "consentgate=" + cookie_from(decide(tc, {"action": "deny_all"}), "consentgate")
    tc.cookies.clear()
    assert decide(tc, {"action": "deny_all"}).status_code == 429  # the address used its burst
    assert decide(tc, {"action": "accept_all"}, cookie=cookie).status_code == 200  # the id has its own
    assert decide(tc, {"action": "accept_all"}, cookie=cookie).status_code == 429


def test_limit_can_be_turned_off() -> None:
    app = build_app(decision_rate_limit=None)
    tc = client(app)
    assert {decide(tc, {"action": "deny_all"}).status_code for _ in range(50)} == {200}


def test_an_address_bucket_holds_per_address_times_more_for_people_behind_one_nat() -> None:
    # A school's network: every pupil's first decision comes from the same address.
    limiter = RateLimiter(DecisionRateLimit(burst=2, per_minute=60, per_address=5))
    assert [limiter.acquire("ip:198.51.100.1", now=0.0) for _ in range(10)] == [0.0] * 10
    assert limiter.acquire("ip:198.51.100.1", now=0.0) == pytest.approx(0.2)  # 5 tokens a second
    assert limiter.acquire("ip:198.51.100.1", now=0.2) == 0.0
    # A browser known by its consent id keeps the plain limit.
    assert [limiter.acquire("id:abc", now=0.0) for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("id:abc", now=0.0) == pytest.approx(1.0)
    assert DecisionRateLimit(burst=2, per_minute=60, per_address=5).for_address() == DecisionRateLimit(
        burst=10, per_minute=300, per_address=1
    )


def test_a_classroom_records_its_first_decisions_through_one_address() -> None:
    decisions: list[Decision] = []
    limit = DecisionRateLimit(burst=3, per_minute=SLOW, per_address=4)
    app = build_app(on_decision=decisions.append, decision_rate_limit=limit)
    statuses = [decide(client(app), {"action": "deny_all"}).status_code for _ in range(14)]
    assert statuses == [200] * 12 + [429] * 2
    assert len(decisions) == 12


def test_admit_without_shared_buckets_follows_the_injected_clock() -> None:
    limiter = RateLimiter(DecisionRateLimit(burst=1, per_minute=30, max_clients=10))
    assert asyncio.run(limiter.admit("a", now=0.0)) == 0.0
    assert asyncio.run(limiter.admit("a", now=0.0)) == 2.0
    assert asyncio.run(limiter.admit("a", now=2.0)) == 0.0  # one interval on the injected clock


def test_the_shared_buckets_name_for_a_client_is_fixed_and_never_raises() -> None:
    """Every process (of any version, during a rolling deploy) must name a client alike, so the
    keyed hash's format is pinned: 18 bytes of HMAC-SHA256, URL-safe base64, 24 characters."""
    limiter = RateLimiter(DecisionRateLimit(), key=b"k" * 32)
    assert limiter.pseudonym("ip:203.0.113.9") == "F2pokwrzxCO71KKleT9WIHL2"
    # A key that is not valid Unicode text (a lone surrogate) still gets a name, its own.
    assert limiter.pseudonym("id:\udcff") == "YpvqOyVHh_BBe9siiQw2zVxA"
    assert limiter.pseudonym("id:\udcfe") == "0Jboh-xrPW4V9Ii75Dl3uOIn"
