"""Calling an ASGI app in process with a hand-made HTTP scope (what the fuzz tests need: raw bytes in
any header, no HTTP client normalising them first)."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["call_asgi"]


async def call_asgi(
    app: Any,
    headers: list[tuple[bytes, bytes]],
    method: str = "GET",
    path: str = "/",
    body: bytes = b"",
    query: bytes = b"",
    scheme: str = "http",
    client: tuple[str, int] | None = ("127.0.0.1", 5000),
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run one request; returns the scope (as the app left it) and every message sent."""
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": scheme,
        "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "", "headers": headers,
        "client": client, "server": ("127.0.0.1", 8000), "state": {},
    }  # fmt: skip
    messages: list[dict[str, Any]] = []
    body_given = False

    async def receive() -> dict[str, Any]:
        nonlocal body_given
        if body_given:
            await asyncio.sleep(3600)  # the client never disconnects during these tests
        body_given = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return scope, messages
