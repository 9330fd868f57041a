"""Live discovery of undeclared cookies, riding on the privacy log's visit writer.

The middleware appends one tuple per request that carries a cookie name no policy rule names
(see :class:`~consentgate.enforce.hooks.DiscoverySink`); the visit writer's thread calls
:meth:`CookieDiscovery.run` on each of its rounds, which folds what is queued into tallies
(:class:`~consentgate.cookies.discovery.Folder`) and, every ``write_interval`` seconds and at
shutdown, adds them to the store's ``consentgate_undeclared_cookies`` table. Names only: the
queue holds names, a path and a time, never a cookie value or anything about the visitor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from consentgate.cookies.discovery import MAX_NAMES, Folder, Sighting, Tally
from consentgate.enforce.hooks import DiscoverySink
from consentgate.log.stores.base import Store, StoreError

__all__ = ["CookieDiscovery"]

logger = logging.getLogger("consentgate")

WRITE_FAILED = "consentgate: undeclared cookie names could not be written (%s); kept and retried"
LOST_AT_STOP = "consentgate: %d undeclared cookie tally(ies) could not be written before shutdown (%s)"
QUEUE_FULL = "consentgate: the undeclared-cookie queue is full; %d request(s) not noted so far"


class CookieDiscovery:
    """The queue the middleware notes undeclared names on, and their folding and writing.

    Args:
        store: where tallies go (the privacy log's store).
        queue_size: requests held until the writer's next round; more are dropped and counted.
        max_names: stored (name, direction) entries at most; later new names are dropped.
        write_interval: seconds between writes of what was folded (and at shutdown).
    """

    def __init__(
        self,
        store: Store,
        *,
        queue_size: int = 10_000,
        max_names: int = MAX_NAMES,
        write_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if queue_size < 1 or max_names < 1:
            raise ValueError("queue_size and max_names must be at least 1")
        self.store = store
        self.queue: deque[Sighting] = deque()
        self.queue_size = queue_size
        self.folder = Folder(max_names=max_names)
        self.write_interval = write_interval
        self._clock = clock
        self._written_at: float | None = None
        self._known_loaded = False
        self._lock = threading.Lock()
        self._failing = False
        self.dropped = 0
        self.written = 0

    def sink(self) -> DiscoverySink:
        """What the middleware appends to (inline, on the few requests that need it)."""
        return DiscoverySink(self.queue, self.queue_size, self.note_dropped)

    def note_dropped(self) -> None:
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 10_000 == 0:
            logger.warning(QUEUE_FULL, self.dropped)

    # -- the writer thread ---------------------------------------------------------------------

    def run(self, final: bool = False) -> None:
        """Fold what is queued; write when ``write_interval`` has passed, or at shutdown."""
        with self._lock:
            self._fold()
            now = self._clock()
            due = self._written_at is None or now - self._written_at >= self.write_interval
            if self.folder.pending and (due or final):
                self._write(final)
                self._written_at = now

    def flush(self) -> None:
        """Fold and write everything queued now (blocking: tests, shutdown, the command line)."""
        with self._lock:
            self._fold()
            self._write(final=False)

    def _fold(self) -> None:
        queue = self.queue
        if not self._known_loaded:
            try:
                self.folder.known = self.store.undeclared_keys()
                self._known_loaded = True
            except StoreError:
                pass  # counted against the bound once the store answers
        batch: list[Sighting] = []
        while queue:
            batch.append(queue.popleft())
        if batch:
            self.folder.add(batch)

    def _write(self, final: bool) -> None:
        pending = self.folder.take()
        if not pending:
            return
        try:
            self.store.add_undeclared_cookies(pending)
        except StoreError as exc:
            if final:
                logger.error(LOST_AT_STOP, len(pending), exc)
                return
            if not self._failing:
                logger.warning(WRITE_FAILED, exc)
            self._failing = True
            self._restore(pending)
            return
        self._failing = False
        self.written += len(pending)

    def _restore(self, pending: dict[tuple[str, str], Tally]) -> None:
        """Put tallies the store refused back, merged with what came in meanwhile."""
        current = self.folder.pending
        for key, tally in pending.items():
            newer = current.get(key)
            if newer is not None:
                tally.count += newer.count
                tally.first_seen = min(tally.first_seen, newer.first_seen)
                tally.last_seen = max(tally.last_seen, newer.last_seen)
            current[key] = tally
