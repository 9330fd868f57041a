"""The decision rate limit's buckets in the privacy log's store, shared by every process using it.

Each worker and instance keeps its own table of buckets in front (the fast path: a client flooding
one process is refused there without touching the database); a decision that table lets through
also takes a token here, in the store (:meth:`~consentgate.log.stores.base.Store.take_tokens`),
so the documented limit holds for the whole site. Takes arriving together share one transaction
(:mod:`~consentgate.log.group_commit`), which never waits for the disk.

The limit protects the receipt log from growing without bound; it is not worth failing decisions
for. While the store is down, or if a take fails, the per-process limit alone applies.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from itertools import groupby

from consentgate.enforce.rate_limit import DecisionRateLimit
from consentgate.log.group_commit import GroupCommit
from consentgate.log.stores.base import Store, StoreError

__all__ = ["StoreRateLimit"]

logger = logging.getLogger("consentgate")

TAKE_FAILED = (
    "consentgate: the shared decision rate limit could not be read from the store (%s); "
    "each process applies its own limit meanwhile"
)

_Take = tuple[str, float, float, int]  # client, now, interval, burst


class StoreRateLimit:
    """Implements :class:`consentgate.enforce.rate_limit.SharedBuckets` over ``store``.

    ``available``: whether the store is worth asking now (the privacy log says no while it
    spools receipts).
    """

    def __init__(self, store: Store, available: Callable[[], bool]) -> None:
        self.store = store
        self._available = available
        self._takes: GroupCommit[_Take, bool] = GroupCommit(self._take_batch, name="consentgate-rate-limit")
        self._failed_logged = False

    async def take(self, client: str, limit: DecisionRateLimit, now: float | None = None) -> float:
        """0.0 when ``client`` may decide, else the seconds until it may (at most one interval:
        a refused take does not move the bucket on)."""
        if not self._available():
            return 0.0
        interval = 60.0 / limit.per_minute
        moment = time.time() if now is None else now
        allowed = await self._takes.run((client, moment, interval, limit.burst))
        return 0.0 if allowed else interval

    def _take_batch(self, takes: list[_Take]) -> list[bool]:
        results: list[bool] = []
        try:
            # One middleware has one limit; a log shared by several might see a few.
            for (interval, burst), group in groupby(takes, key=lambda take: (take[2], take[3])):
                pairs = [(client, now) for client, now, *_ in group]
                results += self.store.take_tokens(pairs, interval=interval, burst=burst)
        except StoreError as exc:
            if not self._failed_logged:
                self._failed_logged = True
                logger.warning(TAKE_FAILED, exc)
            return [True] * len(takes)
        self._failed_logged = False
        return results

    def close(self) -> None:
        self._takes.close()
