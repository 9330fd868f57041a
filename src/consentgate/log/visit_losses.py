"""Visits that were not recorded, counted where the privacy team sees them.

Visit records are best-effort: what is in memory (the queue, the batches being written) is lost if
the process is killed. What can be counted is: visits dropped from a full queue, and visits that
could not be written before a clean shutdown. Each process adds its counts to the store's per-day
counts (``Store.add_counts``), which the dashboard and its ``stats.json`` show for all processes
together. When the store cannot take even the count at shutdown, it is kept beside the spool and
added at the next start.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from consentgate.log.spool import Spool
from consentgate.log.stores.base import Store, StoreError
from consentgate.log.visits import VisitLog

__all__ = ["VisitLosses"]


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


class VisitLosses:
    """The drops and losses of ``visits``, reported to ``store`` (a side job of the writer thread)."""

    def __init__(self, visits: VisitLog, store: Store, spool: Spool) -> None:
        self.visits = visits
        self.store = store
        self.spool = spool
        self._reported = {"visits_dropped": 0, "visits_lost": 0}

    def unreported(self) -> dict[str, int]:
        """Counted here, not yet in the store's counts."""
        counted = {"visits_dropped": self.visits.dropped, "visits_lost": self.visits.lost}
        new = {name: value - self._reported[name] for name, value in counted.items()}
        return {name: value for name, value in new.items() if value > 0}

    def report(self) -> bool:
        """Add what is unreported to the store's counts; False if it refused them (they are
        offered again next time)."""
        counts = self.unreported()
        if not counts:
            return True
        with contextlib.suppress(StoreError):
            self.store.add_counts(counts, _today())
            for name, value in counts.items():
                self._reported[name] += value
            return True
        return False

    def run(self, final: bool) -> None:
        """The writer thread's side job; at the end, what the store refused goes beside the spool."""
        if not self.report() and final:
            counts = self.unreported()
            self.spool.keep_counts(counts, _today())
            for name, value in counts.items():
                self._reported[name] += value

    def restore(self) -> None:
        """Add the counts a shutdown kept beside the spool (at start, the store reachable)."""
        for day, counts in self.spool.take_counts().items():
            try:
                self.store.add_counts(counts, day)
            except StoreError:
                self.spool.keep_counts(counts, day)
