"""Checks of a policy against the cookie database (``consentgate check`` prints them as warnings).

A declared cookie whose database category is stricter than where the policy puts it (``_fbp``
declared essential) is most likely a mistake: it would be set without the consent it needs.
When the database lists the name under several platforms and one of them agrees with the
policy, the policy may well mean that one: no warning.
The database can be wrong about a site's own cookie that shares a platform's name, so a rule
that names a ``provider`` other than the database's platforms is taken at its word.
"""

from __future__ import annotations

from dataclasses import dataclass

from consentgate.cookies.database import DATABASE_NAME, CookieDatabase
from consentgate.cookies.declaration import provider_matches
from consentgate.cookies.suggestions import Suggestion, stricter, suggest
from consentgate.enforce.policy import Policy

__all__ = ["PolicyWarning", "check_policy"]


@dataclass(frozen=True, slots=True)
class PolicyWarning:
    """A declared cookie the database puts in a stricter category."""

    key: str
    name: str
    declared: str
    suggestion: Suggestion

    @property
    def message(self) -> str:
        found = self.suggestion
        best = found.best
        platform = found.platform or "another platform"
        third = " (a third-party cookie there)" if best is not None and best.third_party else ""
        what = f": {found.description}" if found.description else ""
        return (
            f"{self.key}: {self.name} is declared {self.declared}, but the {DATABASE_NAME} lists "
            f"{found.matched} as {found.category} ({platform}{third}{what}). Move it to "
            f"[categories.{found.category}]"
            + (
                ", or, if it is a cookie of your own that shares the name, say whose it is: "
                f'{{ name = "{self.name}", provider = "..." }}'
                if ".cookies[" in self.key
                else "."
            )
        )


def _disagrees(found: Suggestion, declared: str) -> bool:
    """Whether every database alternative needs more consent than the policy's category."""
    if found.category is None or not stricter(found.category, declared):
        return False
    # Alternatives across platforms: one that agrees with the policy may be the right one.
    return not any(e.category is not None and not stricter(e.category, declared) for e in found.entries)


def check_policy(policy: Policy, database: CookieDatabase | None = None) -> list[PolicyWarning]:
    """Warnings for declared cookies (and storage keys) whose database category is stricter."""
    out = []
    for category in policy.categories:
        for index, rule in enumerate(category.cookies):
            found = suggest(rule.pattern, database=database)
            if not _disagrees(found, category.name):
                continue
            if rule.provider and not any(provider_matches(rule.provider, e.platform) for e in found.entries):
                continue  # the policy says whose cookie it is: not the database's platform's
            key = f"categories.{category.name}.cookies[{index}]"
            out.append(PolicyWarning(key, rule.pattern, category.name, found))
        for index, pattern in enumerate(category.storage):  # the database knows some storage keys
            found = suggest(pattern, database=database)
            if _disagrees(found, category.name):
                key = f"categories.{category.name}.storage[{index}]"
                out.append(PolicyWarning(key, pattern, category.name, found))
    return out
