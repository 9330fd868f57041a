"""What a visitor decided, handed to the decision hook (the privacy log records it as a receipt)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

__all__ = ["Decision", "DecisionHook", "call_hook"]


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision made through ``POST /_consent``.

    Holds nothing more identifying than the random consent id (R-CON-9).
    """

    consent_id: str
    time: datetime
    method: str
    """How it was made: "accept_all", "deny_all", "categories", or what the banner names
    (e.g. "banner:save"), plus "forget" for a withdrawal of everything by the visitor."""
    requested: frozenset[str]
    """Optional categories the visitor asked for."""
    granted: frozenset[str]
    """Optional categories in force after the ceilings (student, GPC)."""
    refused: frozenset[str]
    """Optional categories not in force."""
    stored: frozenset[str]
    """Optional categories written to the consent cookie."""
    revision: int
    notice_hash: str
    language: str | None
    is_student: bool
    gpc: bool
    tenant: str | None
    limited_by: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Requested categories a ceiling removed, with the reason ("student" or "gpc")."""

    @property
    def limited(self) -> bool:
        """True when the outcome differs from what was asked (GPC or a student ceiling)."""
        return bool(self.limited_by)


DecisionHook = Callable[[Decision], "Awaitable[None] | None"]


async def call_hook(hook: DecisionHook, decision: Decision) -> None:
    result = hook(decision)
    if inspect.isawaitable(result):
        await result
