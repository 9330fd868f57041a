"""The shared test infrastructure itself: PostgreSQL can be stopped and started, servers serve."""

from __future__ import annotations

from collections.abc import Callable

import httpx2 as httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp
from support.postgres import PostgresServer

from consentgate.audit.browser import CHROMIUM_ARGS, chromium_executable, launch_options


def test_launch_options_use_system_chromium_with_quiet_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTGATE_CHROMIUM", "/opt/other/chrome")
    options = launch_options()
    assert options["executable_path"] == "/opt/other/chrome"
    assert "--disable-background-networking" in options["args"]
    monkeypatch.setenv("CONSENTGATE_CHROMIUM", "")
    assert "executable_path" not in launch_options()
    assert chromium_executable("/x/y") == "/x/y"
    assert len(set(CHROMIUM_ARGS)) == len(CHROMIUM_ARGS)


@pytest.mark.postgres
def test_postgres_server_survives_stop_and_start(postgres_server: PostgresServer) -> None:
    import psycopg

    with psycopg.connect(postgres_server.url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    postgres_server.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres_server.url, connect_timeout=2)
    postgres_server.start()
    with psycopg.connect(postgres_server.url) as conn:
        assert conn.execute("select 2").fetchone() == (2,)


@pytest.mark.postgres
def test_postgres_url_is_a_fresh_database(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute("select count(*) from pg_tables where schemaname = 'public'").fetchone()
    assert tables == (0,)


def test_live_server_serves_over_tcp(live_server: Callable[[ASGIApp], str]) -> None:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("hello"))])
    url = live_server(app)
    assert url.startswith("http://127.0.0.1:")
    assert httpx.get(url + "/").text == "hello"
