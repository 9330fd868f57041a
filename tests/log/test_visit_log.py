"""The visit writer: bounded queue (drop and count, never block), batches, purge, flush on stop."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.records import make_visit

from consentgate.enforce.consent import Consent
from consentgate.enforce.policy import Retention, VisitRules
from consentgate.log.client_ip import TrustedProxies
from consentgate.log.minimise import Minimiser
from consentgate.log.stores.sqlite import SQLiteStore
from consentgate.log.visits import QueuedVisit, VisitLog, identity_of, queued_visit

FIREFOX = b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def queued(
    consent_id: str = "cid",
    *,
    peer: str | None = "198.51.100.77",
    path: str = "/page",
    headers: tuple[tuple[bytes, bytes], ...] = (
        (b"host", b"school.example"),
        (b"user-agent", FIREFOX),
        (b"referer", b"https://news.example/story?id=9"),
    ),
    when: float | None = None,
) -> QueuedVisit:
    moment = time.time() if when is None else when
    consent = Consent(frozenset({"essential", "analytics"}), False, consent_id, tenant="school")
    scope = {"path": path, "client": None if peer is None else (peer, 40000), "headers": list(headers)}
    return queued_visit(moment, scope, identity_of(consent), proxies=True)


def make_log(tmp_path: Path, **options: object) -> tuple[VisitLog, SQLiteStore]:
    store = SQLiteStore(tmp_path / "log.sqlite3", busy_timeout=0.05)
    log = VisitLog(store, Minimiser(VisitRules()), Retention(), **options)  # type: ignore[arg-type]
    return log, store


def test_records_are_minimised_before_they_are_written(tmp_path: Path) -> None:
    log, store = make_log(tmp_path)
    log.enqueue(queued())
    log.stop()
    (visit,) = store.visits(consent_id="cid")
    assert visit["ip_prefix"] == "198.51.100.0"  # R-MIN-2
    assert (visit["browser"], visit["browser_major"], visit["os"], visit["device"]) == (
        "Firefox",
        "128",
        "Linux",
        "desktop",
    )  # R-MIN-3
    assert visit["referrer_origin"] == "https://news.example"  # R-MIN-4
    assert visit["path"] == "/page"
    assert visit["tenant"] == "school"


def test_overflow_is_dropped_and_counted_never_waited_for(tmp_path: Path) -> None:
    log, store = make_log(tmp_path, queue_size=3)
    results = [log.enqueue(queued(f"c{i}")) for i in range(5)]  # no writer running: nothing drains
    assert results == [True, True, True, False, False]
    assert (log.queued, log.dropped) == (3, 2)
    log.stop()
    assert store.counts() == (0, 3)


def test_writer_thread_writes_in_batches_and_stop_flushes_everything(tmp_path: Path) -> None:
    log, store = make_log(tmp_path, batch_size=50, flush_interval=5.0)
    log.start()
    for i in range(1234):
        log.enqueue(queued(f"c{i % 7}"))
    log.stop()  # a clean shutdown loses nothing
    assert store.counts() == (0, 1234)
    assert (log.written, log.dropped, log.failed) == (1234, 0, 0)


def test_flush_waits_for_what_was_queued(tmp_path: Path) -> None:
    log, store = make_log(tmp_path, flush_interval=30.0)
    log.start()
    try:
        for _ in range(10):
            log.enqueue(queued())
        assert log.flush()
        assert store.counts() == (0, 10)
    finally:
        log.stop()


def test_r_min_7_forwarded_headers_only_from_trusted_proxies(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "log.sqlite3")
    log = VisitLog(
        store, Minimiser(VisitRules()), Retention(), trusted_proxies=TrustedProxies.parse(["10.0.0.0/8"])
    )
    forwarded = ((b"x-forwarded-for", b"203.0.113.9"), (b"user-agent", FIREFOX))
    log.enqueue(queued("via-proxy", peer="10.1.2.3", headers=forwarded))
    log.enqueue(queued("direct", peer="192.0.2.55", headers=forwarded))
    log.stop()
    assert store.visits(consent_id="via-proxy")[0]["ip_prefix"] == "203.0.113.0"
    assert store.visits(consent_id="direct")[0]["ip_prefix"] == "192.0.2.0"  # spoofed header ignored


def test_expired_rows_are_purged_when_the_writer_starts(tmp_path: Path) -> None:
    log, store = make_log(tmp_path)
    old = datetime.now(UTC) - timedelta(days=31)
    store.add_visits([make_visit(when=old), make_visit(when=datetime.now(UTC))])
    log.start()
    log.stop()
    assert store.counts() == (0, 1)
    assert log.purged_at is not None


def test_a_locked_store_holds_the_batch_and_retries(tmp_path: Path) -> None:
    log, store = make_log(tmp_path, flush_interval=0.02)
    store.migrate()
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    log.start()
    try:
        for _ in range(5):
            log.enqueue(queued())
        assert not log.flush(timeout=0.5)  # cannot be written while locked
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert log.flush(timeout=10)
    log.stop()
    assert store.counts() == (0, 5)
    assert log.written == 5


def test_a_visit_that_cannot_be_minimised_is_dropped_not_fatal(tmp_path: Path) -> None:
    log, store = make_log(tmp_path)
    log.enqueue(queued(headers=((b"user-agent", FIREFOX),)))
    log.enqueue((time.time(), "/", "192.0.2.1", None, None, (), "not an identity"))  # type: ignore[arg-type]
    log.enqueue(queued())
    log.stop()
    assert store.counts() == (0, 2)
    assert log.failed == 1


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        VisitLog(SQLiteStore.__new__(SQLiteStore), Minimiser(VisitRules()), Retention(), queue_size=0)


def test_a_queued_visit_holds_plain_values_only_not_the_requests_objects() -> None:
    """The queue must not keep the server's per-request header list and tuples alive (they are
    garbage-collector work until the writer runs); a tuple of plain values is untracked by it."""
    import gc

    headers = [(b"host", b"school.example"), (b"user-agent", FIREFOX), (b"x-forwarded-for", b"203.0.113.9")]
    consent = Consent(frozenset({"essential", "analytics"}), False, "cid", tenant="school")
    scope = {"path": "/page", "client": ("198.51.100.77", 40000), "headers": headers}
    item = queued_visit(1.0, scope, identity_of(consent), proxies=False)
    assert item == (1.0, "/page", "198.51.100.77", FIREFOX, None, (), ("cid", "school", False))
    assert all(part is not headers and part is not scope["client"] for part in item)
    gc.collect()  # the identity (a new tuple here; memoised per visitor in the middleware) first
    gc.collect()
    assert not gc.is_tracked(item)
    # Behind a trusted proxy the forwarding headers are kept (lower-cased names), nothing else.
    behind = queued_visit(1.0, {**scope, "headers": [*headers, (b"Forwarded", b"for=192.0.2.60")]},
                          identity_of(consent), proxies=True)
    assert behind[5] == ((b"x-forwarded-for", b"203.0.113.9"), (b"forwarded", b"for=192.0.2.60"))
    with pytest.raises(ValueError, match="consent id"):
        identity_of(Consent(frozenset({"essential"}), False, None))
