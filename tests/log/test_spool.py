"""The receipt spool: fsync'd appends that survive kill -9, idempotent replay, forget reaches it."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

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


# -- fsync: what a kill -9 cannot show (a power cut loses what only the page cache held) ----------


class FsyncLog:
    """Wraps ``os.fsync``: records, in order with the other events, which file each call synced and
    how many bytes it held then."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, str, int]] = []
        real = os.fsync

        def fsync(fd: int) -> None:
            real(fd)
            self.events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"), os.fstat(fd).st_size))

        monkeypatch.setattr(os, "fsync", fsync)

    def synced(self, path: Path) -> list[int]:
        """The sizes ``path`` had at each fsync of it."""
        return [size for kind, target, size in self.events if kind == "fsync" and target == str(path)]


def test_append_fsyncs_the_whole_file_and_the_new_directory_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsyncs = FsyncLog(monkeypatch)
    spool = Spool(tmp_path / "receipts.spool")
    spool.append([make_receipt("a"), make_receipt("b")])
    size = spool.path.stat().st_size
    assert fsyncs.synced(spool.path) == [size]  # after every byte was written
    assert len(fsyncs.synced(tmp_path)) == 1  # the new file's name is durable too
    spool.append([make_receipt("c")])
    assert fsyncs.synced(spool.path) == [size, spool.path.stat().st_size]
    assert len(fsyncs.synced(tmp_path)) == 1  # an existing file needs no directory sync


def test_rewrites_fsync_the_new_content_before_it_replaces_the_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path / "receipts.spool")
    keep = make_receipt("keep")
    spool.append([make_receipt("gone"), keep])
    fsyncs = FsyncLog(monkeypatch)
    replaced: list[str] = []
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        replaced.append(str(src))
        fsyncs.events.append(("replace", str(dst), 0))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    assert spool.remove(consent_id="gone") == 1
    tmp = replaced[0]
    kinds = [(kind, target) for kind, target, _ in fsyncs.events]
    assert kinds == [("fsync", tmp), ("replace", str(spool.path)), ("fsync", str(tmp_path))]
    assert fsyncs.events[0][2] == spool.path.stat().st_size  # the tmp file was complete when synced
    assert spool.pending() == [keep]
    fsyncs.events.clear()
    spool.remove(consent_id="keep")  # the last receipt goes: the file is removed, the directory synced
    assert not spool.path.exists()
    assert fsyncs.events == [("fsync", str(tmp_path), fsyncs.events[0][2])]


def test_r_con_9_a_spooled_receipt_is_fsynced_before_the_decision_is_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store cannot take the receipt (its file is not a database), so it goes to the spool: the
    POST's answer starts only after the spool file holding that receipt was fsynced."""
    import asyncio
    import json

    from coreapp import SECRET, make_policy
    from support.asgi import call_asgi

    from consentgate import ConsentMiddleware
    from consentgate.log.privacy_log import PrivacyLog

    store = tmp_path / "log.sqlite3"
    store.write_bytes(b"not a database " * 100)
    spool_path = tmp_path / "receipts.spool"
    log = PrivacyLog(str(store), make_policy(), spool_path=spool_path)

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("the decision endpoint answers by itself")

    middleware = ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET, privacy_log=log)
    fsyncs = FsyncLog(monkeypatch)

    async def watched(scope: object, receive: object, send: Any) -> None:
        async def noting_send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                fsyncs.events.append(("answer", str(message["status"]), 0))
            await send(message)

        await middleware(scope, receive, noting_send)  # type: ignore[arg-type]

    async def post() -> list[dict[str, object]]:
        headers = [(b"content-type", b"application/json"), (b"host", b"t"), (b"origin", b"http://t")]
        body = json.dumps({"action": "accept_all"}).encode()
        _, messages = await call_asgi(watched, headers, method="POST", path="/_consent", body=body)
        return messages

    messages = asyncio.run(post())
    consent_id = json.loads(messages[1]["body"])["consent"]["consent_id"]  # type: ignore[arg-type]
    (receipt,) = Spool(spool_path).pending()
    assert receipt.consent_id == consent_id
    answer = fsyncs.events.index(("answer", "200", 0))
    full = spool_path.stat().st_size
    synced = [
        i for i, (kind, target, size) in enumerate(fsyncs.events)
        if kind == "fsync" and target == str(spool_path) and size == full
    ]
    assert synced and synced[0] < answer
    assert any(e == ("fsync", str(tmp_path), e[2]) for e in fsyncs.events[:answer])  # the new file's entry


# -- the file itself ----------------------------------------------------------------------------------


def test_the_spool_is_compact_json_lines_and_never_gets_blank_lines(tmp_path: Path) -> None:
    import json

    spool = Spool(tmp_path / "receipts.spool")
    receipts = [make_receipt("a"), make_receipt("b"), make_receipt("c")]
    spool.append(receipts[:1])
    spool.append(receipts[1:])
    lines = [json.dumps(r.as_dict(), separators=(",", ":")).encode() + b"\n" for r in receipts]
    assert spool.path.read_bytes() == b"".join(lines)
    assert repr(spool) == f"Spool({str(spool.path)!r})"


def test_short_writes_are_continued_until_everything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path / "receipts.spool")
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:7])))  # at most 7 bytes a call
    receipts = [make_receipt(f"c{i}") for i in range(3)]
    spool.append(receipts)
    spool.remove(consent_id="c1")  # a rewrite goes through the same loop
    assert spool.pending() == [receipts[0], receipts[2]]


def test_blank_and_unreadable_lines_do_not_stop_reading_or_removing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import json

    spool = Spool(tmp_path / "receipts.spool")
    first, target, last = make_receipt("a"), make_receipt("gone"), make_receipt("z")
    line = [json.dumps(r.as_dict()).encode() for r in (first, target, last)]
    spool.path.write_bytes(line[0] + b"\n\n" + b"not json\n" + b"[1, 2]\n" + line[1] + b"\n" + line[2] + b"\n")
    assert spool.pending() == [first, target, last]
    assert f"unreadable line 3 in the receipt spool {spool.path}" in caplog.text
    assert f"unreadable line 4 in the receipt spool {spool.path}" in caplog.text
    assert spool.remove(consent_id="gone") == 1
    assert spool.pending() == [first, last]  # the unreadable lines go with the rewrite
    caplog.clear()
    spool.path.write_bytes(b"garbage\n" + line[0] + b"\n")
    store = open_store(str(tmp_path / "log.sqlite3"))
    assert spool.replay(store) == 1
    assert f"unreadable line 1 in the receipt spool {spool.path}" in caplog.text


def test_a_spool_never_written_has_nothing_and_replay_or_remove_leave_no_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "receipts.spool")
    store = open_store(str(tmp_path / "log.sqlite3"))
    assert spool.pending() == [] and not spool.has_pending()
    assert spool.replay(store) == 0
    assert spool.remove(consent_id="x") == 0
    assert spool.remove(tenant="t") == 0
    assert not spool.path.exists()
    spool.path.write_bytes(b"")
    assert not spool.has_pending() and spool.remove(consent_id="x") == 0
    spool.path.write_bytes(b"\n")  # one byte is something to look at
    assert spool.has_pending() and spool.pending() == []
    with pytest.raises(ValueError, match=r"^give exactly one of consent_id or tenant$"):
        spool.remove(consent_id="x", tenant="t")


def test_a_rewritten_spool_stays_private(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "receipts.spool")
    spool.append([make_receipt("a"), make_receipt("b")])
    spool.remove(consent_id="a")
    assert stat.S_IMODE(os.stat(spool.path).st_mode) == 0o600


def test_counts_are_kept_per_day_added_up_and_taken_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The visit log's operational counts the store could not take at shutdown: added per day and
    per name across calls, in a private file replaced whole (no temporary file left), and handed
    over once by take_counts."""
    spool = Spool(tmp_path / "receipts.spool")
    assert spool.counts_path == tmp_path / "receipts.spool.counts"
    assert spool.take_counts() == {}
    spool.keep_counts({"visits_dropped": 2, "visits_lost": True}, "2026-12-01")
    spool.keep_counts({"visits_dropped": 3}, "2026-12-01")
    spool.keep_counts({"visits_dropped": 1}, "2026-12-02")
    assert json.loads(spool.counts_path.read_text()) == {
        "2026-12-01": {"visits_dropped": 5, "visits_lost": 1},
        "2026-12-02": {"visits_dropped": 1},
    }
    assert stat.S_IMODE(os.stat(spool.counts_path).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["receipts.spool.counts", "receipts.spool.lock"]
    assert not spool.path.exists()  # the receipts themselves are untouched
    assert spool.take_counts() == {"2026-12-01": {"visits_dropped": 5, "visits_lost": 1}, "2026-12-02": {"visits_dropped": 1}}
    assert not spool.counts_path.exists() and spool.take_counts() == {}
    spool.counts_path.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        assert spool.take_counts() == {}
    assert caplog.messages == [f"consentgate: skipped an unreadable line 1 in the receipt spool {spool.counts_path}"]
    spool.counts_path.write_text('["a"]')
    assert spool.take_counts() == {}
    spool.counts_path.write_text('{"2026-12-03": {"visits_lost": "4"}, "2026-12-04": 7}')
    spool.keep_counts({"visits_lost": 1}, "2026-12-03")
    assert spool.take_counts() == {"2026-12-03": {"visits_lost": 5}}
