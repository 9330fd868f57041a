"""The privacy log's start and stop without a lifespan from the app or the server (log/autostart.py).
The real servers are in tests/servers/test_no_lifespan.py; these drive the ASGI messages by hand."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from coreapp import SECRET, make_policy, raw_headers_app
from support.asgi import call_asgi

from consentgate import ConsentMiddleware, PrivacyLog
from consentgate.audit.pytest_plugin import ConsentCookieFactory
from consentgate.log.autostart import NO_LIFESPAN

PAGE = b"<html><body>hi</body></html>"


class CountingLog(PrivacyLog):
    """The real log, counting its starts and stops."""

    events: list[str]

    async def start(self) -> None:
        self.events = [*getattr(self, "events", []), "start"]
        await super().start()

    async def stop(self) -> None:
        self.events = [*getattr(self, "events", []), "stop"]
        await super().stop()


def _log(tmp_path: Path) -> CountingLog:
    return CountingLog(str(tmp_path / "log.sqlite3"), make_policy())


async def _lifespan(app: Any) -> list[str]:
    """Send startup then shutdown as a server does; the message types the app answered."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[str] = []
    await inbox.put({"type": "lifespan.startup"})

    async def receive() -> dict[str, Any]:
        message = await inbox.get()
        return message

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])
        if message["type"] == "lifespan.startup.complete":
            await inbox.put({"type": "lifespan.shutdown"})

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    return sent


def test_the_middleware_answers_the_lifespan_for_an_app_that_raises_on_it(tmp_path: Path) -> None:
    async def django_like(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError("Django can only handle ASGI/HTTP connections, not lifespan.")

    log = _log(tmp_path)
    app = ConsentMiddleware(django_like, policy=make_policy(), secret_key=SECRET, privacy_log=log)
    assert asyncio.run(_lifespan(app)) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert log.events == ["start", "stop"]


def test_an_app_that_fails_after_taking_the_startup_still_fails(tmp_path: Path) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        raise RuntimeError("the app's own startup failed")

    app = ConsentMiddleware(broken, policy=make_policy(), secret_key=SECRET, privacy_log=_log(tmp_path))
    with pytest.raises(RuntimeError, match="own startup failed"):
        asyncio.run(_lifespan(app))


def test_without_lifespan_the_first_request_starts_the_log_once_and_exit_writes_the_visits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = _log(tmp_path)
    page = raw_headers_app([(b"content-type", b"text/html")], PAGE)
    app = ConsentMiddleware(page, policy=make_policy(), secret_key=SECRET, privacy_log=log)
    cookie = ConsentCookieFactory(make_policy(), SECRET)(["analytics"])
    headers = [
        (b"cookie", f"{cookie.name}={cookie.value}".encode()),
        (b"user-agent", b"Mozilla/5.0 Firefox/128.0"),
    ]

    async def traffic() -> None:
        await asyncio.gather(*(call_asgi(app, list(headers)) for _ in range(5)))  # concurrent first requests
        await call_asgi(app, list(headers))

    with caplog.at_level(logging.WARNING, logger="consentgate"):
        asyncio.run(traffic())
    assert [r.getMessage() for r in caplog.records].count(NO_LIFESPAN) == 1
    assert log.events == ["start"]
    lifecycle = app._log_lifecycle
    assert lifecycle is not None and lifecycle.running
    lifecycle.flush_at_exit()  # what the atexit handler does once the loop is gone
    assert len(log.store.visits(consent_id=cookie.consent_id)) == 6
    assert not lifecycle.running
