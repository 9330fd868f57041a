"""A PostgreSQL lock on the receipts table (a migration during a rolling deploy, issue 17): decisions
answer within the store's write timeout instead of waiting for the lock — every one while the lock is
still held — their receipts go to the spool with one clear log line, and once the lock is released
every receipt is copied into the store, none twice."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx2 as httpx
import psycopg
import pytest
from support.decisions import receipts_per_consent_id
from support.instances import Instance

DECISIONS = 8


@pytest.mark.slow
@pytest.mark.postgres
def test_a_locked_receipts_table_spools_within_the_bound_and_loses_nothing(
    postgres_url: str, instances: Callable[..., Instance]
) -> None:
    site = instances(postgres_url, pg_timeout=0.5)  # started: the schema is in place
    acked: list[str] = []
    with psycopg.connect(postgres_url) as locker, httpx.Client(timeout=60, verify=False) as client:
        locker.execute("LOCK TABLE consentgate_receipts IN ACCESS EXCLUSIVE MODE")
        # The lock is released only after every decision was answered: without a bound they
        # would wait for it, and the client's 60 s timeout would fail the test.
        for _ in range(DECISIONS):
            client.cookies.clear()
            response = client.post(f"{site.url}/_consent", json={"action": "accept_all"},
                                   headers={"origin": site.url})
            assert response.status_code == 200
            acked.append(response.json()["consent"]["consent_id"])
        spooled = site.spool.read_text().count("\n")
        locker.rollback()  # the migration is done
    deadline = time.monotonic() + 60
    while sum(receipts_per_consent_id(postgres_url).values()) < DECISIONS:
        assert time.monotonic() < deadline, "the spool was not copied into the store"
        time.sleep(0.05)
    site.stop()
    assert spooled == DECISIONS
    stored = receipts_per_consent_id(postgres_url)
    assert {stored[consent_id] for consent_id in acked} == {1}
    (line,) = [line for line in site.log_text().splitlines() if "store is unavailable" in line]
    assert "lock timeout" in line and "gave up after 0.5 s" in line and str(site.spool) in line
    assert site.log_text().count("store is back") == 1
