"""The dashboard's "Undeclared cookies" section: what live discovery found on real traffic that
the policy does not name, each with the cookie database's suggestion, and the policy snippets to
paste per category."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from consentgate.cookies.undeclared import Reviewed, snippets
from consentgate.enforce.policy import Policy

__all__ = ["WHERE", "undeclared_context"]

WHERE = {
    "set-cookie": "Set-Cookie from the app",
    "cookie": "sent back by the browser (set by a script, or earlier)",
}


def undeclared_context(reviewed: Sequence[Reviewed], policy: Policy) -> dict[str, Any]:
    rows = []
    for item in reviewed:
        entry, found = item.entry, item.suggestion
        rows.append(
            {
                "name": entry.name,
                "where": WHERE.get(entry.direction, entry.direction),
                "count": entry.count,
                "first_seen": entry.first_seen,
                "last_seen": entry.last_seen,
                "example_path": entry.example_path,
                "category": found.category,
                "platform": found.platform,
                "description": found.description,
                "note": found.note if found.known else "not in the cookie database",
            }
        )
    return {"undeclared": rows, "undeclared_snippets": snippets(reviewed, policy)}
