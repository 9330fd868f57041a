"""One decision rate limit for the whole site (issue 17): processes sharing a privacy log's store
share the buckets, the per-process table stays in front as a fast path that never refuses what the
site-wide limit allows, the store holds no address, and a store that is down leaves each process
its own limit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import pytest
from coreapp import build_app, client, cookie_from, decide, make_policy
from support.readonly import unwritable

from consentgate import DecisionRateLimit
from consentgate.enforce.rate_limit import RateLimiter
from consentgate.log.privacy_log import PrivacyLog
from consentgate.log.shared_limit import StoreRateLimit
from consentgate.log.stores.base import Store
from consentgate.log.stores.factory import open_store

LIMIT = DecisionRateLimit(burst=3, per_minute=30, per_address=1)  # one more every 2 s
KEY = b"k" * 32


def process(store: Store, available: bool = True) -> RateLimiter:
    """What one worker holds: its own table, and the buckets in the shared store."""
    return RateLimiter(LIMIT, StoreRateLimit(store, lambda: available), key=KEY)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    target = tmp_path / "log.sqlite3"
    open_store(str(target)).migrate()
    return target


def test_four_processes_on_one_store_allow_the_burst_once(path: Path) -> None:
    workers = [process(open_store(str(path))) for _ in range(4)]

    async def flood() -> list[float]:
        return [await workers[n % 4].admit("ip:203.0.113.9", now=50.0, wall=1000.0) for n in range(12)]

    waits = asyncio.run(flood())
    assert waits.count(0.0) == 3
    assert set(waits) == {0.0, 2.0}  # refused: try again after one interval
    later = asyncio.run(workers[3].admit("ip:203.0.113.9", now=52.0, wall=1002.0))
    assert later == 0.0  # one interval on, one more for the site


def test_the_local_table_refuses_a_flood_without_asking_the_store(path: Path) -> None:
    worker = process(open_store(str(path)))
    shared = worker.shared
    assert isinstance(shared, StoreRateLimit)

    async def flood() -> list[float]:
        return [await worker.admit("id:abc", now=50.0, wall=1000.0) for _ in range(50)]

    assert asyncio.run(flood()).count(0.0) == 3
    assert shared._takes.batches == 3  # the 47 refusals never reached the store


def test_the_local_table_never_refuses_what_the_site_allows(path: Path) -> None:
    first, second = process(open_store(str(path))), process(open_store(str(path)))

    async def scenario() -> float:
        for _ in range(3):
            assert await first.admit("id:abc", now=50.0, wall=1000.0) == 0.0  # the site's burst, here
        for _ in range(3):  # the same browser, now at the other worker: refused by the site
            assert await second.admit("id:abc", now=51.8, wall=1001.8) > 0
        # One interval after the burst the site has a token again; the second worker's table gave
        # back the tokens the site refused, so it does not stand in the way.
        return await second.admit("id:abc", now=52.0, wall=1002.0)

    assert asyncio.run(scenario()) == 0.0


def test_the_shared_buckets_hold_no_address_and_one_name_per_client(path: Path) -> None:
    store = open_store(str(path))
    asyncio.run(process(store).admit("ip:203.0.113.9", wall=1000.0))
    asyncio.run(process(open_store(str(path))).admit("ip:203.0.113.9", wall=1000.0))
    asyncio.run(process(store).admit("ip:198.51.100.7", wall=1000.0))
    names = [row[0] for row in store._read("SELECT client FROM consentgate_rate_limits")]
    assert len(names) == 2  # both processes named the first client alike
    assert not any("203.0.113" in name or "198.51" in name or name.startswith("ip:") for name in names)
    other_secret = RateLimiter(LIMIT, key=b"x" * 32)
    assert other_secret.pseudonym("ip:203.0.113.9") not in names


def test_a_store_that_is_down_leaves_each_process_its_own_limit(path: Path) -> None:
    store = open_store(str(path))
    workers = [process(store, available=False) for _ in range(2)]

    async def flood() -> list[float]:
        return [await workers[n % 2].admit("id:abc", now=50.0, wall=1000.0) for n in range(10)]

    assert asyncio.run(flood()).count(0.0) == 6  # 3 per process
    assert store._read("SELECT COUNT(*) FROM consentgate_rate_limits") == [(0,)]


def test_a_failing_take_allows_and_says_so_once(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "consentgate")
    worker = process(open_store(str(path)))

    async def two() -> list[float]:
        return [await worker.admit(f"id:{n}", now=50.0, wall=1000.0) for n in range(2)]

    with unwritable(path):
        assert asyncio.run(two()) == [0.0, 0.0]
    assert caplog.text.count("shared decision rate limit could not be read") == 1


def test_two_middlewares_with_one_privacy_log_store_share_the_limit(path: Path, tmp_path: Path) -> None:
    """Through the real endpoint: a browser alternating between two app processes."""
    limit = DecisionRateLimit(burst=5, per_minute=0.01)
    apps = [
        build_app(privacy_log=PrivacyLog(str(path), make_policy(), spool_path=tmp_path / f"{n}.spool"),
                  decision_rate_limit=limit)
        for n in range(2)
    ]
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(client(app)) for app in apps]
        cookie = "consentgate=" + cookie_from(decide(clients[0], {"action": "deny_all"}), "consentgate")
        statuses = [decide(clients[n % 2], {"action": "accept_all"}, cookie=cookie).status_code for n in range(20)]
    assert statuses.count(200) == 5 and statuses.count(429) == 15


def test_behind_a_trusted_proxy_first_decisions_are_counted_per_forwarded_address(path: Path, tmp_path: Path) -> None:
    """The log's trusted proxies decide whose address a first decision is charged to: behind the
    proxy, each visitor's forwarded address has its own bucket (not one for the whole site)."""
    log = PrivacyLog(str(path), make_policy(), spool_path=tmp_path / "p.spool", trusted_proxies=["10.0.0.0/8"])
    app = build_app(privacy_log=log, decision_rate_limit=DecisionRateLimit(burst=1, per_minute=0.01, per_address=2))
    with client(app, client=("10.9.8.7", 5555)) as tc:

        def first(address: str) -> int:
            tc.cookies.clear()
            return int(decide(tc, {"action": "deny_all"}, **{"x-forwarded-for": address}).status_code)

        assert [first("198.51.100.1") for _ in range(3)] == [200, 200, 429]
        assert [first("198.51.100.2") for _ in range(3)] == [200, 200, 429]
    # An untrusted peer's forwarding header is not believed: its own address is the key.
    with client(app, client=("192.0.2.50", 5555)) as tc:

        def claimed(address: str) -> int:
            tc.cookies.clear()
            return int(decide(tc, {"action": "deny_all"}, **{"x-forwarded-for": address}).status_code)

        assert [claimed(f"203.0.113.{n}") for n in range(3)] == [200, 200, 429]


def test_a_token_the_site_refuses_is_given_back_once(path: Path) -> None:
    fast = DecisionRateLimit(burst=3, per_minute=120)  # one more every 0.5 s: the site refuses for 0.5 s
    first, second = (RateLimiter(fast, StoreRateLimit(open_store(str(path)), lambda: True), key=KEY) for _ in "12")

    async def scenario() -> float:
        for _ in range(2):
            assert await second.admit("id:abc", now=60.0, wall=1000.0) == 0.0
        assert await first.admit("id:abc", now=50.0, wall=1000.0) == 0.0  # the site's last token
        return await second.admit("id:abc", now=60.0, wall=1000.1)  # its own table still has one

    assert asyncio.run(scenario()) == 0.5
    # The second worker's table took its last token and got it back: one more decision here, then
    # one per 0.5 s.
    assert [second.acquire("id:abc", now=60.0) for _ in range(3)] == [0.0, 0.5, 0.5]


def test_a_decision_the_local_table_refuses_never_asks_the_site(path: Path) -> None:
    worker = process(open_store(str(path)))

    async def scenario() -> float:
        for _ in range(3):
            assert await worker.admit("id:abc", now=50.0, wall=1000.0) == 0.0
        # 0.6 of a token back here: refused for 0.8 s, even though the site (its clock far on)
        # would have allowed it.
        return await worker.admit("id:abc", now=51.2, wall=9000.0)

    assert asyncio.run(scenario()) == pytest.approx(0.8)
