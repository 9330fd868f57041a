"""The receipt spool: where receipts wait, on local disk, while the store cannot take them.

When the database is unreachable or unwritable, the privacy log appends the receipt to this file
and ``fsync``s it *before* the consent endpoint answers, so an acknowledged receipt survives a
crash (``kill -9``) or power cut. When the store is back, :meth:`Spool.replay` copies the spooled
receipts into it; the receipt id is the store's primary key, so replaying twice (say, after a
crash between the copy and the clean-up) stores nothing twice.

Format: one JSON object per line (:meth:`Receipt.as_dict`), file mode 0600. A line cut short by a
crash while it was written was never acknowledged; it is skipped. Writers in several threads or
processes coordinate through ``flock`` on a companion ``.lock`` file.

A companion ``.counts`` file keeps the visit log's operational counts (visits dropped or lost) when
the store could not take them at shutdown; the next start adds them to the store.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from consentgate.log.receipts import Receipt
from consentgate.log.stores.base import Store

__all__ = ["Spool"]

logger = logging.getLogger("consentgate")

_REPLAY_CHUNK = 500
BAD_LINE = "consentgate: skipped an unreadable line %d in the receipt spool %s"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """An append-only, fsync'd file of receipts at ``path`` (its directory must exist)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.counts_path = self.path.with_name(self.path.name + ".counts")
        self._thread_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Spool({str(self.path)!r})"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            fd = os.open(self.lock_path, os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # also releases the flock

    # -- writing -----------------------------------------------------------------------------

    def append(self, receipts: Sequence[Receipt]) -> None:
        """Append and fsync; when this returns, the receipts survive a crash."""
        if not receipts:
            return
        data = "".join(json.dumps(r.as_dict(), separators=(",", ":")) + "\n" for r in receipts).encode()
        with self._locked():
            created = not self.path.exists()
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR | os.O_APPEND, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data  # a crash cut the last line short: never glue onto it
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_dir(self.path.parent)

    def keep_counts(self, counts: Mapping[str, int], day: str) -> None:
        """Add operational counts (per day) to the ``.counts`` file, for :meth:`take_counts`."""
        with self._locked():
            kept = self._read_counts()
            for name, value in counts.items():
                kept.setdefault(day, {})[name] = kept.get(day, {}).get(name, 0) + int(value)
            tmp = self.counts_path.with_name(self.counts_path.name + ".tmp")
            fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as file:
                json.dump(kept, file)
            os.replace(tmp, self.counts_path)

    def take_counts(self) -> dict[str, dict[str, int]]:
        """The counts kept by :meth:`keep_counts` (``{day: {name: n}}``), removed from the file."""
        with self._locked():
            kept = self._read_counts()
            with contextlib.suppress(FileNotFoundError):
                self.counts_path.unlink()
            return kept

    def _read_counts(self) -> dict[str, dict[str, int]]:
        try:
            data = json.loads(self.counts_path.read_text())
        except FileNotFoundError:
            return {}
        except ValueError:
            logger.warning(BAD_LINE, 1, self.counts_path)
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(day): {str(k): int(v) for k, v in names.items()} for day, names in data.items()
                if isinstance(names, dict)}  # fmt: skip

    # -- reading -----------------------------------------------------------------------------

    def _read_bytes(self) -> bytes:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return b""

    @staticmethod
    def _parse(data: bytes, source: Path) -> list[Receipt]:
        receipts: list[Receipt] = []
        lines = data.split(b"\n")
        complete = lines[:-1]  # what follows the last newline was never acknowledged
        for number, line in enumerate(complete, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if not isinstance(item, dict):  # valid JSON, but not a receipt (say a bare number)
                    raise TypeError(type(item).__name__)
                receipts.append(Receipt.from_dict(item))
            except (ValueError, KeyError, TypeError):
                logger.warning(BAD_LINE, number, source)
        return receipts

    def pending(self) -> list[Receipt]:
        """The receipts waiting in the spool."""
        with self._locked():
            return self._parse(self._read_bytes(), self.path)

    def has_pending(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    # -- replay and removal ------------------------------------------------------------------

    def replay(self, store: Store) -> int:
        """Copy the spooled receipts into ``store`` and empty the spool; returns how many were
        new to the store. If the store fails, the spool is left as it was and the error raised.

        The store is written outside the file lock (it may be slow); receipts appended meanwhile
        stay in the spool for the next replay.
        """
        with self._locked():
            data = self._read_bytes()
        if not data:
            return 0
        consumed = data.rfind(b"\n") + 1
        receipts = self._parse(data[:consumed], self.path)
        added = 0
        for start in range(0, len(receipts), _REPLAY_CHUNK):
            added += store.add_receipts(receipts[start : start + _REPLAY_CHUNK])
        with self._locked():
            current = self._read_bytes()
            if current[:consumed] == data[:consumed]:
                self._rewrite(current[consumed:])
        return added

    def remove(self, *, consent_id: str | None = None, tenant: str | None = None) -> int:
        """Drop spooled receipts of one consent id or tenant (a "forget" must reach them too)."""
        if (consent_id is None) == (tenant is None):
            raise ValueError("give exactly one of consent_id or tenant")
        with self._locked():
            data = self._read_bytes()
            if not data:
                return 0
            kept: list[bytes] = []
            removed = 0
            for line in data.split(b"\n")[:-1]:
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(item, dict):
                    continue
                if (consent_id is not None and item.get("consent_id") == consent_id) or (
                    tenant is not None and item.get("tenant") == tenant
                ):
                    removed += 1
                    continue
                kept.append(line + b"\n")
            if removed:
                self._rewrite(b"".join(kept))
            return removed

    def _rewrite(self, data: bytes) -> None:
        """Replace the spool's content atomically (caller holds the lock)."""
        if not data:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            _fsync_dir(self.path.parent)
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)
