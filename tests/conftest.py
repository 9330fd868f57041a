"""Shared fixtures: a system Chromium for pytest-playwright, a throwaway PostgreSQL, live servers."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from starlette.types import ASGIApp
from support.fuzzcount import TRIED
from support.live_server import ThreadServer
from support.postgres import PostgresServer

from consentgate.audit.browser import launch_options
from consentgate.log.stores.base import Store
from consentgate.log.stores.factory import open_store

pytest_plugins = ["pytester"]

# No property test depends on how long one example takes: on a shared 2-core machine the time varies
# tenfold, and Hypothesis' default 200 ms deadline would make such a test fail by the clock.
settings.register_profile("consentgate", deadline=None)
settings.load_profile("consentgate")

_db_counter = itertools.count(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last: pytest-playwright's sync API leaves an event loop running in the main
    thread for the rest of the session, and ``asyncio.run`` in a later test would refuse to start."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright launches the same Chromium the audit uses (CONSENTGATE_CHROMIUM overrides)."""
    return {**browser_type_launch_args, **launch_options()}


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A new, empty database on the session's server (the server is restarted if a test stopped it)."""
    import psycopg

    if not postgres_server.running:
        postgres_server.start()
    name = f"cg_test_{next(_db_counter)}"
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres_server.url_for(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A privacy log's store, once as an SQLite file and once as a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "log.sqlite3")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_target: str) -> Iterator[Store]:
    """The store at ``store_target``, opened (and closed after the test)."""
    opened = open_store(store_target)
    yield opened
    opened.close()


@pytest.fixture
def live_server() -> Iterator[Callable[[ASGIApp], str]]:
    """``live_server(app)`` serves ``app`` with uvicorn on 127.0.0.1 and returns its base URL."""
    servers: list[ThreadServer] = []

    def serve(app: ASGIApp) -> str:
        server = ThreadServer(app)
        servers.append(server)
        return server.start()

    yield serve
    for server in servers:
        server.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many hostile inputs each parser was fed in this run (the README quotes these)."""
    if TRIED:
        terminalreporter.section("hostile input: cases tried")
        for target, count in sorted(TRIED.items()):
            terminalreporter.write_line(f"{target:<40} {count:>8}")
        terminalreporter.write_line(f"{'total':<40} {sum(TRIED.values()):>8}")
