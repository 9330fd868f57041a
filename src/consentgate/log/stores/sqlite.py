"""The embedded store: one SQLite file, readable by its owner only, in WAL mode.

Every operation opens its own short-lived connection. That costs a fraction of a millisecond
(receipts come in batches, see :mod:`consentgate.log.group_commit`), and buys robustness: a file
that becomes read-only, is moved or is locked by another process is noticed at the next operation
instead of being hidden behind a connection opened long ago, and threads never share a connection.
The exceptions are writes nothing depends on being durable: the visit writer's batches keep a
connection (and so its page cache; a cold cache made every index insert read its pages back from
the file), and so do the shared rate limit's buckets; each is dropped and reopened after any error.
One more connection is kept open and never used (see ``_keep_wal``).

Several processes (workers) may write to one file. A write waits for another writer's lock in its
own loop of short pauses (0.5 to 4 ms) for up to ``busy_timeout`` seconds, instead of SQLite's
busy handler: that one sleeps longer and longer (up to 100 ms a try), so a writer that has waited a
while keeps losing the lock to newcomers. Measured with 4 workers and 64 clients posting decisions
(``benchmarks/scale.py``): decisions waited up to 2.2 s and receipts spooled with the handler.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from consentgate.log.minimise import VisitRecord
from consentgate.log.stores.base import Store, StoreError, StoreUnavailable
from consentgate.log.stores.schema import MIGRATIONS, SCHEMA_VERSION, VISIT_COLUMNS, visit_row

__all__ = ["SQLiteStore"]

T = TypeVar("T")
_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (primary result codes)
_PAUSE_FIRST, _PAUSE_LONGEST = 0.0005, 0.004  # seconds between two tries for the write lock

_ID_COLUMN = "INTEGER PRIMARY KEY AUTOINCREMENT"
_VISITS_PER_STATEMENT = 200  # x 13 columns: far below SQLite's limit on bound variables
# Only our own constant column names are formatted in; every value is a bound parameter.
_INSERT_VISITS_PREFIX = f"INSERT INTO consentgate_visits_recent ({', '.join(VISIT_COLUMNS)}) VALUES "  # noqa: S608
_VISIT_VALUES = "(" + ", ".join("?" for _ in VISIT_COLUMNS) + ")"
# New visits are appended to the unindexed staging table and moved, sorted by consent id, into
# the indexed one in bulk. Inserting each visit into the consent-id index as it came dirtied one
# random index page per visit, written out at every commit: about 80 % of the writer's time once
# the table held a few hundred thousand rows. A move dirties each index page at most once, so it
# pays off when it moves many more rows than the index has pages (about 1 per 100 rows): the
# stage grows with the table, a tenth of it, from VISIT_STAGE_MIN to VISIT_STAGE_MAX rows. Both
# sizes are read from the file inside the writing transaction (from the tables' rowid ranges, a
# b-tree lookup each), so with several writer processes the one that finds the stage full moves it,
# once, whoever wrote the rows
# (measured, 20,000 visitors: 7 us of CPU per visit from 300,000 to 1.2 million stored, against
# 17-28 us inserting each into the index; a fiftieth instead of a tenth rose to 13 us). Reads see
# both tables (the consentgate_all_visits view); an unindexed scan of the largest stage takes
# tens of milliseconds.
VISIT_STAGE_MIN = 20_000
VISIT_STAGE_MAX = 200_000
_STAGE_SHARE = 10  # stage up to 1/10 of the indexed visits
_MOVE_STAGED = (
    f"INSERT INTO consentgate_visits ({', '.join(VISIT_COLUMNS)}) "  # noqa: S608
    f"SELECT {', '.join(VISIT_COLUMNS)} FROM consentgate_visits_recent ORDER BY consent_id, visit_id",
    "DELETE FROM consentgate_visits_recent",
)
# Rows in a table, from its rowid range: ids only grow (AUTOINCREMENT), a move empties the stage, and
# the few rows a forget or purge takes out of the middle only make it a slight overcount. Each MIN
# and MAX in a subquery of its own: SQLite looks up a lone MIN or MAX of the rowid in the b-tree,
# but MAX(visit_id) - MIN(visit_id) in one SELECT scans the whole table (measured: 50 us of CPU per
# visit at 300,000 stored visits in batches of 500, against 8 us with an empty table).
_STAGE_COUNTS = (
    "SELECT COALESCE((SELECT MAX(visit_id) FROM consentgate_visits_recent)"
    " - (SELECT MIN(visit_id) FROM consentgate_visits_recent) + 1, 0),"
    " COALESCE((SELECT MAX(visit_id) FROM consentgate_visits)"
    " - (SELECT MIN(visit_id) FROM consentgate_visits) + 1, 0)"
)

class SQLiteStore(Store):
    """A privacy log in the SQLite file ``path`` (created with mode 0600 when missing).

    Args:
        path: the database file.
        create: create the file when it does not exist (the CLI passes False, so a mistyped
            path is an error rather than a new empty log).
        busy_timeout: seconds a write waits for another writer's lock before giving up (the
            privacy log then spools receipts).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = True, busy_timeout: float = 2.0
    ) -> None:
        self.path = Path(path)
        self.description = f"SQLite file {self.path}"
        self.busy_timeout = busy_timeout
        self._migrated = False
        self._lock = threading.Lock()
        self._kept: dict[str, sqlite3.Connection] = {}  # see _on_kept
        self._kept_locks = {"visits": threading.Lock(), "buckets": threading.Lock()}
        self._keeper: sqlite3.Connection | None = None
        if not self.path.exists():
            if not create:
                raise StoreError(f"no privacy log at {self.path} (the SQLite file does not exist)")
            if not self.path.parent.is_dir():
                raise StoreError(
                    f"cannot create {self.path}: the directory {self.path.parent} does not exist"
                )
            try:
                # Owner-only from the first byte; SQLite gives its -wal/-shm files the same mode.
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                pass
            except OSError as exc:
                raise StoreError(f"cannot create {self.path}: {exc.strerror}") from exc
            else:
                os.close(fd)
        elif self.path.is_dir():
            raise StoreError(f"{self.path} is a directory, not a SQLite file")

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    def _connect(self, *, writing: bool = False) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA synchronous = FULL")  # a committed receipt survives a power cut
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"{self.description}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.description}: {exc}") from exc
        try:
            if not self._migrated:
                self._migrate(conn)
            if writing:
                conn.execute("PRAGMA busy_timeout = 0")  # _transaction waits for the lock itself
                if self._keeper is None:
                    self._keep_wal()
        except sqlite3.Error as exc:
            conn.close()
            raise StoreUnavailable(f"{self.description}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _keep_wal(self) -> None:
        """Hold one idle connection open. When the last connection to a WAL database closes,
        SQLite copies the log into the file and deletes it, so a write on a new connection paid
        for two more flushes and a new log file: measured 21 ms a receipt batch alone on the file,
        4.4 ms with this connection open (benchmarks/scale.py, decisions only, no visit writer)."""
        with self._lock:
            if self._keeper is None:
                self._keeper = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                self._keeper.execute("SELECT COUNT(*) FROM consentgate_schema").fetchall()

    def migrate(self) -> int:
        conn = self._connect_raw()
        try:
            return self._migrate(conn)
        finally:
            conn.close()

    def _connect_raw(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.description}: {exc}") from exc

    def _migrate(self, conn: sqlite3.Connection) -> int:
        with self._lock:
            try:
                found = _version(conn)
                if found > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.description} has schema version {found}, newer than this consentgate "
                        f"({SCHEMA_VERSION}); upgrade consentgate"
                    )
                if found < SCHEMA_VERSION:
                    conn.execute("PRAGMA journal_mode = WAL")
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        found = _version(conn)  # another process may have migrated meanwhile
                        for version, statements in MIGRATIONS:
                            if version <= found:
                                continue
                            for statement in statements:
                                conn.execute(statement.format(id=_ID_COLUMN))
                            conn.execute("DELETE FROM consentgate_schema")
                            conn.execute("INSERT INTO consentgate_schema (version) VALUES (?)", (version,))
                        conn.execute("COMMIT")
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"{self.description}: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.description}: {exc}") from exc
            self._migrated = True
            return found

    def add_visits(self, visits: Sequence[VisitRecord]) -> int:
        """One multi-row INSERT per 200 records instead of one statement step per record: each
        step releases and retakes the GIL, and with the app's event loop waiting for it every
        release becomes a thread switch (measured: thousands per second under load)."""
        if not visits:
            return 0
        rows = [visit_row(v) for v in visits]
        statements = []
        for start in range(0, len(rows), _VISITS_PER_STATEMENT):
            chunk = rows[start : start + _VISITS_PER_STATEMENT]
            sql = _INSERT_VISITS_PREFIX + ", ".join([_VISIT_VALUES] * len(chunk))
            statements.append((sql, tuple(value for row in chunk for value in row)))

        def stage(conn: sqlite3.Connection) -> int:
            added = sum(max(conn.execute(sql, params).rowcount, 0) for sql, params in statements)
            staged, indexed = conn.execute(_STAGE_COUNTS).fetchone()
            if staged >= min(max(VISIT_STAGE_MIN, indexed // _STAGE_SHARE), VISIT_STAGE_MAX):
                for sql in _MOVE_STAGED:
                    conn.execute(sql)
            return added

        # Visit batches keep one connection (the writer's): a new connection starts with an empty
        # page cache, and every index insert then reads its pages back from the file (measured:
        # most of the writer's time under load).
        return self._on_kept("visits", stage)

    def _on_kept(self, name: str, body: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``body`` in a write transaction on the connection kept for ``name`` (``visits``,
        ``buckets``), which commits without waiting for the disk (WAL with synchronous NORMAL: a
        crash of the app loses nothing, a power cut the last commits). It is dropped on any error,
        so a file that became unwritable is still noticed at the next call."""
        with self._kept_locks[name]:
            conn = self._kept.get(name)
            if conn is None:
                conn = self._connect(writing=True)
                try:
                    conn.execute("PRAGMA synchronous = NORMAL")
                except sqlite3.Error as exc:
                    conn.close()
                    raise StoreUnavailable(f"{self.description}: {exc}") from exc
                self._kept[name] = conn
            try:
                return self._transaction(conn, body)
            except StoreError:
                del self._kept[name]
                conn.close()
                raise

    def _write(
        self,
        statements: Sequence[tuple[str, Sequence[Sequence[Any]]]],
        *,
        durable: bool = True,
        background: bool = False,
        kept: bool = False,
    ) -> list[int]:
        def run(conn: sqlite3.Connection) -> list[int]:
            counts = []
            for sql, rows in statements:
                counts.append(max(conn.executemany(sql, rows).rowcount, 0) if rows else 0)
            return counts

        if kept:
            return self._on_kept("buckets", run)
        conn = self._connect(writing=True)
        try:
            if not durable:
                # WAL with NORMAL: no fsync per commit; a crash of the app loses nothing.
                conn.execute("PRAGMA synchronous = NORMAL")
            return self._transaction(conn, run)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.description}: {exc}") from exc
        finally:
            conn.close()

    def _transaction(self, conn: sqlite3.Connection, body: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``body`` in one write transaction. While another connection holds the write lock,
        try again after a short pause (rolled back first: nothing half done), for up to
        ``busy_timeout`` seconds; then the store counts as unavailable."""
        deadline = time.monotonic() + self.busy_timeout
        pause = _PAUSE_FIRST
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = body(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return result
            except sqlite3.OperationalError as exc:
                busy = (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _BUSY_CODES
                if not busy or time.monotonic() >= deadline:
                    raise StoreUnavailable(f"{self.description}: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.description}: {exc}") from exc
            # Jittered, so writers that lost to the same commit do not all come back at once.
            time.sleep(pause * (0.5 + random.random()))  # noqa: S311 - not a secret
            pause = min(pause * 2, _PAUSE_LONGEST)

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = self._connect()
        try:
            return self._query(conn, sql, params)
        finally:
            conn.close()

    def _query(self, conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One query on ``conn``, its rows; driver errors mapped as everywhere in this store."""
        try:
            return [tuple(row) for row in conn.execute(sql, tuple(params)).fetchall()]
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"{self.description}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.description}: {exc}") from exc

    def close(self) -> None:
        """Close the kept connections (every other operation opens its own)."""
        held: list[sqlite3.Connection] = []
        for name, lock in self._kept_locks.items():
            with lock:
                conn = self._kept.pop(name, None)
                if conn is not None:
                    held.append(conn)
        with self._lock:
            if self._keeper is not None:
                held.append(self._keeper)
                self._keeper = None
        for conn in held:
            conn.close()


def _version(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS consentgate_schema (version INTEGER NOT NULL)")
    row = conn.execute("SELECT MAX(version) FROM consentgate_schema").fetchone()
    return int(row[0]) if row and row[0] is not None else 0
