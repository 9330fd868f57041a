"""How optional parts (the privacy log, the banner) plug into :class:`ConsentMiddleware`.

The middleware stays one pure-ASGI class with one wrapped ``send``; an extension gets called at
well-defined points instead of adding another middleware layer (which would cost a second
``send`` wrapper and a second header scan per request).
"""

from __future__ import annotations

from typing import Protocol

from starlette.types import Receive, Scope, Send

from .consent import Consent
from .decisions import Decision

__all__ = ["PrivacyLogHooks"]


class PrivacyLogHooks(Protocol):
    """What the middleware needs from a privacy log (see ``consentgate.privacy_log``)."""

    async def record_decision(self, decision: Decision) -> None:
        """Make the receipt durable (committed, or spooled) before returning."""

    def record_visit(
        self, scope: Scope, consent: Consent, status: int, headers: list[tuple[bytes, bytes]]
    ) -> None:
        """Called at ``http.response.start`` of every non-endpoint request: enqueue only, never block
        or raise. It decides itself whether the request counts and whether consent allows it."""

    async def start(self) -> None:
        """Called on ``lifespan.startup``."""

    async def stop(self) -> None:
        """Called on ``lifespan.shutdown``: flush what is queued."""

    async def handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        consent: Consent,
        clear_headers: list[tuple[bytes, bytes]],
    ) -> bool:
        """Serve ``<prefix>/my-data`` and ``<prefix>/forget``; return False for other paths.

        ``clear_headers`` are Set-Cookie headers that clear the consent cookie and delete every
        non-essential cookie the request carries ("forget me" sends them).
        """
        ...
