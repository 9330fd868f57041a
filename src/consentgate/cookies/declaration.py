"""The cookie declaration: every cookie rule of the policy with who sets it, what it is for and
how long it lives, as visitors are shown it (the preferences dialog, ``GET /_consent/cookies``, a
site's own privacy notice).

The policy says it first: a rule in table form may carry ``description``, ``duration`` (text, or
a table per language) and ``provider``. Where it leaves one out, the cookie database fills it
in, in English, marked as such — but only from an entry of the category the policy puts the
cookie in, and of the provider the policy names, if it names one: a database entry that
disagrees describes some other platform's cookie of the same name (a site's own ``sessionid``
is not Instagram's), and showing its text would tell visitors something false.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from consentgate.cookies.database import DATABASE_NAME, CookieDatabase, CookieEntry, default_database
from consentgate.enforce.policy import Category, CookieRule, Policy

__all__ = ["Declaration", "DeclaredCategory", "DeclaredCookie", "provider_matches"]


def provider_matches(provider: str, platform: str) -> bool:
    """Whether a policy's provider names the database's platform ("Google" ~ "Google Analytics")."""
    a, b = provider.strip().lower(), platform.strip().lower()
    return bool(a and b) and (a in b or b in a)


@dataclass(frozen=True, slots=True)
class DeclaredCookie:
    """One cookie rule as the declaration shows it."""

    rule: CookieRule
    category: str
    entry: CookieEntry | None
    """The database entry that fills in what the policy leaves out (``None``: nothing fits)."""

    @property
    def name(self) -> str:
        return self.rule.pattern

    def provider(self) -> tuple[str | None, bool]:
        """(who sets it, whether that came from the database)."""
        if self.rule.provider:
            return self.rule.provider, False
        if self.entry is not None and self.entry.platform:
            return self.entry.platform, True
        return None, False

    def description(self, language: str) -> tuple[str | None, bool]:
        text = self.rule.description(language)
        if text:
            return text, False
        if self.entry is not None and self.entry.description:
            return self.entry.description, True
        return None, False

    def duration(self, language: str) -> tuple[str | None, bool]:
        text = self.rule.duration(language)
        if text:
            return text, False
        if self.entry is not None and self.entry.retention:
            return self.entry.retention, True
        return None, False

    def view(self, language: str) -> dict[str, Any]:
        """What one row shows, in ``language`` where the policy has it (JSON-ready)."""
        provider, provider_db = self.provider()
        description, description_db = self.description(language)
        duration, duration_db = self.duration(language)
        flags = (("provider", provider_db), ("description", description_db), ("duration", duration_db))
        from_database = [key for key, flag in flags if flag]
        return {
            "name": self.name,
            "provider": provider,
            "description": description,
            "duration": duration,
            "from_database": from_database,
        }


@dataclass(frozen=True, slots=True)
class DeclaredCategory:
    category: Category
    cookies: tuple[DeclaredCookie, ...]


class Declaration:
    """The declaration of one policy; built once (it reads the cookie database)."""

    source = DATABASE_NAME

    def __init__(self, policy: Policy, database: CookieDatabase | None = None) -> None:
        db = database if database is not None else default_database()
        self.policy = policy
        self.categories = tuple(
            DeclaredCategory(
                category,
                tuple(
                    DeclaredCookie(r, category.name, _fill(db, r, category.name)) for r in category.cookies
                ),
            )
            for category in policy.categories
        )

    def __iter__(self) -> Any:
        return iter(self.categories)

    def cookies(self) -> Iterable[DeclaredCookie]:
        for declared in self.categories:
            yield from declared.cookies

    @property
    def uses_database(self) -> bool:
        """Whether any row shows text from the database (pages then name it)."""
        return any(c.entry is not None for c in self.cookies())


def _fill(db: CookieDatabase, rule: CookieRule, category: str) -> CookieEntry | None:
    """The database entry to fill this rule's gaps from, if one agrees with the policy."""
    match = db.lookup(rule.pattern)
    if match is None:
        return None
    for entry in match.entries:
        if entry.category != category:
            continue
        if rule.provider and not provider_matches(rule.provider, entry.platform):
            continue
        return entry
    return None
