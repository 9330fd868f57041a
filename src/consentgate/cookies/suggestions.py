"""From a database match to a suggestion a person can act on.

A name match is a suggestion, not a verdict. The database describes specific platforms:
``sessionid`` is listed as Instagram's marketing cookie, yet Django's session cookie has the
same name. So when a cookie is set by the site's *own server* and every entry the database has
for the name is a third-party cookie of another platform, the suggestion says "name matches
Instagram (third-party)" and places the cookie in no category. A tag's script running on the
site sets its cookies first-party whatever the database's Domain column says (that is how
``_fbp`` or ``_clck`` reach a site), so script-set cookies keep the database's category.

When alternatives across platforms disagree, the strictest category is suggested (the one that
needs the most consent): a wrong guess then blocks a cookie until someone looks, never lets one
through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from consentgate.cookies.database import DATABASE_NAME, CookieDatabase, CookieEntry, default_database

__all__ = ["RANK", "SetBy", "Suggestion", "stricter", "suggest"]

SetBy = Literal["server", "script"]

#: How much consent each of the four categories needs (higher: stricter).
RANK = {"essential": 0, "personalization": 1, "analytics": 2, "marketing": 3}


def stricter(database: str, declared: str) -> bool:
    """Whether the database's category needs more consent than where the policy puts a cookie.

    A category of the policy's own (``video``) needs consent, like personalization at least.
    """
    if database not in RANK:
        return False
    return RANK[database] > RANK.get(declared, RANK["personalization"])


@dataclass(frozen=True, slots=True)
class Suggestion:
    """What consentgate suggests for one name."""

    name: str
    matched: str | None
    """The database pattern that matched (``_ga_*``), or ``None`` when the name is unknown."""
    category: str | None
    """The suggested category, or ``None``: unknown, or not placed (see :attr:`note`)."""
    entries: tuple[CookieEntry, ...] = ()
    note: str | None = None
    """Why a known name was not placed, e.g. ``name matches Instagram (third-party)``."""

    @property
    def known(self) -> bool:
        return self.matched is not None

    @property
    def platform(self) -> str | None:
        platforms = tuple(dict.fromkeys(e.platform for e in self.entries if e.platform))
        return " / ".join(platforms) if platforms else None

    @property
    def best(self) -> CookieEntry | None:
        """The entry the category came from (else the first)."""
        for entry in self.entries:
            if entry.category == self.category:
                return entry
        return self.entries[0] if self.entries else None

    @property
    def description(self) -> str | None:
        best = self.best
        return best.description or None if best is not None else None

    @property
    def retention(self) -> str | None:
        best = self.best
        return best.retention or None if best is not None else None

    def label(self) -> str:
        """One line for people: ``Google Analytics, analytics: ID used to identify users``."""
        if not self.known:
            return "not in the cookie database"
        if self.note:
            return self.note
        text = f"{self.platform or 'unknown platform'}, {self.category or 'no category'}"
        return f"{text}: {self.description}" if self.description else text

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``consentgate cookies lookup --json``."""
        return {
            "name": self.name,
            "category": self.category,
            "platform": self.platform,
            "description": self.description,
            "retention": self.retention,
            "matched": self.matched,
            "note": self.note,
            "alternatives": [
                {
                    "platform": e.platform,
                    "category": e.category,
                    "database_category": e.source_category,
                    "domain": e.domain,
                    "description": e.description,
                    "retention": e.retention,
                }
                for e in self.entries
            ],
        }

    def brief(self) -> dict[str, Any] | None:
        """``{"category", "platform", "description"}`` for a known name, else ``None``."""
        if not self.known:
            return None
        return {"category": self.category, "platform": self.platform, "description": self.description}


def _own_platform(entry: CookieEntry, site: str | None) -> bool:
    """Whether the entry's platform domain is the site itself (instagram.com's own sessionid)."""
    if not site:
        return False
    site = site.lower().rstrip(".")
    return any(site == d or site.endswith("." + d) for d in entry.domain_names())


def suggest(
    name: str,
    *,
    set_by: SetBy | None = None,
    site: str | None = None,
    database: CookieDatabase | None = None,
) -> Suggestion:
    """The suggestion for a cookie (or storage key) name.

    ``set_by``: ``"server"`` when the site's own server sent it in ``Set-Cookie`` (then the
    third-party rule applies), ``"script"`` when a script in the page wrote it, ``None`` unknown.
    ``site``: the site's host name, so a platform's own site keeps its own cookies' categories.
    """
    db = database if database is not None else default_database()
    match = db.lookup(name)
    if match is None:
        return Suggestion(name, None, None)
    entries = match.entries
    if set_by == "server" and all(e.third_party and not _own_platform(e, site) for e in entries):
        platforms = " / ".join(match.platforms) or "another platform"
        note = f"name matches {platforms} (third-party)"
        return Suggestion(name, match.matched, None, entries, note)
    return Suggestion(name, match.matched, _strictest(c.category for c in entries), entries)


def _strictest(categories: Any) -> str | None:
    known: Sequence[str] = [c for c in categories if c in RANK]
    return max(known, key=RANK.__getitem__) if known else None


def attribution() -> str:
    """The line naming the database's source and licence (for pages and files that show its text)."""
    return f"Descriptions marked as such come from the {DATABASE_NAME} (Apache-2.0)."
