"""The privacy log's tables, their versioned migrations, and how receipts and visits become rows.

Times are stored as fixed-width UTC text (``2025-01-31T12:00:00Z``): it sorts and compares the
same way in both databases, and ``substr(time, 1, 10)`` is the day."""

# SQL here is assembled only from constant column names; every value travels as a parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from consentgate.log.minimise import VisitRecord
from consentgate.log.receipts import Receipt, format_time

__all__ = [
    "ADD_COUNT",
    "INSERT_CHOICE",
    "INSERT_RECEIPT",
    "INSERT_VISIT",
    "MIGRATIONS",
    "RECEIPT_COLUMNS",
    "SCHEMA_VERSION",
    "SELECT_RECEIPTS",
    "SELECT_VISITS",
    "TAKE_FROM_BUCKET",
    "VISIT_COLUMNS",
    "VISIT_TABLES",
    "choice_rows",
    "receipt_from_row",
    "receipt_row",
    "visit_from_row",
    "visit_row",
]

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
    (
        3,
        # Cookie names the middleware saw that the policy does not name (live discovery).
        # Names only: no value, no consent id, nothing about a visitor (log/stores/undeclared.py).
        (
            """CREATE TABLE consentgate_undeclared_cookies (
                name TEXT NOT NULL,
                direction TEXT NOT NULL,
                count INTEGER NOT NULL,
                first_seen TEXT NOT NULL,
                last_seen TEXT NOT NULL,
                example_path TEXT NOT NULL,
                PRIMARY KEY (name, direction)
            )""",
        ),
    ),
    (
        4,
        (
            # The decision rate limit shared by every process writing to this log: one row per
            # client seen deciding lately, under a keyed hash of its consent id or address (no
            # address is stored), with the time its bucket is full again (epoch seconds, the
            # "theoretical arrival time" of GCRA). A row whose time has passed is a full bucket,
            # the same as no row, and is deleted.
            "CREATE TABLE consentgate_rate_limits (client TEXT PRIMARY KEY, tat DOUBLE PRECISION NOT NULL)",
            # Operational counts per UTC day (visits dropped from a full queue, visits lost at
            # shutdown), added to by every process: counts only, nothing about any visitor.
            """CREATE TABLE consentgate_log_counts (
                day TEXT NOT NULL,
                name TEXT NOT NULL,
                count BIGINT NOT NULL,
                PRIMARY KEY (day, name)
            )""",
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

INSERT_RECEIPT = (
    f"INSERT INTO consentgate_receipts ({', '.join(RECEIPT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in RECEIPT_COLUMNS)}) ON CONFLICT (receipt_id) DO NOTHING"
)
INSERT_CHOICE = (
    "INSERT INTO consentgate_choices (receipt_id, category, granted, time) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (receipt_id, category) DO NOTHING"
)
INSERT_VISIT = (
    f"INSERT INTO consentgate_visits ({', '.join(VISIT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in VISIT_COLUMNS)})"
)
#: one token from a client's bucket (GCRA): a new client, or one whose time is at most the
#: tolerance ahead of now, is let through and its time moves on by one interval; otherwise the row
#: stays as it is and no row changes. Parameters: client, now + interval, now, now, interval, now,
#: tolerance.
TAKE_FROM_BUCKET = (
    "INSERT INTO consentgate_rate_limits (client, tat) VALUES (?, ?) ON CONFLICT (client) DO UPDATE "
    "SET tat = (CASE WHEN consentgate_rate_limits.tat > ? THEN consentgate_rate_limits.tat ELSE ? END) + ? "
    "WHERE consentgate_rate_limits.tat - ? <= ?"
)
ADD_COUNT = (
    "INSERT INTO consentgate_log_counts (day, name, count) VALUES (?, ?, ?) ON CONFLICT (day, name) "
    "DO UPDATE SET count = consentgate_log_counts.count + excluded.count"
)
SELECT_RECEIPTS = f"SELECT {', '.join(RECEIPT_COLUMNS)} FROM consentgate_receipts"
SELECT_VISITS = f"SELECT {', '.join(VISIT_COLUMNS)} FROM consentgate_all_visits"
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
