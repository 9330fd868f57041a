"""A bound on how fast one client can record consent decisions.

Every decision becomes a receipt in the privacy log, so an endless loop of POSTs from one client would
otherwise grow the store without bound. Each client (its consent id when it has one, else its network
address) gets a token bucket: ``burst`` decisions at once, refilled at ``per_minute``. The table of
buckets is itself bounded (least recently used clients are forgotten first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["DEFAULT_DECISION_RATE_LIMIT", "DecisionRateLimit", "RateLimiter"]


@dataclass(frozen=True, slots=True)
class DecisionRateLimit:
    """``burst`` decisions at once, then ``per_minute``; ``max_clients`` buckets are remembered."""

    burst: int = 20
    per_minute: float = 30.0
    max_clients: int = 50_000

    def __post_init__(self) -> None:
        if self.burst < 1 or self.per_minute <= 0 or self.max_clients < 1:
            raise ValueError("decision rate limit: burst >= 1, per_minute > 0 and max_clients >= 1")


DEFAULT_DECISION_RATE_LIMIT = DecisionRateLimit()


class RateLimiter:
    def __init__(self, limit: DecisionRateLimit) -> None:
        self.limit = limit
        self._rate = limit.per_minute / 60.0
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, key: str, now: float | None = None) -> float:
        """Take one token for ``key``: 0.0 when allowed, else the seconds until the next one."""
        moment = time.monotonic() if now is None else now
        buckets = self._buckets
        tokens, last = buckets.pop(key, (float(self.limit.burst), moment))
        tokens = min(float(self.limit.burst), tokens + (moment - last) * self._rate)
        if tokens >= 1.0:
            buckets[key] = (tokens - 1.0, moment)
            wait = 0.0
        else:
            buckets[key] = (tokens, moment)
            wait = (1.0 - tokens) / self._rate
        while len(buckets) > self.limit.max_clients:
            buckets.popitem(last=False)
        return wait
