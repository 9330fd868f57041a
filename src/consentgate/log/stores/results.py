"""What a store's queries answer: deletion counts and the dashboard's statistics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["CategoryStats", "DayStats", "Deleted", "StoreStats"]

# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deleted:
    """How many rows a forget or purge removed."""

    receipts: int = 0
    visits: int = 0

    def __add__(self, other: Deleted) -> Deleted:
        return Deleted(self.receipts + other.receipts, self.visits + other.visits)


@dataclass(frozen=True, slots=True)
class CategoryStats:
    granted: int = 0
    refused: int = 0

    @property
    def decisions(self) -> int:
        return self.granted + self.refused

    @property
    def opt_in_rate(self) -> float | None:
        """Share of decisions that granted this category (``None`` without decisions)."""
        return None if self.decisions == 0 else self.granted / self.decisions


@dataclass(frozen=True, slots=True)
class DayStats:
    day: str
    decisions: int
    gpc: int
    students: int
    categories: Mapping[str, CategoryStats] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What the dashboard and ``consentgate stats`` show. Counts only, nothing per visitor."""

    receipts: int
    visits: int
    days: tuple[DayStats, ...]
    categories: Mapping[str, CategoryStats]
    gpc_decisions: int
    student_decisions: int
    since: str | None = None
    visits_dropped: int = 0
    """Visits not recorded because the in-memory queue was full (all processes, same period)."""
    visits_lost: int = 0
    """Queued visits that could not be written before a process shut down."""

    @property
    def decisions(self) -> int:
        return sum(day.decisions for day in self.days)

    @property
    def gpc_share(self) -> float | None:
        return None if self.decisions == 0 else self.gpc_decisions / self.decisions

    @property
    def student_share(self) -> float | None:
        return None if self.decisions == 0 else self.student_decisions / self.decisions

    def as_dict(self) -> dict[str, Any]:
        def category(stats: CategoryStats) -> dict[str, Any]:
            return {"granted": stats.granted, "refused": stats.refused, "opt_in_rate": stats.opt_in_rate}

        return {
            "since": self.since,
            "receipts": self.receipts,
            "visits": self.visits,
            "decisions": self.decisions,
            "gpc_decisions": self.gpc_decisions,
            "gpc_share": self.gpc_share,
            "student_decisions": self.student_decisions,
            "student_share": self.student_share,
            "visits_dropped": self.visits_dropped,
            "visits_lost": self.visits_lost,
            "categories": {name: category(s) for name, s in self.categories.items()},
            "days": [
                {
                    "day": d.day,
                    "decisions": d.decisions,
                    "gpc": d.gpc,
                    "students": d.students,
                    "categories": {name: category(s) for name, s in d.categories.items()},
                }
                for d in self.days
            ],
        }
