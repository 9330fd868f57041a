"""Instances starting together on a new database (issue 17): migrations run once, under a lock the
others wait for, and every instance ends up on the current schema."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from consentgate.log.stores.factory import open_store
from consentgate.log.stores.schema import SCHEMA_VERSION


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "log.sqlite3")
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_instances_migrating_at_once_migrate_once(new_store: str) -> None:
    stores = [open_store(new_store) for _ in range(4)]
    start = threading.Barrier(len(stores))
    found: list[int | BaseException] = []

    def migrate(index: int) -> None:
        start.wait()
        try:
            found.append(stores[index].migrate())
        except BaseException as exc:
            found.append(exc)

    threads = [threading.Thread(target=migrate, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One found an empty database and migrated it; the others waited and found it current.
    assert sorted(found, key=str) == [0] + [SCHEMA_VERSION] * (len(stores) - 1)
    assert stores[0]._read("SELECT version FROM consentgate_schema") == [(SCHEMA_VERSION,)]
    for store in stores:
        store.close()
