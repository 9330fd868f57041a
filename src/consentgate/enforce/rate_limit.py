"""A bound on how fast one client can record consent decisions.

Every decision becomes a receipt in the privacy log, so an endless loop of POSTs from one client would
otherwise grow the store without bound. Each client (its consent id when it has one, else its network
address) gets a token bucket: ``burst`` decisions at once, refilled at ``per_minute``. An address may
stand for a whole school or office behind one NAT, each person's first decision coming from it, so an
address's bucket is ``per_address`` times larger. The table of buckets is itself bounded (least
recently used clients are forgotten first).

That table lives in one process. With several workers or instances, a client's decisions spread over
them and each would allow the full limit. When the buckets can be shared (:class:`SharedBuckets`: the
privacy log's store implements it), a decision the local table allows also takes a token from the
shared bucket, so the limit holds for the whole site; the local table stays in front as a fast path
that refuses a flood without asking the store. Shared buckets are keyed by a keyed hash of the client
key (no address leaves the process).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Protocol

__all__ = ["DEFAULT_DECISION_RATE_LIMIT", "DecisionRateLimit", "RateLimiter", "SharedBuckets"]


@dataclass(frozen=True, slots=True)
class DecisionRateLimit:
    """``burst`` decisions at once, then ``per_minute``; ``max_clients`` buckets are remembered per
    process. ``shared``: with a privacy log, the limit holds across every process writing to its
    store (else each process allows it on its own). ``per_address``: a browser without a consent id
    yet (its first decision) is known only by its network address, which many people may share (a
    school's NAT); such a bucket holds and refills this many times more."""

    burst: int = 20
    per_minute: float = 30.0
    max_clients: int = 50_000
    shared: bool = True
    per_address: int = 10

    def __post_init__(self) -> None:
        if self.burst < 1 or self.per_minute <= 0 or self.max_clients < 1 or self.per_address < 1:
            raise ValueError(
                "decision rate limit: burst >= 1, per_minute > 0, max_clients >= 1 and per_address >= 1"
            )

    def for_address(self) -> DecisionRateLimit:
        """The limit of a bucket keyed by a network address (``per_address`` times this one)."""
        factor = self.per_address
        return replace(self, burst=self.burst * factor, per_minute=self.per_minute * factor, per_address=1)


DEFAULT_DECISION_RATE_LIMIT = DecisionRateLimit()


class SharedBuckets(Protocol):
    """Token buckets that several processes share (``consentgate.log.shared_limit``)."""

    async def take(self, client: str, limit: DecisionRateLimit, now: float | None = None) -> float:
        """One token from ``client``'s bucket: 0.0 when allowed, else the seconds until the next.
        ``now``: wall-clock time (default: the current time). Never raises: when the shared
        state cannot be read, it allows (each process's own limit still applies)."""
        ...


class RateLimiter:
    """The buckets of one middleware: its own table, and the shared buckets when there are any.

    ``key``: secret material for the shared buckets' keyed hash (derived from the cookie key).
    Clients are keyed ``"id:<consent id>"`` or ``"ip:<address>"``; the latter get
    :meth:`DecisionRateLimit.for_address`.
    """

    def __init__(
        self, limit: DecisionRateLimit, shared: SharedBuckets | None = None, *, key: bytes = b""
    ) -> None:
        self.limit = limit
        self.shared = shared
        self._key = key
        self._address_limit = limit.for_address()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, key: str, now: float | None = None) -> float:
        """Take one token for ``key`` from this process's table: 0.0 when allowed, else the
        seconds until the next one. ``now``: a monotonic clock reading (default: the current)."""
        moment = time.monotonic() if now is None else now
        limit = self._limit_of(key)
        burst = float(limit.burst)
        rate = limit.per_minute / 60.0
        buckets = self._buckets
        tokens, last = buckets.pop(key, (burst, moment))
        tokens = min(burst, tokens + (moment - last) * rate)
        if tokens >= 1.0:
            buckets[key] = (tokens - 1.0, moment)
            wait = 0.0
        else:
            buckets[key] = (tokens, moment)
            wait = (1.0 - tokens) / rate
        while len(buckets) > self.limit.max_clients:
            buckets.popitem(last=False)
        return wait

    async def admit(self, key: str, now: float | None = None, wall: float | None = None) -> float:
        """:meth:`acquire`, then, when it allows and buckets are shared, a token from the shared
        bucket too: 0.0 when the decision may go ahead, else the seconds to wait. ``now`` is the
        local (monotonic) clock, ``wall`` the shared one (epoch seconds)."""
        wait = self.acquire(key, now)
        if wait > 0 or self.shared is None:
            return wait
        limit = self._limit_of(key)
        wait = await self.shared.take(self.pseudonym(key), limit, wall)
        if wait > 0:
            # Refused by the site-wide bucket: this table gives its token back, so it never
            # refuses more than the shared one would (it only sees this process's share).
            bucket = self._buckets.get(key)
            if bucket is not None:
                self._buckets[key] = (min(float(limit.burst), bucket[0] + 1.0), bucket[1])
        return wait

    def _limit_of(self, key: str) -> DecisionRateLimit:
        return self._address_limit if key.startswith("ip:") else self.limit

    def pseudonym(self, key: str) -> str:
        """The shared buckets' name for ``key``: a keyed hash (not reversible without the secret)."""
        digest = hmac.new(self._key, key.encode("utf-8", "surrogateescape"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode("ascii")
