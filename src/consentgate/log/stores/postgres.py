"""The shared store: PostgreSQL through psycopg 3 (``pip install 'consentgate[postgres]'``).

Several app instances may write to one database; migrations take an advisory lock so that only
one of them upgrades the schema while the others wait for it. Each process keeps up to four
connections, each used under its own lock and opened on first use:

* ``writes``: what a request waits for (receipts, forget), and ``buckets``, the same for the shared
  decision rate limit (so a batch of takes never waits behind a batch of receipts). Every
  transaction waits at most ``write_timeout`` for a lock (``lock_timeout``; 2 s by default, as
  SQLite's busy timeout) and runs at most twice that (``statement_timeout``), so a table locked by
  a migration or a database that has slowed down sends receipts to the spool instead of holding
  decisions without limit;
* ``background``: the visit writer's batches and retention purges, unbounded (nobody waits for
  them) and kept off the connection decisions use — a batch of visits in flight held decisions
  back by up to 2.5 s when both shared one (``benchmarks/scale.py``, mixed phase);
* ``reads``: my-data, exports, the dashboard and the CLI.

A broken connection is dropped and the next operation reconnects, so an outage ends by itself
when the server is back.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from consentgate.log.stores.base import Store, StoreError, StoreUnavailable
from consentgate.log.stores.schema import MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore"]

INSTALL_HINT = "the PostgreSQL store needs psycopg 3: pip install 'consentgate[postgres]'"
_ID_COLUMN = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
_MIGRATION_LOCK = 0x636F6E73656E74  # advisory lock key: "consent"
_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")
_BOUND = "SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)"

Purpose = Literal["writes", "buckets", "background", "reads"]


def _psycopg() -> Any:
    try:
        import psycopg
    except ModuleNotFoundError as exc:
        if exc.name not in ("psycopg", "psycopg_binary", "psycopg_c"):
            raise
        raise StoreError(INSTALL_HINT) from exc
    return psycopg


def _placeholders(sql: str) -> str:
    return sql.replace("?", "%s")


class PostgresStore(Store):
    """A privacy log in the PostgreSQL database ``url`` (``postgresql://user@host:port/db``).

    Args:
        url: a libpq connection URL.
        connect_timeout: seconds before an unreachable server counts as down.
        write_timeout: seconds a write a request waits for (a receipt, a forget) may wait for a
            lock (and, twice that, run) before the store counts as unavailable.
    """

    def __init__(self, url: str, *, connect_timeout: int = 3, write_timeout: float = 2.0) -> None:
        self.psycopg = _psycopg()
        self.url = url
        self.description = "PostgreSQL " + _PASSWORD.sub(r"\1***@", url)
        self.connect_timeout = connect_timeout
        self.write_timeout = write_timeout
        self._bounds = (f"{round(write_timeout * 1000)}ms", f"{round(write_timeout * 2000)}ms")
        self._conns: dict[Purpose, psycopg.Connection[Any]] = {}
        self._locks: dict[Purpose, threading.Lock] = {
            "writes": threading.Lock(),
            "buckets": threading.Lock(),
            "background": threading.Lock(),
            "reads": threading.Lock(),
        }
        self._migrate_lock = threading.Lock()
        self._migrated = False

    def __repr__(self) -> str:
        return f"PostgresStore({self.description!r})"

    def _connection(self, purpose: Purpose, *, migrate: bool = True) -> psycopg.Connection[Any]:
        """The connection for ``purpose`` (its lock held by the caller)."""
        current = self._conns.get(purpose)
        if current is not None and not current.closed and not current.broken:
            return current
        self._drop(purpose)
        conn: psycopg.Connection[Any]
        try:
            conn = self.psycopg.connect(self.url, connect_timeout=self.connect_timeout, autocommit=False)
        except self.psycopg.OperationalError as exc:
            raise StoreUnavailable(f"{self.description}: {_first_line(exc)}") from exc
        self._conns[purpose] = conn
        if migrate and not self._migrated:
            try:
                self._migrate(conn, purpose)
            except BaseException:
                self._drop(purpose)
                raise
        return conn

    def _drop(self, purpose: Purpose) -> None:
        conn = self._conns.pop(purpose, None)
        if conn is not None:
            # A broken connection may fail to close; it is gone anyway.
            with contextlib.suppress(Exception):
                conn.close()

    def _fail(self, exc: Exception, purpose: Purpose) -> StoreError:
        """Map a driver error: connection trouble, a lock or statement timeout are an outage (retry
        later; the connection is kept when it still works), the rest is not."""
        psycopg = self.psycopg
        conn = self._conns.get(purpose)
        broken = conn is None or conn.broken or conn.closed
        message = f"{self.description}: {_first_line(exc)}"
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            message += f" (gave up after {self.write_timeout:g} s)"
        elif isinstance(exc, psycopg.errors.QueryCanceled):
            message += f" (gave up after {2 * self.write_timeout:g} s)"
        if broken:
            self._drop(purpose)
        elif conn is not None and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            try:
                conn.rollback()
            except psycopg.Error:
                self._drop(purpose)
        if broken or isinstance(exc, psycopg.OperationalError):
            return StoreUnavailable(message)
        return StoreError(message)

    def migrate(self) -> int:
        with self._locks["writes"]:
            conn = self._connection("writes", migrate=False)
            try:
                return self._migrate(conn, "writes")
            except StoreError:
                self._drop("writes")
                raise

    def _migrate(self, conn: psycopg.Connection[Any], purpose: Purpose) -> int:
        psycopg = self.psycopg
        with self._migrate_lock:
            try:
                with conn.transaction():
                    # Instances starting together queue here; the first one migrates, the others
                    # then find the schema current. No timeout: a migration may take its time.
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                    conn.execute("CREATE TABLE IF NOT EXISTS consentgate_schema (version INTEGER NOT NULL)")
                    row = conn.execute("SELECT MAX(version) FROM consentgate_schema").fetchone()
                    found = int(row[0]) if row and row[0] is not None else 0
                    if found > SCHEMA_VERSION:
                        raise StoreError(
                            f"{self.description} has schema version {found}, newer than this consentgate "
                            f"({SCHEMA_VERSION}); upgrade consentgate"
                        )
                    for version, statements in MIGRATIONS:
                        if version <= found:
                            continue
                        for statement in statements:
                            conn.execute(statement.format(id=_ID_COLUMN))
                        conn.execute("DELETE FROM consentgate_schema")
                        conn.execute("INSERT INTO consentgate_schema (version) VALUES (%s)", (version,))
            except psycopg.Error as exc:
                raise self._fail(exc, purpose) from exc
            self._migrated = True
            return found

    def _write(
        self,
        statements: Sequence[tuple[str, Sequence[Sequence[Any]]]],
        *,
        durable: bool = True,
        background: bool = False,
        kept: bool = False,
    ) -> list[int]:
        psycopg = self.psycopg
        purpose: Purpose = "background" if background else "buckets" if kept else "writes"
        with self._locks[purpose]:
            conn = self._connection(purpose)
            try:
                counts: list[int] = []
                with conn.transaction(), conn.cursor() as cursor:
                    if not background:
                        cursor.execute(_BOUND, self._bounds)
                    if not durable:
                        cursor.execute("SET LOCAL synchronous_commit = off")
                    for sql, rows in statements:
                        if not rows:
                            counts.append(0)
                            continue
                        if len(rows) == 1:
                            cursor.execute(_placeholders(sql), tuple(rows[0]))
                        else:
                            cursor.executemany(_placeholders(sql), [tuple(r) for r in rows])
                        counts.append(max(cursor.rowcount, 0))
                return counts
            except psycopg.Error as exc:
                raise self._fail(exc, purpose) from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        psycopg = self.psycopg
        with self._locks["reads"]:
            while True:
                before = self._conns.get("reads")
                conn = self._connection("reads")
                kept = conn is before
                try:
                    with conn.transaction():
                        rows = conn.execute(_placeholders(sql), tuple(params)).fetchall()
                    return [tuple(row) for row in rows]
                except psycopg.Error as exc:
                    if kept and conn.broken:
                        # A kept connection the server closed meanwhile (a restart): a read is
                        # safe to repeat, once, on a new connection.
                        self._drop("reads")
                        continue
                    raise self._fail(exc, "reads") from exc

    def close(self) -> None:
        for purpose, lock in self._locks.items():
            with lock:
                self._drop(purpose)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
