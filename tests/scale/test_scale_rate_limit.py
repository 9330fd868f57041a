"""The decision rate limit holds for the whole site (issue 17): with the buckets in the shared store,
one client's rapid decisions are accepted ``burst`` times in all, whether they reach one of four
workers or alternate between two instances; with per-process buckets, each instance allows the
limit on its own."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest
from support.instances import Instance

BURST = 20
RATE = f"{BURST},0.01"  # 20 at once, then one per 100 minutes: no refill while the test runs


def _first_cookie(url: str) -> str:
    response = httpx.post(f"{url}/_consent", json={"action": "deny_all"}, headers={"origin": url}, verify=False)
    assert response.status_code == 200
    return f"consentgate={response.cookies['consentgate']}"


def _rapid_decisions(urls: list[str], cookie: str, count: int) -> list[int]:
    """``count`` decisions of one browser (its consent cookie), each on a new connection, the
    servers taken in turn."""

    def post(n: int) -> int:
        url = urls[n % len(urls)]
        # verify=False: plain HTTP to 127.0.0.1, and no CA bundle to load (tens of ms per client)
        with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=30, verify=False) as client:
            response = client.post(f"{url}/_consent", json={"action": "accept_all"},
                                   headers={"origin": url, "cookie": cookie})
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) >= 1
        return response.status_code

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(post, range(count)))


@pytest.mark.slow
def test_one_client_gets_the_limit_once_across_four_workers(
    store_target: str, instances: Callable[..., Instance]
) -> None:
    site = instances(store_target, workers=4, rate=f"{RATE},shared")
    statuses = _rapid_decisions([site.url], _first_cookie(site.url), 200)
    assert statuses.count(200) == BURST
    assert statuses.count(429) == 200 - BURST


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize(("scope", "accepted"), [("shared", BURST), ("local", 2 * BURST)])
def test_two_instances_share_the_limit_or_each_allows_it(
    postgres_url: str, instances: Callable[..., Instance], scope: str, accepted: int
) -> None:
    first = instances(postgres_url, rate=f"{RATE},{scope}")
    second = instances(postgres_url, rate=f"{RATE},{scope}")
    cookie = _first_cookie(first.url)
    statuses = _rapid_decisions([first.url, second.url], cookie, 200)
    assert statuses.count(200) == accepted
