"""The shared store: PostgreSQL through psycopg 3 (``pip install 'consentgate[postgres]'``).

Several app instances may write to one database; migrations take an advisory lock so that only
one of them upgrades the schema. One connection is kept and used under a lock (operations are
short and batched); a broken connection is dropped and the next operation reconnects, so an
outage ends by itself when the server is back.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from consentgate.log.stores.base import Store, StoreError, StoreUnavailable
from consentgate.log.stores.schema import MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore"]

INSTALL_HINT = "the PostgreSQL store needs psycopg 3: pip install 'consentgate[postgres]'"
_ID_COLUMN = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
_MIGRATION_LOCK = 0x636F6E73656E74  # advisory lock key: "consent"
_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")


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
    """

    def __init__(self, url: str, *, connect_timeout: int = 3) -> None:
        self.psycopg = _psycopg()
        self.url = url
        self.description = "PostgreSQL " + _PASSWORD.sub(r"\1***@", url)
        self.connect_timeout = connect_timeout
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.RLock()
        self._migrated = False

    def __repr__(self) -> str:
        return f"PostgresStore({self.description!r})"

    def _connection(self, *, migrate: bool = True) -> psycopg.Connection[Any]:
        current = self._conn
        if current is not None and not current.closed and not current.broken:
            return current
        self._drop()
        conn: psycopg.Connection[Any]
        try:
            conn = self.psycopg.connect(self.url, connect_timeout=self.connect_timeout, autocommit=False)
        except self.psycopg.OperationalError as exc:
            raise StoreUnavailable(f"{self.description}: {_first_line(exc)}") from exc
        self._conn = conn
        if migrate and not self._migrated:
            try:
                self._migrate(conn)
            except BaseException:
                self._drop()
                raise
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # A broken connection may fail to close; it is gone anyway.
            with contextlib.suppress(Exception):
                conn.close()

    def _fail(self, exc: Exception) -> StoreError:
        """Map a driver error: connection trouble is an outage (retry later), the rest is not."""
        psycopg = self.psycopg
        conn = self._conn
        if isinstance(exc, psycopg.OperationalError) or conn is None or conn.broken or conn.closed:
            self._drop()
            return StoreUnavailable(f"{self.description}: {_first_line(exc)}")
        try:
            conn.rollback()
        except psycopg.Error:
            self._drop()
        return StoreError(f"{self.description}: {_first_line(exc)}")

    def migrate(self) -> int:
        with self._lock:
            conn = self._connection(migrate=False)
            try:
                return self._migrate(conn)
            except StoreError:
                self._drop()
                raise

    def _migrate(self, conn: psycopg.Connection[Any]) -> int:
        psycopg = self.psycopg
        try:
            with conn.transaction():
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
            raise self._fail(exc) from exc
        self._migrated = True
        return found

    def _write(
        self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]], *, durable: bool = True
    ) -> list[int]:
        psycopg = self.psycopg
        with self._lock:
            conn = self._connection()
            try:
                counts: list[int] = []
                with conn.transaction(), conn.cursor() as cursor:
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
                raise self._fail(exc) from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        psycopg = self.psycopg
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    rows = conn.execute(_placeholders(sql), tuple(params)).fetchall()
                return [tuple(row) for row in rows]
            except psycopg.Error as exc:
                raise self._fail(exc) from exc

    def close(self) -> None:
        with self._lock:
            self._drop()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
