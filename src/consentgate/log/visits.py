"""The visit writer: a bounded in-memory queue and one background thread that empties it.

The request path only appends a small tuple to the queue (:meth:`VisitLog.enqueue`): no parsing,
no I/O, no lock. When the queue is full the visit is dropped and counted, never waited for.
The writer thread takes batches, works out the client address (trusted proxies), minimises each
visit (user agent, country, IP truncation, referrer origin) and writes the batch in one
transaction. It also purges expired rows per the retention rules, at start and periodically, and
on :meth:`VisitLog.stop` it writes everything still queued before returning.
Visits are best-effort: what is in memory is lost if the process is killed (what is counted instead:
:mod:`consentgate.log.visit_losses`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.types import Scope

from consentgate.enforce.consent import Consent
from consentgate.enforce.policy import Retention
from consentgate.log.client_ip import TrustedProxies, client_ip
from consentgate.log.minimise import Minimiser, VisitRecord
from consentgate.log.stores.base import Store, StoreError

__all__ = ["QueuedVisit", "VisitIdentity", "VisitLog", "identity_of", "queued_visit"]

logger = logging.getLogger("consentgate")

VisitIdentity = tuple[str, "str | None", bool]
"""(consent id, tenant, student flag): whom a visit is filed under, one per Consent."""

QueuedVisit = tuple[
    float, str, "str | None", bytes, "bytes | None", "tuple[tuple[bytes, bytes], ...]", VisitIdentity
]
"""(time, path, peer address, User-Agent, Referer, proxy headers, identity) — in memory only.

Plain values (strings, bytes, a float) picked out of the request, not the request's own header
list: a queued visit must not keep the server's per-request objects alive. Those are tracked by
the garbage collector, and holding a few of them per recorded page until the writer runs made
the collector's work, not the enqueue, most of recording's cost. A tuple of plain values is
untracked by the collector the first time it looks at it. The raw values are minimised before
anything leaves memory."""


def identity_of(consent: Consent) -> VisitIdentity:
    """The identity a visit under ``consent`` is filed under (it has a consent id)."""
    if consent.consent_id is None:
        raise ValueError("a visit without a consent id cannot be recorded")
    return (consent.consent_id, consent.tenant, consent.is_student)


def queued_visit(moment: float, scope: Scope, identity: VisitIdentity, proxies: bool) -> QueuedVisit:
    """What the queue keeps of one recorded request (see :data:`QueuedVisit`). ``proxies``: keep
    ``Forwarded`` / ``X-Forwarded-For`` too (only read when the peer is a trusted proxy)."""
    user_agent = b""
    referrer = None
    forwarded: list[tuple[bytes, bytes]] | None = None
    for key, value in scope["headers"]:
        # lowercase from servers; other spellings (an inner app's, a test client's) lowered to compare
        if len(key) == 10 and (key == b"user-agent" or key.lower() == b"user-agent"):
            user_agent = value
        elif len(key) == 7 and (key == b"referer" or key.lower() == b"referer"):
            referrer = value
        elif proxies and (name := key.lower()) in _PROXY_HEADERS:
            if forwarded is None:
                forwarded = []
            forwarded.append((name, value))
    client = scope.get("client")
    return (
        moment, scope["path"], client[0] if client else None, user_agent, referrer,
        () if forwarded is None else tuple(forwarded), identity,
    )  # fmt: skip

STORE_DOWN = "consentgate: visit records cannot be written (%s); %d held, retrying"
STORE_BACK = "consentgate: visit records are written again"
DROPPED = "consentgate: the visit queue is full; %d visit(s) dropped so far (raise queue_size?)"
PURGE_FAILED = "consentgate: purging expired records failed: %s"
MINIMISE_FAILED = "consentgate: a visit could not be minimised and was dropped"
_PROXY_HEADERS = (b"forwarded", b"x-forwarded-for")
_SLICE = 32  # visits minimised on the event loop between two chances for requests to run
SIDE_JOB_FAILED = "consentgate: work on the visit writer's thread failed (ignored)"
LOST_AT_STOP = "consentgate: %d visit record(s) could not be written before shutdown (%s)"
_HELD_BATCHES = 2  # minimised batches waiting for the thread at most: then the queue fills, and drops


class VisitLog:
    """Queue + background writer of visit records.

    Args:
        store: where records go.
        minimiser: turns a raw visit into what may be stored.
        retention: purge rules (visits and receipts).
        trusted_proxies: whose ``Forwarded`` / ``X-Forwarded-For`` headers are believed.
        queue_size: visits held in memory at most; more are dropped (and counted).
        outage_queue_size: visits held at most while the store cannot be written (all a crash
            then loses); default ``queue_size``.
        batch_size: records per transaction.
        flush_interval: seconds the writer waits for a batch to fill before writing what it has.
        purge_interval: seconds between purges of expired rows (``None``: only at start).
    """

    def __init__(
        self,
        store: Store,
        minimiser: Minimiser,
        retention: Retention,
        *,
        trusted_proxies: TrustedProxies | None = None,
        queue_size: int = 10_000,
        outage_queue_size: int | None = None,
        batch_size: int = 500,
        flush_interval: float = 0.25,
        purge_interval: float | None = 3600.0,
    ) -> None:
        if queue_size < 1 or batch_size < 1:
            raise ValueError("queue_size and batch_size must be at least 1")
        if outage_queue_size is not None and not 0 <= outage_queue_size <= queue_size:
            raise ValueError("outage_queue_size must be between 0 and queue_size")
        self.store = store
        self.minimiser = minimiser
        self.retention = retention
        self.trusted = trusted_proxies or TrustedProxies()
        self.queue_size = queue_size
        self.outage_queue_size = queue_size if outage_queue_size is None else outage_queue_size
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.purge_interval = purge_interval
        self.queue: deque[QueuedVisit] = deque()
        self._wake = threading.Event()
        self._done = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._held: list[VisitRecord] = []  # a minimised batch the store refused: retried first
        self._held_count = 0
        self._down = False
        self.handled = 0
        self._in_flight = 0  # taken off the queue, not yet written or given up
        self.dropped = 0
        self.written = 0
        self.failed = 0  # could not be minimised
        self.lost = 0  # could not be written before shutdown
        self.purged_at: float | None = None
        # Loop mode (see start_pump): batches minimised on the event loop wait here for the thread.
        self._minimised: deque[tuple[list[VisitRecord], int]] = deque()
        self._pump: asyncio.Task[None] | None = None
        self._pump_wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_raw = threading.Event()  # flush/stop: the thread minimises what is left itself
        #: other work riding on the writer thread, called after each round with final=True at the
        #: end (live cookie discovery: consentgate.log.cookie_discovery)
        self.side_jobs: list[Callable[[bool], None]] = []

    # -- request path ------------------------------------------------------------------------

    def enqueue(self, item: QueuedVisit) -> bool:
        """Queue one visit; never blocks. False (and counted) when the queue is full.

        (The privacy log inlines exactly this on its hot path: a length check and an append.)
        """
        queue = self.queue
        if len(queue) >= self.queue_size:
            self.note_dropped()
            return False
        queue.append(item)
        return True

    def note_dropped(self) -> None:
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 10_000 == 0:
            logger.warning(DROPPED, self.dropped)

    @property
    def queued(self) -> int:
        return len(self.queue)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="consentgate-visit-writer", daemon=True)
        self._thread.start()

    # -- loop mode -----------------------------------------------------------------------------
    #
    # Minimising in the writer thread makes it compete with the event loop for the GIL: on a busy
    # single-core server every hand-over is a thread switch, and throughput dropped far more than
    # the work costs (load benchmark: 61 % of enforcement-only with the thread, 76 % in loop
    # mode). In loop mode a task on the app's own event loop minimises queued visits in small
    # slices between requests, and the thread only writes (SQLite and psycopg release the GIL).

    def start_pump(self) -> None:
        """Minimise on the running event loop (call from it, after :meth:`start`)."""
        if self._pump is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._pump_wake = asyncio.Event()
        self._pump = self._loop.create_task(self._pump_loop(), name="consentgate-visit-minimiser")

    async def stop_pump(self) -> None:
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        self._loop = None

    async def _pump_loop(self) -> None:
        wake = self._pump_wake
        assert wake is not None
        queue = self.queue
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.flush_interval)
            wake.clear()
            # Nothing more taken off the queue while the store is down or the thread lags behind:
            # the queue then fills up to its bound and drops, instead of memory growing here.
            while queue and not self._down and len(self._minimised) < _HELD_BATCHES:
                batch: list[QueuedVisit] = []
                with self._done:
                    while queue and len(batch) < self.batch_size:
                        batch.append(queue.popleft())
                    self._in_flight += len(batch)
                records: list[VisitRecord] = []
                done = 0
                try:
                    while done < len(batch):
                        records += self._minimise(batch[done : done + _SLICE])
                        done += _SLICE
                        await asyncio.sleep(0)  # let requests through between slices
                finally:  # cancelled at shutdown: finish this batch, nothing taken is lost
                    if done < len(batch):
                        records += self._minimise(batch[done:])
                    self._minimised.append((records, len(batch)))
                    self._wake.set()

    def _poke_pump(self) -> None:
        loop, wake = self._loop, self._pump_wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(wake.set)

    def stop(self, timeout: float = 30.0) -> None:
        """Write what is queued, then end the writer (blocking; run it off the event loop)."""
        thread = self._thread
        self._stopping = True
        self._wake.set()
        if thread is not None:
            thread.join(timeout)
        self._thread = None
        if self.queue or self._held or self._minimised:  # never started, or the store stayed down
            self._drain(final=True)
        if thread is None:
            self._side_jobs(final=True)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every visit queued before this call is written (blocking). Without a running
        writer the work is done in the calling thread."""
        if self._thread is None or not self._thread.is_alive():
            self._drain()
            return not self.queue and not self._held
        with self._done:
            target = self.handled + self._in_flight + len(self.queue)
        deadline = time.monotonic() + timeout
        self._poke_pump()
        self._drain_raw.set()  # do not depend on the event loop being free
        self._wake.set()
        with self._done:
            while self.handled < target or self._held:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._done.wait(remaining)
                self._drain_raw.set()
                self._wake.set()
        return True

    # -- writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        self._purge()
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            if self._down:
                self._trim()
            self._drain()
            if self._stopping:
                self._drain(final=True)
                self._side_jobs(final=True)
                return
            self._side_jobs(final=False)
            interval, last = self.purge_interval, self.purged_at
            if interval is not None and last is not None and time.monotonic() - last >= interval:
                self._purge()

    def _side_jobs(self, final: bool) -> None:
        for job in self.side_jobs:
            try:
                job(final)
            except Exception:
                logger.exception(SIDE_JOB_FAILED)

    def _purge(self) -> None:
        self.purged_at = time.monotonic()
        try:
            deleted = self.store.purge(self.retention, datetime.now(UTC))
        except StoreError as exc:
            logger.warning(PURGE_FAILED, exc)
            return
        if deleted.receipts or deleted.visits:
            logger.info(
                "consentgate: purged %d expired receipt(s) and %d visit record(s)",
                deleted.receipts,
                deleted.visits,
            )

    def _drain(self, final: bool = False) -> None:
        """Minimise and write batches until the queue is empty or the store refuses. A visit
        counts as handled (for :meth:`flush`) once it is written or given up."""
        queue = self.queue
        while True:
            if self._held:
                if not self._write(self._held, final):
                    return
                self._held = []
                self._mark_handled(self._held_count)
                self._held_count = 0
            if self._minimised:
                records, count = self._minimised.popleft()
                if records and not self._write(records, final):
                    self._held, self._held_count = records, count
                    return
                self._mark_handled(count)
                continue
            if self._pump is not None and not final and not self._drain_raw.is_set():
                return  # the event loop minimises; this thread only writes
            self._drain_raw.clear()
            batch: list[QueuedVisit] = []
            with self._done:
                while queue and len(batch) < self.batch_size:
                    batch.append(queue.popleft())
                self._in_flight += len(batch)
            if not batch:
                return
            records = self._minimise(batch)
            if records and not self._write(records, final):
                self._held = records
                self._held_count = len(batch)
                return
            self._mark_handled(len(batch))

    def _minimise(self, batch: list[QueuedVisit]) -> list[VisitRecord]:
        records: list[VisitRecord] = []
        record = self.minimiser.record
        trusted = self.trusted
        for item in batch:
            try:
                moment, path, peer, user_agent, referrer, proxy_headers, (consent_id, tenant, student) = item
                if proxy_headers:  # kept only behind trusted proxies; otherwise the peer is the client
                    client = None if peer is None else (peer, 0)
                    peer = client_ip({"client": client, "headers": proxy_headers}, trusted)
                visit = record(
                    moment, path, peer, user_agent.decode("latin-1"),
                    None if referrer is None else referrer.decode("latin-1"),
                    consent_id, tenant, student,
                )  # fmt: skip
                records.append(visit)
            except Exception:
                self.failed += 1
                logger.exception(MINIMISE_FAILED)
        return records

    def _mark_handled(self, count: int) -> None:
        with self._done:
            self.handled += count
            self._in_flight -= count
            self._done.notify_all()

    def _write(self, records: list[VisitRecord], final: bool) -> bool:
        try:
            self.store.add_visits(records)
        except StoreError as exc:
            if final:
                self.lost += len(records)
                logger.error(LOST_AT_STOP, len(records), exc)
                return True
            if not self._down:
                logger.warning(STORE_DOWN, exc, len(records))
            self._down = True
            self._trim()
            return False
        if self._down:
            logger.warning(STORE_BACK)
            self._down = False
        self.written += len(records)
        with self._done:
            self._done.notify_all()
        return True

    def _trim(self) -> None:
        """While the store is down, hold at most ``outage_queue_size`` queued visits."""
        with contextlib.suppress(IndexError):  # (emptied meanwhile)
            while len(self.queue) > self.outage_queue_size:
                self.queue.pop()
                self.note_dropped()
