"""Opening the store a path or URL names: SQLite for a file path or ``sqlite:///``, PostgreSQL for
``postgresql://``. The one module that knows every backend."""

from __future__ import annotations

import re

from consentgate.log.stores.base import Store, StoreError

__all__ = ["open_store"]

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
