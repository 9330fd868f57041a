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
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from consentgate.cookies.discovery import Tally, UndeclaredCookie
from consentgate.enforce.policy import Retention
from consentgate.log.minimise import VisitRecord
from consentgate.log.receipts import Receipt, format_time
from consentgate.log.stores.results import CategoryStats, DayStats, Deleted, StoreStats
from consentgate.log.stores.schema import (
    ADD_COUNT,
    INSERT_CHOICE,
    INSERT_RECEIPT,
    INSERT_VISIT,
    SELECT_RECEIPTS,
    SELECT_VISITS,
    TAKE_FROM_BUCKET,
    VISIT_TABLES,
    choice_rows,
    receipt_from_row,
    receipt_row,
    visit_from_row,
    visit_row,
)
from consentgate.log.stores.undeclared import (
    SELECT_KEYS,
    SELECT_UNDECLARED,
    UPSERT_UNDECLARED,
    undeclared_from_row,
    undeclared_rows,
)

__all__ = ["COUNT_NAMES", "Store", "StoreError", "StoreUnavailable"]

#: the operational counts a store keeps per day (``add_counts``; the dashboard shows them)
COUNT_NAMES = ("visits_dropped", "visits_lost")
_TOKENS_PURGE_INTERVAL = 60.0  # seconds between deletions of full buckets (rows past their time)


class StoreError(Exception):
    """A store cannot be used as asked (bad URL, missing file, schema from a newer version)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or written right now (an outage: worth retrying later)."""


# -- the interface ------------------------------------------------------------------------------


class Store(abc.ABC):
    """The privacy log's database. Blocking, thread-safe; every write is idempotent or additive.

    Backends implement :meth:`_execute` and friends; the queries themselves live here, written
    once with ``?`` placeholders, so both backends keep exactly the same behaviour.
    """

    #: what :func:`open_store` was given, without a password (for messages)
    description: str = "store"
    _tokens_purged_at = 0.0

    # Backend primitives ------------------------------------------------------------------------

    @abc.abstractmethod
    def _write(
        self,
        statements: Sequence[tuple[str, Sequence[Sequence[Any]]]],
        *,
        durable: bool = True,
        background: bool = False,
        kept: bool = False,
    ) -> list[int]:
        """Run ``(sql, rows)`` pairs (each SQL once per row, once if ``rows`` is ``[()]``) in one
        transaction; return the rows each changed. Raises :class:`StoreUnavailable` on outage,
        or when the write cannot get its locks within the store's bound.
        ``durable=False`` (visit batches) lets the commit skip waiting for the disk: the data
        survives a crash of the app, only a power cut may lose the last batch.
        ``background=True``: no request waits for it (visits, purges); it need not be bounded
        and should not hold up the writes a request waits for.
        ``kept=True``: may run on a connection the store keeps open between calls (for what
        nothing depends on being durable: the rate limit's buckets)."""

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
        counts = self._write([(INSERT_RECEIPT, [receipt_row(r) for r in receipts]), (INSERT_CHOICE, choices)])
        return counts[0]

    def add_visits(self, visits: Sequence[VisitRecord]) -> int:
        """Commit a batch of minimised visit records in one transaction."""
        if not visits:
            return 0
        rows = [visit_row(v) for v in visits]
        return self._write([(INSERT_VISIT, rows)], durable=False, background=True)[0]

    def take_tokens(self, takes: Sequence[tuple[str, float]], *, interval: float, burst: int) -> list[bool]:
        """The decision rate limit shared by every process using this store: for each
        ``(client, now)`` in order, one token from the client's bucket, all in one transaction (a
        client may come more than once); True where it was allowed. ``burst`` tokens at once, one
        more every ``interval`` seconds (GCRA: the same limit as a token bucket); ``now`` is
        wall-clock time, which processes on different machines share. Nothing waits on the disk
        for it (a bucket lost in a power cut is a full one)."""
        tolerance = (burst - 1) * interval
        statements: list[tuple[str, Sequence[Sequence[Any]]]] = [
            (TAKE_FROM_BUCKET, [(client, now + interval, now, now, interval, now, tolerance)])
            for client, now in takes
        ]
        moment = time.monotonic()
        if takes and moment - self._tokens_purged_at >= _TOKENS_PURGE_INTERVAL:
            self._tokens_purged_at = moment
            statements.append(("DELETE FROM consentgate_rate_limits WHERE tat < ?", [(takes[0][1],)]))
        counts = self._write(statements, durable=False, kept=True)
        return [count > 0 for count in counts[: len(takes)]]

    def add_counts(self, counts: Mapping[str, int], day: str) -> None:
        """Add to the operational counts of ``day`` (``YYYY-MM-DD``): see :data:`COUNT_NAMES`."""
        rows = [(day, name, int(value)) for name, value in counts.items() if value]
        if rows:
            self._write([(ADD_COUNT, rows)], durable=False, background=True)

    # Reading -----------------------------------------------------------------------------------

    def receipts(self, *, consent_id: str | None = None, tenant: str | None = None) -> list[Receipt]:
        """Receipts of one consent id or one tenant, oldest first."""
        where, params = _selector(consent_id, tenant)
        rows = self._read(f"{SELECT_RECEIPTS} WHERE {where} ORDER BY time, receipt_id", params)
        return [receipt_from_row(row) for row in rows]

    def visits(self, *, consent_id: str | None = None, tenant: str | None = None) -> list[dict[str, Any]]:
        """Visit records of one consent id or one tenant, oldest first, as dicts."""
        where, params = _selector(consent_id, tenant)
        rows = self._read(f"{SELECT_VISITS} WHERE {where} ORDER BY time", params)
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
                ("DELETE FROM consentgate_log_counts WHERE day < ?", [(receipts_before[:10],)]),
                ("DELETE FROM consentgate_choices WHERE time < ?", [(receipts_before,)]),
                ("DELETE FROM consentgate_receipts WHERE time < ?", [(receipts_before,)]),
                *((f"DELETE FROM {table} WHERE time < ?", [(visits_before,)]) for table in VISIT_TABLES),
            ],
            background=True,
        )
        return Deleted(receipts=counts[2], visits=sum(counts[3:]))

    # Undeclared cookies (live discovery; names only, see log/stores/undeclared.py) --------------

    def add_undeclared_cookies(self, tallies: Mapping[tuple[str, str], Tally]) -> None:
        """Add the tallies of live discovery, one upsert per (name, direction)."""
        if tallies:
            self._write([(UPSERT_UNDECLARED, undeclared_rows(tallies))], durable=False)

    def undeclared_cookies(self) -> list[UndeclaredCookie]:
        """Every stored undeclared cookie, most often seen first."""
        return [undeclared_from_row(row) for row in self._read(SELECT_UNDECLARED)]

    def undeclared_keys(self) -> set[tuple[str, str]]:
        return {(str(name), str(direction)) for name, direction in self._read(SELECT_KEYS)}

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
        ops = dict.fromkeys(COUNT_NAMES, 0)
        day_cond, day_params = ("WHERE day >= ?", (since[:10],)) if since else ("", ())
        for name, total in self._read(
            f"SELECT name, SUM(count) FROM consentgate_log_counts {day_cond} GROUP BY name", day_params
        ):
            ops[name] = int(total or 0)
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
            visits_dropped=ops["visits_dropped"],
            visits_lost=ops["visits_lost"],
        )


def _selector(consent_id: str | None, tenant: str | None) -> tuple[str, tuple[str]]:
    if (consent_id is None) == (tenant is None):
        raise ValueError("give exactly one of consent_id or tenant")
    if consent_id is not None:
        return "consent_id = ?", (consent_id,)
    return "tenant = ?", (str(tenant),)
