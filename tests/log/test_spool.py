"""The receipt spool: fsync'd appends that survive kill -9, idempotent replay, forget reaches it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.records import make_receipt

from consentgate.log.spool import Spool
from consentgate.log.stores.base import StoreUnavailable
from consentgate.log.stores.factory import open_store
from consentgate.log.stores.sqlite import SQLiteStore


def test_append_then_pending_round_trips(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "receipts.spool")
    receipts = [make_receipt(f"c{i}", tenant="t" if i % 2 else None) for i in range(5)]
    spool.append(receipts[:2])
    spool.append(receipts[2:])
    assert spool.pending() == receipts
    assert spool.has_pending()
    assert stat.S_IMODE(os.stat(spool.path).st_mode) == 0o600


def test_acknowledged_receipts_survive_kill_9(tmp_path: Path) -> None:
    """A process appends, prints each receipt id once append() returned, then SIGKILLs itself."""
    path = tmp_path / "receipts.spool"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path[:0] = [{str(Path(__file__).parent)!r}, {str(Path(__file__).resolve().parents[1])!r}]
        from support.records import make_receipt
        from consentgate.log.spool import Spool
        spool = Spool({str(path)!r})
        for i in range(20):
            receipt = make_receipt(f"c{{i}}")
            spool.append([receipt])
            print(receipt.receipt_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == -9
    acknowledged = result.stdout.split()
    assert len(acknowledged) == 20
    assert [r.receipt_id for r in Spool(path).pending()] == acknowledged


def test_a_line_cut_short_by_a_crash_is_skipped_and_never_glued_to(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "receipts.spool")
    first, second = make_receipt("a"), make_receipt("b")
    spool.append([first])
    with open(spool.path, "ab") as handle:
        handle.write(b'{"receipt_id": "torn", "consent')  # the crash happened mid-write
    assert spool.pending() == [first]  # the torn tail was never acknowledged
    spool.append([second])
    assert spool.pending() == [first, second]


def test_replay_copies_into_the_store_and_empties_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "receipts.spool")
    store = open_store(str(tmp_path / "log.sqlite3"))
    receipts = [make_receipt(f"c{i}") for i in range(1200)]  # more than one replay chunk
    spool.append(receipts)
    assert spool.replay(store) == 1200
    assert not spool.has_pending() and not spool.path.exists()
    assert store.counts() == (1200, 0)
    assert spool.replay(store) == 0


def test_replay_is_idempotent_after_a_crash_before_clean_up(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "receipts.spool")
    store = open_store(str(tmp_path / "log.sqlite3"))
    spool.append([make_receipt(f"c{i}") for i in range(10)])
    saved = spool.path.read_bytes()
    spool.replay(store)
    spool.path.write_bytes(saved)  # as if the process died after the copy, before emptying the file
    assert spool.replay(store) == 0
    assert store.counts() == (10, 0)


def test_replay_into_an_unavailable_store_keeps_the_spool(tmp_path: Path) -> None:
    import sqlite3

    spool = Spool(tmp_path / "receipts.spool")
    path = tmp_path / "log.sqlite3"
    store = SQLiteStore(path, busy_timeout=0.05)
    store.migrate()
    spool.append([make_receipt("a"), make_receipt("b")])
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable):
            spool.replay(store)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert len(spool.pending()) == 2
    assert spool.replay(store) == 2


def test_receipts_appended_during_a_replay_stay_for_the_next(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "receipts.spool")
    late = make_receipt("late")

    class AppendingStore(SQLiteStore):
        def add_receipts(self, receipts):  # type: ignore[no-untyped-def]
            spool.append([late])  # a decision arrives while the replay writes
            return super().add_receipts(receipts)

    store = AppendingStore(tmp_path / "log.sqlite3")
    spool.append([make_receipt("early")])
    assert spool.replay(store) == 1
    assert spool.pending() == [late]


def test_remove_by_consent_id_and_by_tenant(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "receipts.spool")
    keep = make_receipt("keep")
    spool.append([make_receipt("gone"), keep, make_receipt("x", tenant="school"), make_receipt("gone")])
    assert spool.remove(consent_id="gone") == 2
    assert spool.remove(tenant="school") == 1
    assert spool.pending() == [keep]
    assert spool.remove(consent_id="keep") == 1
    assert not spool.has_pending()
    with pytest.raises(ValueError, match="exactly one"):
        spool.remove()


def test_corrupt_line_is_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spool = Spool(tmp_path / "receipts.spool")
    good = make_receipt("good")
    spool.path.write_bytes(b"not json at all\n")
    spool.append([good])
    assert spool.pending() == [good]
    assert "unreadable line 1" in caplog.text
