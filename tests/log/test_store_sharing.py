"""What the processes of a site share through one store (issue 17), on SQLite and PostgreSQL: the
decision rate limit's buckets, the operational counts, the SQLite visit stage, and on PostgreSQL the
bounds on writes a request waits for."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.records import NOW, make_receipt, make_visit

from consentgate.enforce.policy import Retention
from consentgate.log.stores.base import Store, StoreUnavailable
from consentgate.log.stores.factory import open_store
from consentgate.log.stores.schema import MIGRATIONS, SCHEMA_VERSION
from consentgate.log.stores.sqlite import SQLiteStore


def _take(store: Store, client: str, now: float) -> bool:
    return store.take_tokens([(client, now)], interval=2.0, burst=3)[0]


def test_buckets_allow_a_burst_then_one_per_interval(store: Store) -> None:
    assert [_take(store, "a", 100.0) for _ in range(4)] == [True, True, True, False]
    assert _take(store, "a", 101.9) is False
    assert _take(store, "a", 102.0) is True  # one interval on: one more
    assert _take(store, "a", 102.0) is False
    assert _take(store, "b", 102.0) is True  # other clients are not affected
    assert _take(store, "a", 120.0) and _take(store, "a", 120.0) and _take(store, "a", 120.0)  # refilled


def test_one_transaction_takes_in_order_even_for_the_same_client(store: Store) -> None:
    takes = [("a", 100.0)] * 5 + [("b", 100.0)]
    assert store.take_tokens(takes, interval=2.0, burst=3) == [True, True, True, False, False, True]


def test_stores_of_several_processes_share_the_buckets(store_target: str) -> None:
    processes = [open_store(store_target) for _ in range(4)]
    allowed = [_take(processes[n % 4], "client", 100.0) for n in range(40)]
    assert allowed.count(True) == 3  # the burst, once, however the takes were spread
    for opened in processes:
        opened.close()


def test_full_buckets_are_deleted(store: Store) -> None:
    _take(store, "a", 100.0)
    _take(store, "b", 300.0)  # the first take of this store: due rows are deleted with it
    store._tokens_purged_at = -1e9  # next purge due
    _take(store, "c", 300.0)
    assert sorted(row[0] for row in store._read("SELECT client FROM consentgate_rate_limits")) == ["b", "c"]


def test_counts_add_up_per_day_all_processes_together(store_target: str) -> None:
    first, second = open_store(store_target), open_store(store_target)
    today = NOW.strftime("%Y-%m-%d")
    first.add_counts({"visits_dropped": 3}, today)
    second.add_counts({"visits_dropped": 4, "visits_lost": 2}, today)
    first.add_counts({"visits_dropped": 100}, (NOW - timedelta(days=40)).strftime("%Y-%m-%d"))
    stats = first.stats(days=30, now=NOW)
    assert (stats.visits_dropped, stats.visits_lost) == (7, 2)
    assert stats.as_dict()["visits_dropped"] == 7
    assert first.stats(now=NOW).visits_dropped == 107  # every day kept
    first.purge(Retention(visits_days=30, receipts_days=30), now=NOW)  # counts go with receipts
    assert first.stats(now=NOW).visits_dropped == 7
    first.close()
    second.close()


def test_a_version_3_log_is_upgraded_with_its_records_kept(
    store_target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import consentgate.log.stores.postgres as pg_module
    import consentgate.log.stores.sqlite as sqlite_module

    for module in (sqlite_module, pg_module):
        monkeypatch.setattr(module, "MIGRATIONS", MIGRATIONS[:3])
        monkeypatch.setattr(module, "SCHEMA_VERSION", 3)
    old = open_store(store_target)
    old.add_receipts([make_receipt("kept")])
    old.add_visits([make_visit("kept")])
    old.close()
    monkeypatch.undo()
    upgraded = open_store(store_target)
    assert upgraded.migrate() == 3
    assert upgraded.counts() == (1, 1)
    assert _take(upgraded, "a", 100.0)
    upgraded.add_counts({"visits_lost": 1}, "2025-06-15")
    assert upgraded._read("SELECT MAX(version) FROM consentgate_schema") == [(SCHEMA_VERSION,)]
    upgraded.close()


# -- SQLite: one visit stage for every writer ---------------------------------------------------


def test_sqlite_stage_counts_the_rows_in_the_file_whoever_wrote_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    import consentgate.log.stores.sqlite as sqlite_module

    monkeypatch.setattr(sqlite_module, "VISIT_STAGE_MIN", 50)
    path = tmp_path / "log.sqlite3"
    writers = [SQLiteStore(path) for _ in range(4)]  # four worker processes' visit writers
    largest_stage = 0
    for round_no in range(20):
        writers[round_no % 4].add_visits([make_visit(f"cid-{i}") for i in range(10)])
        with sqlite3.connect(path) as conn:
            largest_stage = max(largest_stage, conn.execute("SELECT COUNT(*) FROM consentgate_visits_recent").fetchone()[0])
    # Moved as soon as the file held 50 staged rows: never more than 40 wait (each writer
    # counting only its own rows let 4 x 50 pile up).
    assert largest_stage == 40
    assert writers[0].counts() == (0, 200)
    for writer in writers:
        writer.close()


def test_sqlite_write_waits_its_turn_for_the_lock_and_gets_in_once_released(tmp_path: Path) -> None:
    """Another writer holding the lock (a move of staged visits, another worker's batch) is not an
    outage: the write waits (within the busy timeout) and goes in when the lock is released."""
    import sqlite3

    path = tmp_path / "log.sqlite3"
    store = SQLiteStore(path, busy_timeout=30)
    store.migrate()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    done = threading.Event()
    thread = threading.Thread(target=lambda: (store.add_receipts([make_receipt()]), done.set()))
    thread.start()
    assert not done.wait(0.3)  # cannot have been written: the lock is held
    blocker.execute("ROLLBACK")
    assert done.wait(30)
    thread.join()
    assert store.counts() == (1, 0)
    blocker.close()


# -- PostgreSQL: bounded writes, visits on their own connection ---------------------------------


def _waiting_for_a_lock(url: str) -> bool:
    with open_store(url) as observer:
        rows = observer._read("SELECT COUNT(*) FROM pg_locks WHERE NOT granted")
    return int(rows[0][0]) > 0


@pytest.mark.postgres
def test_postgres_writes_wait_for_a_lock_only_as_long_as_the_bound(postgres_url: str) -> None:
    import psycopg

    from consentgate.log.stores.postgres import PostgresStore

    store = PostgresStore(postgres_url, write_timeout=0.3)
    store.migrate()
    with psycopg.connect(postgres_url) as locker:
        locker.execute("LOCK TABLE consentgate_receipts IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(StoreUnavailable, match=r"lock timeout \(gave up after 0\.3 s\)"):
            store.add_receipts([make_receipt()])
        with pytest.raises(StoreUnavailable, match="lock timeout"):
            store.forget(consent_id="cid-1")
        locker.rollback()
    assert store.add_receipts([make_receipt()]) == 1  # the same connection, still good
    store.close()


@pytest.mark.postgres
def test_postgres_receipts_do_not_wait_behind_a_stuck_visit_batch(postgres_url: str) -> None:
    import psycopg

    store = open_store(postgres_url)
    store.migrate()
    results: dict[str, Any] = {}
    with psycopg.connect(postgres_url) as locker:
        locker.execute("LOCK TABLE consentgate_visits IN ACCESS EXCLUSIVE MODE")
        visits = threading.Thread(target=lambda: results.update(visits=store.add_visits([make_visit()])))
        visits.start()
        deadline = time.monotonic() + 30
        while not _waiting_for_a_lock(postgres_url):  # the batch now waits for the table
            assert time.monotonic() < deadline
            time.sleep(0.02)
        receipts = threading.Thread(target=lambda: results.update(receipts=store.add_receipts([make_receipt()])))
        receipts.start()
        receipts.join(30)  # (only a guard against a hang: it returns at once)
        assert results.get("receipts") == 1 and "visits" not in results
        locker.rollback()
    visits.join(30)
    assert results["visits"] == 1
    assert store.counts() == (1, 1)
    store.close()
