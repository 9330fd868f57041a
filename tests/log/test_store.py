"""The store interface on both backends: same schema, same behaviour (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.records import NOW, make_receipt, make_visit

from consentgate.enforce.policy import Retention
from consentgate.log.stores.base import Store, StoreError, StoreUnavailable
from consentgate.log.stores.factory import open_store
from consentgate.log.stores.schema import MIGRATIONS, SCHEMA_VERSION
from consentgate.log.stores.sqlite import SQLiteStore


def test_receipts_round_trip_and_are_idempotent(store: Store) -> None:
    first = make_receipt(gpc=True, tenant="school-a")
    assert store.add_receipts([first]) == 1
    assert store.add_receipts([first]) == 0  # replaying a spool stores nothing twice
    assert store.add_receipts([first, make_receipt()]) == 1
    stored = {r.receipt_id: r for r in store.receipts(consent_id="cid-1")}
    assert stored[first.receipt_id] == first
    assert store.counts() == (2, 0)


def test_visits_are_stored_minimised_and_read_back(store: Store) -> None:
    store.add_visits([make_visit(), make_visit(path="/b"), make_visit("cid-2")])
    visits = store.visits(consent_id="cid-1")
    assert [v["path"] for v in visits] == ["/", "/b"]
    assert visits[0] == {
        "time": "2025-06-15T12:00:00Z",
        "path": "/",
        "ip_prefix": "203.0.113.0",
        "country": "DE",
        "browser": "Firefox",
        "browser_major": "128",
        "os": "Linux",
        "os_major": None,
        "device": "desktop",
        "referrer_origin": "https://example.org",
        "consent_id": "cid-1",
        "tenant": None,
        "is_student": False,
    }
    assert store.counts() == (0, 3)


def test_r_vis_2_forget_by_consent_id_removes_everything_of_it(store: Store) -> None:
    store.add_receipts([make_receipt(), make_receipt(), make_receipt("other")])
    store.add_visits([make_visit(), make_visit("other")])
    deleted = store.forget(consent_id="cid-1")
    assert (deleted.receipts, deleted.visits) == (2, 1)
    assert store.receipts(consent_id="cid-1") == []
    assert store.visits(consent_id="cid-1") == []
    assert store.counts() == (1, 1)
    assert store.stats().categories["analytics"].granted == 1  # the per-category rows went too


def test_r_stu_2_forget_by_tenant_removes_the_whole_school(store: Store) -> None:
    store.add_receipts([make_receipt("a", tenant="leaving"), make_receipt("b", tenant="leaving"), make_receipt("c")])
    store.add_visits([make_visit("a", tenant="leaving"), make_visit("c", tenant="staying")])
    deleted = store.forget(tenant="leaving")
    assert (deleted.receipts, deleted.visits) == (2, 1)
    assert store.receipts(tenant="leaving") == []
    assert store.counts() == (1, 1)


def test_selector_needs_exactly_one_of_consent_id_or_tenant(store: Store) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        store.forget()
    with pytest.raises(ValueError, match="exactly one"):
        store.receipts(consent_id="a", tenant="b")


def test_r_min_6_purge_follows_retention_per_record_kind(store: Store) -> None:
    store.add_visits([make_visit(when=NOW - timedelta(days=31)), make_visit(when=NOW - timedelta(days=29))])
    store.add_receipts(
        [make_receipt(when=NOW - timedelta(days=401)), make_receipt(when=NOW - timedelta(days=399))]
    )
    deleted = store.purge(Retention(visits_days=30, receipts_days=400), now=NOW)
    assert (deleted.receipts, deleted.visits) == (1, 1)
    assert store.counts() == (1, 1)
    assert store.purge(Retention(visits_days=1, receipts_days=1), now=NOW).visits == 1
    assert store.counts() == (0, 0)


def test_stats_per_day_category_gpc_and_students(store: Store) -> None:
    day1, day2 = NOW - timedelta(days=1), NOW
    store.add_receipts(
        [
            make_receipt("a", when=day1, granted=frozenset({"analytics", "marketing"})),
            make_receipt("b", when=day1, granted=frozenset(), gpc=True),
            make_receipt("c", when=day2, granted=frozenset({"analytics"}), student=True),
            make_receipt("d", when=day2, granted=frozenset({"personalization"}), gpc=True),
        ]
    )
    store.add_visits([make_visit("a")])
    stats = store.stats(days=7, now=NOW)
    assert (stats.receipts, stats.visits, stats.decisions) == (4, 1, 4)
    assert [(d.day, d.decisions, d.gpc, d.students) for d in stats.days] == [
        ("2025-06-14", 2, 1, 0),
        ("2025-06-15", 2, 1, 1),
    ]
    assert stats.days[0].categories["analytics"].granted == 1
    assert stats.days[0].categories["analytics"].opt_in_rate == 0.5
    assert stats.categories["analytics"].granted == 2
    assert stats.categories["analytics"].refused == 2
    assert stats.categories["marketing"].opt_in_rate == 0.25
    assert stats.gpc_share == 0.5 and stats.student_share == 0.25
    data = stats.as_dict()
    assert data["categories"]["personalization"] == {"granted": 1, "refused": 3, "opt_in_rate": 0.25}
    assert data["since"] == "2025-06-09"
    assert store.stats(days=1, now=NOW).decisions == 2


def test_stats_of_an_empty_store(store: Store) -> None:
    stats = store.stats()
    assert (stats.receipts, stats.visits, stats.decisions, stats.gpc_share) == (0, 0, 0, None)
    assert stats.days == ()


def test_migrations_are_versioned_and_run_once(store_target: str) -> None:
    first = open_store(store_target)
    assert first.migrate() == 0  # a new database: every migration ran
    first.add_receipts([make_receipt()])
    first.close()
    again = open_store(store_target)
    assert again.migrate() == SCHEMA_VERSION  # already there: nothing re-run, data kept
    assert again.counts() == (1, 0)
    again.close()


def test_a_schema_from_a_newer_version_is_refused(store_target: str) -> None:
    first = open_store(store_target)
    first.migrate()
    first._write([("UPDATE consentgate_schema SET version = ?", [(SCHEMA_VERSION + 1,)])])
    first.close()
    with pytest.raises(StoreError, match="newer than this consentgate"):
        open_store(store_target).migrate()


def test_a_version_1_log_is_upgraded_with_its_visits_kept(store_target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import consentgate.log.stores.postgres as pg_module
    import consentgate.log.stores.sqlite as sqlite_module

    for module in (sqlite_module, pg_module):
        monkeypatch.setattr(module, "MIGRATIONS", MIGRATIONS[:1])
        monkeypatch.setattr(module, "SCHEMA_VERSION", 1)
    old = open_store(store_target)
    old._write([(  # what a version-1 writer did: straight into the indexed table
        "INSERT INTO consentgate_visits (time, path, browser, os, device, consent_id, is_student) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [("2025-06-15T12:00:00Z", "/old", "Firefox", "Linux", "desktop", "cid-1", 0)],
    )])
    old.close()
    monkeypatch.undo()
    upgraded = open_store(store_target)
    assert upgraded.migrate() == 1
    upgraded.add_visits([make_visit(path="/new")])
    assert [v["path"] for v in upgraded.visits(consent_id="cid-1")] == ["/old", "/new"]
    upgraded.close()


# -- SQLite specifics -------------------------------------------------------------------------


def _table_rows(path: Path, table: str) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_sqlite_stages_visits_and_moves_them_in_bulk_without_losing_any(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import consentgate.log.stores.sqlite as sqlite_module

    monkeypatch.setattr(sqlite_module, "VISIT_STAGE_MIN", 5)
    path = tmp_path / "log.sqlite3"
    store = open_store(str(path))
    early = NOW - timedelta(hours=1)
    store.add_visits([make_visit(f"cid-{i % 3}", when=early, path=f"/a{i}") for i in range(3)])
    assert (_table_rows(path, "consentgate_visits_recent"), _table_rows(path, "consentgate_visits")) == (3, 0)
    store.add_visits([make_visit(f"cid-{i % 3}", when=early, path=f"/b{i}") for i in range(3)])  # 6 >= 5: moved
    assert (_table_rows(path, "consentgate_visits_recent"), _table_rows(path, "consentgate_visits")) == (0, 6)
    store.add_visits([make_visit("cid-1", path="/c"), make_visit("cid-2", path="/d", tenant="school")])
    assert (_table_rows(path, "consentgate_visits_recent"), _table_rows(path, "consentgate_visits")) == (2, 6)
    # Every read sees both tables, in time order.
    assert store.counts() == (0, 8)
    assert [v["path"] for v in store.visits(consent_id="cid-1")] == ["/a1", "/b1", "/c"]
    assert [v["path"] for v in store.visits(tenant="school")] == ["/d"]
    # A restarted writer counts what a crash left staged.
    store.close()
    store = open_store(str(path))
    store.add_visits([make_visit("cid-0", path="/e") for _ in range(2)])
    assert (_table_rows(path, "consentgate_visits_recent"), _table_rows(path, "consentgate_visits")) == (4, 6)
    # Forget and purge reach both tables (R-VIS-2, R-MIN-6).
    assert store.forget(consent_id="cid-1").visits == 3
    assert store.visits(consent_id="cid-1") == []
    deleted = store.purge(Retention(visits_days=1, receipts_days=400), now=NOW + timedelta(days=1, minutes=-30))
    assert deleted.visits == 4  # the ones from an hour before NOW, moved or not ("/a0", "/a2", "/b0", "/b2")
    assert sorted(v["path"] for v in store.visits(consent_id="cid-0")) == ["/e", "/e"]
    assert store.counts() == (0, 3)
    store.close()


def test_sqlite_stage_counts_look_up_the_ends_of_each_table_instead_of_reading_it(tmp_path: Path) -> None:
    """Every visit batch counts the staged and indexed rows: that must cost a few b-tree lookups,
    not a pass over a table holding months of visits (MAX(id) - MIN(id) in one SELECT scans)."""
    import sqlite3

    from consentgate.log.stores.sqlite import _STAGE_COUNTS

    path = tmp_path / "log.sqlite3"
    store = open_store(str(path))
    store.add_visits([make_visit(f"cid-{i}") for i in range(3)])
    with sqlite3.connect(path) as conn:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + _STAGE_COUNTS)]
        assert conn.execute(_STAGE_COUNTS).fetchone() == (3, 0)
    store.close()
    assert [step for step in plan if step.startswith("SEARCH")] == [
        "SEARCH consentgate_visits_recent", "SEARCH consentgate_visits_recent",
        "SEARCH consentgate_visits", "SEARCH consentgate_visits",
    ]  # fmt: skip
    assert not [step for step in plan if step.startswith("SCAN consentgate")]




def test_sqlite_file_is_created_owner_only_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    store = open_store(str(path))
    store.add_visits([make_visit()])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    import sqlite3

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute("BEGIN")
        conn.execute("SELECT COUNT(*) FROM consentgate_all_visits").fetchone()
        wal = Path(str(path) + "-wal")
        assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("target", "expected"),
    [("log.sqlite3", "log.sqlite3"), ("sqlite:///rel.sqlite3", "rel.sqlite3")],
)
def test_open_store_picks_sqlite_for_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store(target)
    assert isinstance(store, SQLiteStore)
    assert store.path == Path(expected)
    absolute = open_store(f"sqlite:///{tmp_path}/abs.sqlite3")
    assert isinstance(absolute, SQLiteStore) and absolute.path == tmp_path / "abs.sqlite3"


@pytest.mark.parametrize("bad", ["", "mysql://x/y", "http://example.org/db"])
def test_open_store_rejects_other_urls(bad: str) -> None:
    with pytest.raises(StoreError):
        open_store(bad)


def test_open_store_without_create_does_not_make_a_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no privacy log at"):
        open_store(str(tmp_path / "missing.sqlite3"), create=False)
    assert not (tmp_path / "missing.sqlite3").exists()
    with pytest.raises(StoreError, match="does not exist"):
        open_store(str(tmp_path / "no-dir" / "x.sqlite3"))


def test_sqlite_locked_by_another_writer_is_an_outage(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "log.sqlite3"
    store = SQLiteStore(path, busy_timeout=0.1)
    store.migrate()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable, match="locked"):
            store.add_receipts([make_receipt()])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.add_receipts([make_receipt()]) == 1


def test_sqlite_garbage_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "not-a-db.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a database"):
        SQLiteStore(path).counts()


# -- PostgreSQL specifics ---------------------------------------------------------------------


def test_unreachable_postgres_is_an_outage_not_a_crash() -> None:
    from support.postgres import free_port

    store = open_store(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1"):
        store.add_receipts([make_receipt()])
    assert "***" not in store.description


def test_postgres_password_is_hidden_in_messages() -> None:
    store = open_store("postgresql://app:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in store.description and "s3cret" not in repr(store)


@pytest.mark.postgres
def test_postgres_reconnects_after_a_restart(postgres_server: Any, postgres_url: str) -> None:
    store = open_store(postgres_url)
    store.add_receipts([make_receipt("before")])
    postgres_server.stop()
    try:
        with pytest.raises(StoreUnavailable):
            store.add_receipts([make_receipt("during")])
    finally:
        postgres_server.start()
    store.add_receipts([make_receipt("after")])
    assert store.counts() == (2, 0)
    store.close()


@pytest.mark.postgres
def test_postgres_read_after_a_restart_opens_a_new_connection(postgres_server: Any, postgres_url: str) -> None:
    # The read connection is kept between reads; the server's restart closes it. A read is safe to
    # repeat, so the first one afterwards is answered on a new connection rather than reported as an
    # outage. (A write is not repeated: its caller spools or retries it.)
    store = open_store(postgres_url)
    store.add_receipts([make_receipt("before")])
    assert store.counts() == (1, 0)
    postgres_server.stop()
    postgres_server.start()
    assert store.counts() == (1, 0)
    store.close()
