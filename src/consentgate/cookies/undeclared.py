"""Undeclared cookies as a privacy team reviews them: each stored entry with its suggestion, and
ready-to-paste policy snippets per category (the dashboard and ``consentgate cookies undeclared``).

Entries the policy declares by now (it was updated since they were seen) are left out. A name
the app's server sent in ``Set-Cookie`` is judged as the server's own for the third-party rule,
in both directions; a name only ever seen coming back from the browser was set by a script.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from consentgate.cookies.database import CookieDatabase
from consentgate.cookies.discovery import UndeclaredCookie
from consentgate.cookies.suggestions import RANK, SetBy, Suggestion, suggest
from consentgate.cookies.toml_text import comment, is_pattern, rule_toml, toml_string
from consentgate.enforce.policy import Policy

__all__ = ["Reviewed", "review", "snippets"]


@dataclass(frozen=True, slots=True)
class Reviewed:
    entry: UndeclaredCookie
    suggestion: Suggestion

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``stats.json``'s ``undeclared_cookies`` and the command line."""
        return self.entry.as_dict(self.suggestion.brief())


def review(
    entries: Iterable[UndeclaredCookie],
    policy: Policy,
    *,
    site: str | None = None,
    database: CookieDatabase | None = None,
) -> list[Reviewed]:
    """The entries the policy still does not declare, each with its suggestion."""
    entries = list(entries)
    from_server = {e.name for e in entries if e.direction == "set-cookie"}
    out = []
    for entry in entries:
        if policy.category_of_cookie(entry.name) is not None:
            continue
        set_by: SetBy = "server" if entry.name in from_server else "script"
        out.append(Reviewed(entry, suggest(entry.name, set_by=set_by, site=site, database=database)))
    return out


def snippets(reviewed: Sequence[Reviewed], policy: Policy) -> dict[str, str]:
    """Per suggested category, the ``cookies = [...]`` line to paste into ``[categories.NAME]``:
    what the policy lists there already, then the new names with their platform as a comment.
    Names the database could not place are under ``"to decide"``, as comments."""
    by_category: dict[str, dict[str, Suggestion]] = {}
    undecided: dict[str, Suggestion] = {}
    for item in reviewed:
        found = item.suggestion
        target = by_category.setdefault(found.category, {}) if found.category else undecided
        target.setdefault(item.entry.name, found)
    out: dict[str, str] = {}
    for category in sorted(by_category, key=lambda c: RANK.get(c, 9)):
        header = f"[categories.{category}]  # already in the file? keep one header, replace its cookies"
        lines = [header, "cookies = ["]
        if policy.has_category(category):
            for rule in policy.category(category).cookies:
                lines.append(f"  {rule_toml(rule)},")
        for name, found in by_category[category].items():
            note = comment(found.label())
            if is_pattern(name):
                lines.append(f"  {toml_string(name)},  # {note}")
            else:
                lines.append(f"  # {name}: cannot be written as a policy pattern; {note}")
        lines.append("]")
        out[category] = "\n".join(lines)
    if undecided:
        lines = ["# to decide: not in the cookie database, or it could not place them"]
        for name, found in undecided.items():
            lines.append(f"# {toml_string(name)},  # {comment(found.label())}")
        out["to decide"] = "\n".join(lines)
    return out
