"""The undeclared-cookie table (migration 3): how live discovery's tallies are stored and read.

One row per (name, direction): a count, when first and last seen (fixed-width UTC text, like every
time in the log) and one example path. Adding a tally to a row that exists adds the counts, keeps
the earliest first-seen, the latest last-seen and the row's first example path. The SQL works
unchanged in SQLite (3.24 or later) and PostgreSQL.
"""

# SQL here is assembled only from the constant table name; every value travels as a parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from consentgate.cookies.discovery import Tally, UndeclaredCookie
from consentgate.log.receipts import format_time

__all__ = ["SELECT_KEYS", "SELECT_UNDECLARED", "UPSERT_UNDECLARED", "undeclared_from_row", "undeclared_rows"]

TABLE = "consentgate_undeclared_cookies"
UPSERT_UNDECLARED = (
    f"INSERT INTO {TABLE} (name, direction, count, first_seen, last_seen, example_path) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name, direction) DO UPDATE SET "
    f"count = {TABLE}.count + excluded.count, "
    f"first_seen = CASE WHEN excluded.first_seen < {TABLE}.first_seen "
    f"THEN excluded.first_seen ELSE {TABLE}.first_seen END, "
    f"last_seen = CASE WHEN excluded.last_seen > {TABLE}.last_seen "
    f"THEN excluded.last_seen ELSE {TABLE}.last_seen END"
)
SELECT_UNDECLARED = (
    f"SELECT name, direction, count, first_seen, last_seen, example_path FROM {TABLE} "
    "ORDER BY count DESC, name, direction"
)
SELECT_KEYS = f"SELECT name, direction FROM {TABLE}"


def _time(moment: float) -> str:
    return format_time(datetime.fromtimestamp(int(moment), UTC))


def undeclared_rows(tallies: Mapping[tuple[str, str], Tally]) -> list[tuple[Any, ...]]:
    return [
        (name, direction, t.count, _time(t.first_seen), _time(t.last_seen), t.example_path)
        for (name, direction), t in sorted(tallies.items())
    ]


def undeclared_from_row(row: tuple[Any, ...]) -> UndeclaredCookie:
    name, direction, count, first_seen, last_seen, example_path = row
    return UndeclaredCookie(
        str(name), str(direction), int(count), str(first_seen), str(last_seen), str(example_path)
    )
