"""Crash faults (issue 7): ``kill -9`` the server in the middle of a stream of consent decisions, with the
SQLite store and with PostgreSQL; restart it; every decision that was answered 200 has its receipt.

The waits are for events (decisions answered, connections refused), never for a fixed time: the
time limits below only stop a hung test, they are not what the tests promise."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from support.live_server import ServerProcess
from support.stores import receipt_consent_ids

from consentgate.log.stores.factory import open_store

TESTS = Path(__file__).resolve().parents[1]


class DecisionStream:
    """Threads posting decisions from fresh visitors; remembers the consent ids answered 200."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.acked: set[str] = set()
        self.errors = 0
        self.failures: list[int] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, index: int) -> None:
        actions = [{"action": "accept_all"}, {"action": "deny_all"}, {"categories": ["analytics"]}]
        n = 0
        while not self._stop.is_set():
            n += 1
            try:
                response = httpx.post(
                    f"{self.url}/_consent", json=actions[(n + index) % 3], headers={"origin": self.url}, timeout=5
                )
            except httpx.HTTPError:
                with self._lock:
                    self.errors += 1
                time.sleep(0.01)
                continue
            with self._lock:
                if response.status_code == 200:
                    self.acked.add(response.json()["consent"]["consent_id"])
                else:
                    self.failures.append(response.status_code)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def alive(self) -> bool:
        return all(thread.is_alive() for thread in self._threads)

    def wait_for(self, acked: int, hung_after: float = 120) -> None:
        """Until ``acked`` decisions were answered 200 (``hung_after`` seconds only stop a hung test)."""
        deadline = time.monotonic() + hung_after
        while len(self.acked) < acked:
            assert self.alive() and time.monotonic() < deadline, f"only {len(self.acked)} decisions acknowledged"
            time.sleep(0.02)

    def wait_for_errors(self, errors: int, hung_after: float = 120) -> None:
        """Until the stream saw ``errors`` failed connections (the server is gone)."""
        deadline = time.monotonic() + hung_after
        while self.errors < errors:
            assert self.alive() and time.monotonic() < deadline, "no request failed"
            time.sleep(0.01)


@pytest.mark.slow
def test_kill_9_during_decisions_loses_no_acknowledged_receipt(store_target: str, tmp_path: Path) -> None:
    env = {"CONSENTGATE_FAULT_STORE": store_target, "CONSENTGATE_FAULT_SPOOL": str(tmp_path / "spool.jsonl")}
    server = ServerProcess("support.fault_app:create", factory=True, env=env, cwd=TESTS)
    server.output_dir = tmp_path
    server.start()
    stream = DecisionStream(server.url)
    stream.start()
    try:
        stream.wait_for(150)
        server.kill()  # SIGKILL mid-stream: no shutdown, nothing flushed
        stream.wait_for_errors(1)  # the stream has met the dead server (no fixed sleep)
        acked_at_crash = len(stream.acked)
        server.start()  # same store and spool: the spool (if any) is replayed at start-up
        stream.wait_for(acked_at_crash + 50)
    finally:
        stream.stop()
        server.stop()
    assert stream.failures == [], stream.failures  # never a 5xx, only dropped connections during the crash
    missing = stream.acked - receipt_consent_ids(store_target)
    assert not missing, f"{len(missing)} acknowledged decisions have no receipt"
    assert stream.errors > 0  # the crash really interrupted the stream (refused connections)


@pytest.mark.slow
def test_full_disk_spools_receipts_says_so_and_loses_none(tmp_path: Path) -> None:
    """A full disk under the SQLite file (simulated per file with RLIMIT_FSIZE): decisions keep being
    answered 200 without waiting, receipts go to the spool, one clear log line says what happened;
    with space again, the spool is copied into the store and every acknowledged receipt is there."""
    store_path = tmp_path / "log.sqlite3"
    spool = tmp_path / "spool.jsonl"
    env = {"CONSENTGATE_FAULT_STORE": str(store_path), "CONSENTGATE_FAULT_SPOOL": str(spool)}
    with open_store(str(store_path)) as store:
        store.migrate()
    limit = store_path.stat().st_size + 48 * 1024  # room for a few dozen commits in the WAL, then full
    server = ServerProcess("support.fault_app:create", factory=True, env=env, cwd=TESTS, file_size_limit=limit)
    server.output_dir = tmp_path
    server.start()
    stream = DecisionStream(server.url, threads=2)
    stream.start()
    try:
        # A promise by count: each commit adds at least one 4 KiB page to the WAL, so the 48 KiB left
        # are full after a few dozen decisions; 2,000 answered without a spooled one is a failure.
        while not (spool.exists() and spool.stat().st_size > 0):
            assert len(stream.acked) < 2000 and stream.alive(), "the disk never filled up"
            assert not stream.failures, stream.failures
            time.sleep(0.05)
        stream.wait_for(len(stream.acked) + 40)  # still answering once the store is full
    finally:
        stream.stop()
        server.stop()
    log = server.log_text()
    # One line names the file, SQLite's own error ("disk I/O error" for a write past the limit,
    # "database or disk is full" on a full file system) and where receipts go meanwhile.
    (line,) = [entry for entry in log.splitlines() if "privacy log store is unavailable" in entry]
    assert str(store_path) in line
    assert "disk" in line
    assert str(spool) in line
    assert stream.failures == []
    server = ServerProcess("support.fault_app:create", factory=True, env=env, cwd=TESTS)  # space again
    server.output_dir = tmp_path
    server.start()
    server.stop()
    missing = stream.acked - receipt_consent_ids(str(store_path))
    assert not missing, f"{len(missing)} acknowledged decisions have no receipt"
