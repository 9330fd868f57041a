"""Web storage in tests: a snapshot of a page's localStorage and sessionStorage keys and
IndexedDB databases, and the assertion that none falls outside the allowed categories (the
pytest plugin's ``storage_snapshot`` fixture and :func:`assert_storage_allowed`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from consentgate.audit.recorder import STORAGE_SNAPSHOT
from consentgate.enforce.policy import ESSENTIAL, Policy

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["StorageSnapshot", "assert_storage_allowed", "take_storage_snapshot"]


@dataclass(frozen=True, slots=True)
class StorageSnapshot:
    """What one page's origin keeps in web storage at one moment."""

    local_storage: tuple[str, ...] = ()
    session_storage: tuple[str, ...] = ()
    indexed_db: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[tuple[str, str]]:
        """``(kind, name)`` for every key and database."""
        for kind, names in (
            ("localStorage", self.local_storage),
            ("sessionStorage", self.session_storage),
            ("indexedDB", self.indexed_db),
        ):
            for name in names:
                yield kind, name

    @property
    def names(self) -> frozenset[str]:
        return frozenset(name for _, name in self)


def take_storage_snapshot(page: Page) -> StorageSnapshot:
    """The page's web storage now (its own origin; call it after the page has settled)."""
    found = page.evaluate(STORAGE_SNAPSHOT)
    return StorageSnapshot(
        tuple(sorted(found["localStorage"])),
        tuple(sorted(found["sessionStorage"])),
        tuple(sorted(found["indexedDB"])),
    )


def assert_storage_allowed(
    policy: Policy,
    snapshot: StorageSnapshot,
    allowed: Iterable[str] = (),
    *,
    allow_undeclared: bool | None = None,
) -> None:
    """Fail, naming each one, if a storage key or database belongs to a category outside
    ``allowed`` (essential is always allowed). An undeclared one fails when the policy's
    ``unknown_storage`` is ``"report"``, unless ``allow_undeclared`` says otherwise."""
    __tracebackhide__ = True
    permitted = frozenset(allowed) | {ESSENTIAL}
    undeclared_ok = policy.unknown_storage == "ignore" if allow_undeclared is None else allow_undeclared
    problems = []
    for kind, name in snapshot:
        category = policy.category_of_storage(name)
        if category is None:
            if not undeclared_ok:
                problems.append(f"  - {name} ({kind}): declared by no category's storage in {policy.source}")
        elif category not in permitted:
            problems.append(f"  - {name} ({kind}): category {category}, which is not allowed")
    if problems:
        order = ", ".join(c for c in policy.category_names if c in permitted)
        raise AssertionError(
            f"{len(problems)} web storage item(s) outside the allowed categories (allowed: {order}):\n"
            + "\n".join(problems)
        )
