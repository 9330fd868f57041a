"""Where the privacy log keeps receipts and visit records: one interface, two backends.

:class:`Store` is what the privacy log, the data-rights pages and the CLI use. Its methods are
blocking and thread-safe; the privacy log calls them off the event loop (a worker thread), the CLI
directly. Two backends share the schema below and its versioned migrations:

* SQLite (:mod:`consentgate.log.stores.sqlite`): a file path or ``sqlite:///path`` — the embedded
  default, created readable by its owner only, in WAL mode;
* PostgreSQL (:mod:`consentgate.log.stores.postgres`): a ``postgresql://`` URL, for several app
  instances sharing one log (``pip install 'consentgate[postgres]'``).

Times are stored as fixed-width UTC text (``2025-01-31T12:00:00Z``): it sorts and compares the
same way in both databases, and ``substr(time, 1, 10)`` is the day.
"""

# SQL here is assembled only from constant column names and fixed WHERE clauses; every value
# travels as a parameter.
# ruff: noqa: S608

from __future__ import annotations

import abc
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from consentgate.enforce.policy import Retention
from consentgate.log.minimise import VisitRecord
from consentgate.log.receipts import Receipt, format_time

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "CategoryStats",
    "DayStats",
    "Deleted",
    "Store",
    "StoreError",
    "StoreStats",
    "StoreUnavailable",
    "open_store",
]


class StoreError(Exception):
    """A store cannot be used as asked (bad URL, missing file, schema from a newer version)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or written right now (an outage: worth retrying later)."""


# -- schema -------------------------------------------------------------------------------------

# Each migration is a list of statements; ``{id}`` is the backend's auto-increment key column.
# Never edit a released migration: add the next one.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE consentgate_receipts (
                receipt_id TEXT PRIMARY KEY,
                consent_id TEXT NOT NULL,
                time TEXT NOT NULL,
                method TEXT NOT NULL,
                policy_revision INTEGER NOT NULL,
                notice_hash TEXT NOT NULL,
                language TEXT,
                requested TEXT NOT NULL,
                granted TEXT NOT NULL,
                refused TEXT NOT NULL,
                limited_by TEXT NOT NULL,
                is_student INTEGER NOT NULL,
                gpc INTEGER NOT NULL,
                tenant TEXT,
                expires_at TEXT
            )""",
            "CREATE INDEX consentgate_receipts_consent ON consentgate_receipts (consent_id)",
            "CREATE INDEX consentgate_receipts_tenant ON consentgate_receipts (tenant)",
            "CREATE INDEX consentgate_receipts_time ON consentgate_receipts (time)",
            # One row per optional category of a receipt: per-category opt-in counts in plain SQL.
            """CREATE TABLE consentgate_choices (
                receipt_id TEXT NOT NULL,
                category TEXT NOT NULL,
                granted INTEGER NOT NULL,
                time TEXT NOT NULL,
                PRIMARY KEY (receipt_id, category)
            )""",
            "CREATE INDEX consentgate_choices_time ON consentgate_choices (time)",
            """CREATE TABLE consentgate_visits (
                visit_id {id},
                time TEXT NOT NULL,
                path TEXT NOT NULL,
                ip_prefix TEXT,
                country TEXT,
                browser TEXT NOT NULL,
                browser_major TEXT,
                os TEXT NOT NULL,
                os_major TEXT,
                device TEXT NOT NULL,
                referrer_origin TEXT,
                consent_id TEXT NOT NULL,
                tenant TEXT,
                is_student INTEGER NOT NULL
            )""",
            "CREATE INDEX consentgate_visits_consent ON consentgate_visits (consent_id)",
            "CREATE INDEX consentgate_visits_tenant ON consentgate_visits (tenant)",
            "CREATE INDEX consentgate_visits_time ON consentgate_visits (time)",
        ),
    ),
    (
        2,
        (
            # Where a backend may stage new visits before moving them in bulk, in consent-id
            # order, into consentgate_visits (SQLite does: one random-key index insert per visit
            # cost it most of its writing time). Unindexed, so the backend keeps it small.
            """CREATE TABLE consentgate_visits_recent (
                visit_id {id},
                time TEXT NOT NULL,
                path TEXT NOT NULL,
                ip_prefix TEXT,
                country TEXT,
                browser TEXT NOT NULL,
                browser_major TEXT,
                os TEXT NOT NULL,
                os_major TEXT,
                device TEXT NOT NULL,
                referrer_origin TEXT,
                consent_id TEXT NOT NULL,
                tenant TEXT,
                is_student INTEGER NOT NULL
            )""",
            # Every read of visits goes through this view; every delete names both tables.
            "CREATE VIEW consentgate_all_visits AS "
            "SELECT time, path, ip_prefix, country, browser, browser_major, os, os_major, device, "
            "referrer_origin, consent_id, tenant, is_student FROM consentgate_visits UNION ALL "
            "SELECT time, path, ip_prefix, country, browser, browser_major, os, os_major, device, "
            "referrer_origin, consent_id, tenant, is_student FROM consentgate_visits_recent",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

VISIT_COLUMNS = (
    "time",
    "path",
    "ip_prefix",
    "country",
    "browser",
    "browser_major",
    "os",
    "os_major",
    "device",
    "referrer_origin",
    "consent_id",
    "tenant",
    "is_student",
)
RECEIPT_COLUMNS = (
    "receipt_id",
    "consent_id",
    "time",
    "method",
    "policy_revision",
    "notice_hash",
    "language",
    "requested",
    "granted",
    "refused",
    "limited_by",
    "is_student",
    "gpc",
    "tenant",
    "expires_at",
)

_INSERT_RECEIPT = (
    f"INSERT INTO consentgate_receipts ({', '.join(RECEIPT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in RECEIPT_COLUMNS)}) ON CONFLICT (receipt_id) DO NOTHING"
)
_INSERT_CHOICE = (
    "INSERT INTO consentgate_choices (receipt_id, category, granted, time) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (receipt_id, category) DO NOTHING"
)
_INSERT_VISIT = (
    f"INSERT INTO consentgate_visits ({', '.join(VISIT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in VISIT_COLUMNS)})"
)
_SELECT_RECEIPTS = f"SELECT {', '.join(RECEIPT_COLUMNS)} FROM consentgate_receipts"
_SELECT_VISITS = f"SELECT {', '.join(VISIT_COLUMNS)} FROM consentgate_all_visits"
#: the tables visits live in (see migration 2); deletes go to each
VISIT_TABLES = ("consentgate_visits", "consentgate_visits_recent")


# -- rows ---------------------------------------------------------------------------------------


def _words(values: Iterable[str]) -> str:
    return " ".join(values)


def receipt_row(receipt: Receipt) -> tuple[Any, ...]:
    limited = " ".join(f"{k}:{v}" for k, v in sorted(receipt.limited_by.items()))
    return (
        receipt.receipt_id,
        receipt.consent_id,
        format_time(receipt.time),
        receipt.method,
        receipt.policy_revision,
        receipt.notice_hash,
        receipt.language,
        _words(receipt.requested),
        _words(receipt.granted),
        _words(receipt.refused),
        limited,
        int(receipt.is_student),
        int(receipt.gpc),
        receipt.tenant,
        None if receipt.expires_at is None else format_time(receipt.expires_at),
    )


def choice_rows(receipt: Receipt) -> list[tuple[Any, ...]]:
    when = format_time(receipt.time)
    rows = [(receipt.receipt_id, c, 1, when) for c in receipt.granted]
    rows += [(receipt.receipt_id, c, 0, when) for c in receipt.refused if c not in receipt.granted]
    return rows


def receipt_from_row(row: Sequence[Any]) -> Receipt:
    data = dict(zip(RECEIPT_COLUMNS, row, strict=True))
    for key in ("requested", "granted", "refused"):
        data[key] = data[key].split() if data[key] else []
    data["limited_by"] = dict(item.split(":", 1) for item in data["limited_by"].split())
    return Receipt.from_dict(data)


_last_second: list[tuple[int, str]] = [(-1, "")]


def _visit_time(moment: float) -> str:
    """Formatted once per second (visits written together share it)."""
    second = int(moment)
    last = _last_second[0]
    if last[0] == second:
        return last[1]
    text = format_time(datetime.fromtimestamp(second, UTC))
    _last_second[0] = (second, text)
    return text


def visit_row(visit: VisitRecord) -> tuple[Any, ...]:
    """The record as stored: time as text, the student flag as 0/1, the rest as it is."""
    return (_visit_time(visit[0]), *visit[1:12], int(visit[12]))


def visit_from_row(row: Sequence[Any]) -> dict[str, Any]:
    """A stored visit as a JSON-ready dict (the keys of :class:`VisitRecord`, time as text)."""
    data = dict(zip(VISIT_COLUMNS, row, strict=True))
    data["is_student"] = bool(data["is_student"])
    return data


# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deleted:
    """How many rows a forget or purge removed."""

    receipts: int = 0
    visits: int = 0

    def __add__(self, other: Deleted) -> Deleted:
        return Deleted(self.receipts + other.receipts, self.visits + other.visits)


@dataclass(frozen=True, slots=True)
class CategoryStats:
    granted: int = 0
    refused: int = 0

    @property
    def decisions(self) -> int:
        return self.granted + self.refused

    @property
    def opt_in_rate(self) -> float | None:
        """Share of decisions that granted this category (``None`` without decisions)."""
        return None if self.decisions == 0 else self.granted / self.decisions


@dataclass(frozen=True, slots=True)
class DayStats:
    day: str
    decisions: int
    gpc: int
    students: int
    categories: Mapping[str, CategoryStats] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What the dashboard and ``consentgate stats`` show. Counts only, nothing per visitor."""

    receipts: int
    visits: int
    days: tuple[DayStats, ...]
    categories: Mapping[str, CategoryStats]
    gpc_decisions: int
    student_decisions: int
    since: str | None = None

    @property
    def decisions(self) -> int:
        return sum(day.decisions for day in self.days)

    @property
    def gpc_share(self) -> float | None:
        return None if self.decisions == 0 else self.gpc_decisions / self.decisions

    @property
    def student_share(self) -> float | None:
        return None if self.decisions == 0 else self.student_decisions / self.decisions

    def as_dict(self) -> dict[str, Any]:
        def category(stats: CategoryStats) -> dict[str, Any]:
            return {"granted": stats.granted, "refused": stats.refused, "opt_in_rate": stats.opt_in_rate}

        return {
            "since": self.since,
            "receipts": self.receipts,
            "visits": self.visits,
            "decisions": self.decisions,
            "gpc_decisions": self.gpc_decisions,
            "gpc_share": self.gpc_share,
            "student_decisions": self.student_decisions,
            "student_share": self.student_share,
            "categories": {name: category(s) for name, s in self.categories.items()},
            "days": [
                {
                    "day": d.day,
                    "decisions": d.decisions,
                    "gpc": d.gpc,
                    "students": d.students,
                    "categories": {name: category(s) for name, s in d.categories.items()},
                }
                for d in self.days
            ],
        }


# -- the interface ------------------------------------------------------------------------------


class Store(abc.ABC):
    """The privacy log's database. Blocking, thread-safe; every write is idempotent or additive.

    Backends implement :meth:`_execute` and friends; the queries themselves live here, written
    once with ``?`` placeholders, so both backends keep exactly the same behaviour.
    """

    #: what :func:`open_store` was given, without a password (for messages)
    description: str = "store"

    # Backend primitives ------------------------------------------------------------------------

    @abc.abstractmethod
    def _write(
        self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]], *, durable: bool = True
    ) -> list[int]:
        """Run ``(sql, rows)`` pairs (each SQL once per row, once if ``rows`` is ``[()]``) in one
        transaction; return the rows each changed. Raises :class:`StoreUnavailable` on outage.
        ``durable=False`` (visit batches) lets the commit skip waiting for the disk: the data
        survives a crash of the app, only a power cut may lose the last batch."""

    @abc.abstractmethod
    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one query and return its rows."""

    @abc.abstractmethod
    def migrate(self) -> int:
        """Bring the schema to :data:`SCHEMA_VERSION`; returns the version found before."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Writing -----------------------------------------------------------------------------------

    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless the store can be read right now."""
        self._read("SELECT COUNT(*) FROM consentgate_receipts WHERE receipt_id = ?", ("-",))

    def add_receipts(self, receipts: Sequence[Receipt]) -> int:
        """Commit receipts; one already stored (same receipt id) is left alone. Returns how many
        were new. Replaying a spool through this is therefore safe."""
        if not receipts:
            return 0
        choices = [row for r in receipts for row in choice_rows(r)]
        counts = self._write(
            [(_INSERT_RECEIPT, [receipt_row(r) for r in receipts]), (_INSERT_CHOICE, choices)]
        )
        return counts[0]

    def add_visits(self, visits: Sequence[VisitRecord]) -> int:
        """Commit a batch of minimised visit records in one transaction."""
        if not visits:
            return 0
        return self._write([(_INSERT_VISIT, [visit_row(v) for v in visits])], durable=False)[0]

    # Reading -----------------------------------------------------------------------------------

    def receipts(self, *, consent_id: str | None = None, tenant: str | None = None) -> list[Receipt]:
        """Receipts of one consent id or one tenant, oldest first."""
        where, params = _selector(consent_id, tenant)
        rows = self._read(f"{_SELECT_RECEIPTS} WHERE {where} ORDER BY time, receipt_id", params)
        return [receipt_from_row(row) for row in rows]

    def visits(self, *, consent_id: str | None = None, tenant: str | None = None) -> list[dict[str, Any]]:
        """Visit records of one consent id or one tenant, oldest first, as dicts."""
        where, params = _selector(consent_id, tenant)
        rows = self._read(f"{_SELECT_VISITS} WHERE {where} ORDER BY time", params)
        return [visit_from_row(row) for row in rows]

    def counts(self) -> tuple[int, int]:
        """(receipts, visits) stored."""
        receipts = self._read("SELECT COUNT(*) FROM consentgate_receipts")[0][0]
        visits = self._read("SELECT COUNT(*) FROM consentgate_all_visits")[0][0]
        return int(receipts), int(visits)

    # Deleting ----------------------------------------------------------------------------------

    def forget(self, *, consent_id: str | None = None, tenant: str | None = None) -> Deleted:
        """Delete every receipt and visit record of one consent id, or of one tenant (a school
        leaving, R-STU-2). Immediate (R-VIS-2, R-MIN-6)."""
        where, params = _selector(consent_id, tenant)
        counts = self._write(
            [
                (
                    "DELETE FROM consentgate_choices WHERE receipt_id IN "
                    f"(SELECT receipt_id FROM consentgate_receipts WHERE {where})",
                    [params],
                ),
                (f"DELETE FROM consentgate_receipts WHERE {where}", [params]),
                *((f"DELETE FROM {table} WHERE {where}", [params]) for table in VISIT_TABLES),
            ]
        )
        return Deleted(receipts=counts[1], visits=sum(counts[2:]))

    def purge(self, retention: Retention, now: datetime | None = None) -> Deleted:
        """Delete what is older than the retention periods (R-MIN-6)."""
        now = now or datetime.now(UTC)
        visits_before = format_time(now - timedelta(days=retention.visits_days))
        receipts_before = format_time(now - timedelta(days=retention.receipts_days))
        counts = self._write(
            [
                ("DELETE FROM consentgate_choices WHERE time < ?", [(receipts_before,)]),
                ("DELETE FROM consentgate_receipts WHERE time < ?", [(receipts_before,)]),
                *((f"DELETE FROM {table} WHERE time < ?", [(visits_before,)]) for table in VISIT_TABLES),
            ]
        )
        return Deleted(receipts=counts[1], visits=sum(counts[2:]))

    # Reporting ---------------------------------------------------------------------------------

    def stats(self, *, days: int | None = None, now: datetime | None = None) -> StoreStats:
        """Counts for the dashboard: totals, decisions per day (with GPC and student decisions)
        and opt-ins per day and category; ``days`` limits the per-day part to the last N days."""
        since = None
        if days is not None:
            start = (now or datetime.now(UTC)) - timedelta(days=days - 1)
            since = format_time(start.replace(hour=0, minute=0, second=0, microsecond=0))
        cond, params = ("WHERE time >= ?", (since,)) if since else ("", ())
        receipts, visits = self.counts()
        day_rows = self._read(
            "SELECT substr(time, 1, 10) AS day, COUNT(*), SUM(gpc), SUM(is_student) "
            f"FROM consentgate_receipts {cond} GROUP BY substr(time, 1, 10) ORDER BY day",
            params,
        )
        choice_rows_ = self._read(
            "SELECT substr(time, 1, 10) AS day, category, SUM(granted), COUNT(*) "
            f"FROM consentgate_choices {cond} GROUP BY substr(time, 1, 10), category ORDER BY day, category",
            params,
        )
        per_day: dict[str, dict[str, CategoryStats]] = {}
        totals: dict[str, list[int]] = {}
        for day, category, granted, total in choice_rows_:
            granted, total = int(granted or 0), int(total)
            per_day.setdefault(day, {})[category] = CategoryStats(granted, total - granted)
            running = totals.setdefault(category, [0, 0])
            running[0] += granted
            running[1] += total - granted
        day_stats = tuple(
            DayStats(
                day=day,
                decisions=int(count),
                gpc=int(gpc or 0),
                students=int(students or 0),
                categories=MappingProxyType(dict(sorted(per_day.get(day, {}).items()))),
            )
            for day, count, gpc, students in day_rows
        )
        return StoreStats(
            receipts=receipts,
            visits=visits,
            days=day_stats,
            categories=MappingProxyType(
                {name: CategoryStats(g, r) for name, (g, r) in sorted(totals.items())}
            ),
            gpc_decisions=sum(d.gpc for d in day_stats),
            student_decisions=sum(d.students for d in day_stats),
            since=None if since is None else since[:10],
        )


def _selector(consent_id: str | None, tenant: str | None) -> tuple[str, tuple[str]]:
    if (consent_id is None) == (tenant is None):
        raise ValueError("give exactly one of consent_id or tenant")
    if consent_id is not None:
        return "consent_id = ?", (consent_id,)
    return "tenant = ?", (str(tenant),)


_SQLITE_URL = re.compile(r"sqlite:///(?P<path>.+)")


def open_store(target: str | Store, *, create: bool = True) -> Store:
    """The store a path or URL names: a file path or ``sqlite:///path`` gives SQLite (the file is
    created unless ``create=False``), ``postgresql://…`` (or ``postgres://``) gives PostgreSQL.

    Opening does not need the database to be up: a PostgreSQL store connects on first use.
    """
    if isinstance(target, Store):
        return target
    if not isinstance(target, str) or not target:
        raise StoreError(f"store: expected a file path or a postgresql:// URL, got {target!r}")
    if target.startswith(("postgresql://", "postgres://")):
        from consentgate.log.stores.postgres import PostgresStore

        return PostgresStore(target)
    match = _SQLITE_URL.fullmatch(target)
    path = match.group("path") if match else target
    if "://" in path:
        raise StoreError(f"store: unsupported URL {target!r}; use a file path, sqlite:/// or postgresql://")
    from consentgate.log.stores.sqlite import SQLiteStore

    return SQLiteStore(path, create=create)
