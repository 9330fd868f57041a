"""The privacy log: proof-of-consent receipts and minimised visit records, as consent allows.

Plug it into the middleware::

    log = PrivacyLog("consentgate.sqlite3", policy)            # or "postgresql://..."
    app.add_middleware(ConsentMiddleware, policy=policy, secret_key=..., privacy_log=log)

It then

* stores a :class:`~consentgate.log.receipts.Receipt` for every decision before ``POST /_consent``
  answers — committed, or, when the store cannot be written, appended to a local spool file and
  fsync'd (the cookie is set either way); the spool is replayed when the store is back (see
  :mod:`~consentgate.log.receipt_writer`);
* records a minimised visit for each counted request (by default successful HTML GETs) *only*
  when the request's consent allows the policy's visit category (default ``analytics``), and for
  students only when the policy (``[visits] students``) and the school allow it (R-MIN-1). The
  request path only enqueues; a background writer does the rest;
* serves ``<prefix>/my-data`` and ``<prefix>/forget`` for the visitor (R-VIS-1, R-VIS-2);
* is started and flushed by the app's lifespan (the middleware calls :meth:`start`/:meth:`stop`),
  or, when no lifespan comes, started by the first request and flushed at process exit
  (:mod:`~consentgate.log.autostart`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.types import Receive, Scope, Send

from consentgate.enforce.consent import Consent
from consentgate.enforce.decisions import Decision
from consentgate.enforce.hooks import DiscoverySink, VisitSink
from consentgate.enforce.policy import Policy
from consentgate.enforce.rate_limit import SharedBuckets
from consentgate.i18n.catalogs import Localizer
from consentgate.log.client_ip import TrustedProxies, client_ip
from consentgate.log.cookie_discovery import CookieDiscovery
from consentgate.log.data_rights import DataRights
from consentgate.log.geo import CountryLookup
from consentgate.log.minimise import Minimiser
from consentgate.log.receipt_writer import ReceiptWriter
from consentgate.log.receipts import Receipt
from consentgate.log.shared_limit import StoreRateLimit
from consentgate.log.spool import Spool
from consentgate.log.stores.base import Store, StoreUnavailable
from consentgate.log.stores.factory import open_store
from consentgate.log.stores.results import Deleted
from consentgate.log.stores.sqlite import SQLiteStore
from consentgate.log.visit_losses import VisitLosses
from consentgate.log.visits import VisitLog, identity_of, queued_visit

__all__ = ["CountPredicate", "PrivacyLog", "default_spool_path"]

logger = logging.getLogger("consentgate")

CountPredicate = Callable[[Scope, int, Sequence[tuple[bytes, bytes]]], bool]
"""``(scope, status, response headers) -> bool``: does this request count as a visit?"""

VISIT_HOOK_FAILED = "consentgate: a visit could not be queued (ignored)"
_now = time.time


def default_spool_path(store: Store) -> Path:
    """Next to the SQLite file; in the working directory for a PostgreSQL store."""
    if isinstance(store, SQLiteStore):
        return store.path.with_name(store.path.name + ".spool")
    return Path("consentgate-receipts.spool")


def _counts_html_get(scope: Scope, status: int, headers: Sequence[tuple[bytes, bytes]]) -> bool:
    if scope["method"] != "GET" or not 200 <= status < 300:
        return False
    for key, value in headers:
        if len(key) == 12 and key.lower() == b"content-type":  # Django sends "Content-Type"
            return value[:9].lower() == b"text/html"
    return False


def _counts_get(scope: Scope, status: int, headers: Sequence[tuple[bytes, bytes]]) -> bool:
    return bool(scope["method"] == "GET" and status < 400)


def _counts_all(scope: Scope, status: int, headers: Sequence[tuple[bytes, bytes]]) -> bool:
    return True


_COUNT_RULES: dict[str, CountPredicate] = {
    "html-get": _counts_html_get,
    "get": _counts_get,
    "all": _counts_all,
}


class PrivacyLog:
    """Receipts, visit records and data rights for one :class:`ConsentMiddleware`.

    Args:
        store: a SQLite file path, ``sqlite:///path``, a ``postgresql://`` URL, or a
            :class:`~consentgate.log.stores.base.Store`.
        policy: the same policy as the middleware (visit rules, retention, consent lifetimes).
        trusted_proxies: addresses/networks of proxies whose ``Forwarded``/``X-Forwarded-For``
            is believed (R-MIN-7); nothing by default.
        geoip_database: a MaxMind country database file; without one no country is recorded.
        spool_path: where receipts wait while the store is down (default: next to the SQLite
            file, or ``./consentgate-receipts.spool`` for PostgreSQL). Keep it on local disk.
        queue_size: visits held in memory at most; more are dropped and counted.
        outage_queue_size: visits held in memory at most while the store cannot be written (a
            crash loses what is held; default ``queue_size``).
        count: ``(scope, status, headers) -> bool`` deciding which requests are visits. Default
            from the policy's ``[visits] record``: ``"html-get"`` successful GETs answered with
            ``text/html``; ``"get"`` GETs below status 400; ``"all"`` every request.
        controller: the operator's name, written into ISO 27560 exports.
        retry_interval: seconds between attempts to reach a store that is down.
        discover_cookies: note the cookie names the middleware sees that the policy does not
            name (names only; see :mod:`consentgate.log.cookie_discovery`).
    """

    def __init__(
        self,
        store: str | Store,
        policy: Policy,
        *,
        trusted_proxies: Sequence[str] | TrustedProxies = (),
        geoip_database: str | Path | None = None,
        spool_path: str | Path | None = None,
        queue_size: int = 10_000,
        outage_queue_size: int | None = None,
        batch_size: int = 500,
        flush_interval: float = 0.25,
        purge_interval: float | None = 3600.0,
        count: CountPredicate | None = None,
        controller: str | None = None,
        retry_interval: float = 1.0,
        discover_cookies: bool = True,
    ) -> None:
        if not isinstance(policy, Policy):
            raise TypeError("policy must be a consentgate.Policy (use Policy.from_file(path))")
        self.policy = policy
        self.store = open_store(store)
        self.spool = Spool(spool_path if spool_path is not None else default_spool_path(self.store))
        trusted = (
            trusted_proxies
            if isinstance(trusted_proxies, TrustedProxies)
            else TrustedProxies.parse(trusted_proxies)
        )
        self.country_lookup = None if geoip_database is None else CountryLookup.open(geoip_database)
        self.visits = VisitLog(
            self.store,
            Minimiser(policy.visits, self.country_lookup),
            policy.retention,
            trusted_proxies=trusted,
            queue_size=queue_size,
            outage_queue_size=outage_queue_size,
            batch_size=batch_size,
            flush_interval=flush_interval,
            purge_interval=purge_interval,
        )
        self.losses = VisitLosses(self.visits, self.store, self.spool)  # counted for the dashboard
        self.visits.side_jobs.append(self.losses.run)
        self.discovery = CookieDiscovery(self.store) if discover_cookies else None
        if self.discovery is not None:
            self.visits.side_jobs.append(self.discovery.run)
        self.controller = controller
        self.retry_interval = retry_interval
        default_rule = policy.visits.record
        self._count: CountPredicate | None = count or (
            None if default_rule == "html-get" else _COUNT_RULES[default_rule]
        )
        self._category = policy.visits.category
        self._students = policy.visits.students
        self._queue = self.visits.queue
        self._queue_size = queue_size
        self._proxies = bool(trusted)  # proxy headers only matter behind a trusted proxy
        self.rights = DataRights(policy, self.store, self.forget)
        self.receipts = ReceiptWriter(self.store, self.spool, retry_interval)
        self._shared_limit: StoreRateLimit | None = None
        self._replay_task: asyncio.Task[None] | None = None
        self._started = False
        self.visit_errors = 0

    def __repr__(self) -> str:
        return f"PrivacyLog({self.store!r}, spool={self.spool.path})"

    # -- receipts (PrivacyLogHooks.record_decision) -----------------------------------------

    async def record_decision(self, decision: Decision) -> None:
        """Make the receipt durable before the consent endpoint answers: committed to the
        store, or fsync'd to the spool when the store cannot take it. Raises only when both
        fail (the endpoint then answers 503 and sets no cookie)."""
        await self.receipts.write(Receipt.from_decision(decision, self.policy))
        if not self._started and self.spool.has_pending() and not self.receipts.down():
            await asyncio.to_thread(self.replay_spool)  # no lifespan: replay as decisions come

    def replay_spool(self) -> int:
        """Copy spooled receipts into the store (blocking). Returns how many were new."""
        return self.receipts.replay()

    @property
    def receipts_stored(self) -> int:
        return self.receipts.stored

    @property
    def receipts_spooled(self) -> int:
        return self.receipts.spooled

    # -- visits (PrivacyLogHooks.record_visit) ----------------------------------------------

    def record_visit(
        self, scope: Scope, consent: Consent, status: int, headers: list[tuple[bytes, bytes]]
    ) -> None:
        """Queue the visit if it counts and consent allows it (R-MIN-1); never blocks or raises.

        It does the least it can: a few comparisons and one tuple appended to the queue;
        minimising and writing happen in the background.
        """
        try:
            if self._category not in consent.granted:
                return
            consent_id = consent.consent_id
            if consent_id is None or (consent.is_student and not self._students):
                return
            # (With the default rule the middleware queues inline instead: see visit_sink.)
            if not (self._count or _counts_html_get)(scope, status, headers):
                return
            queue = self._queue
            if len(queue) >= self._queue_size:
                self.visits.note_dropped()
                return
            queue.append(queued_visit(_now(), scope, identity_of(consent), self._proxies))
        except Exception:
            self.visit_errors += 1
            if self.visit_errors == 1:
                logger.exception(VISIT_HOOK_FAILED)

    def visit_sink(self) -> VisitSink | None:
        """Lets the middleware queue default-counted visits inline (see :class:`VisitSink`)."""
        if self._count is not None:
            return None  # a custom predicate: the middleware calls record_visit
        return VisitSink(self._queue, self._queue_size, self._category, self._students,
                         self.visits.note_dropped, self._proxies)

    def discovery_sink(self) -> DiscoverySink | None:
        """Lets the middleware note undeclared cookie names (live discovery)."""
        return None if self.discovery is None else self.discovery.sink()

    def client_address(self, scope: Scope) -> str | None:
        """The visitor's address as this log sees it: the connection's peer or, behind one of its
        trusted proxies, the address the proxy forwarded (the decision rate limit keys on it)."""
        return client_ip(scope, self.visits.trusted)

    def rate_buckets(self) -> SharedBuckets:
        """The decision rate limit's buckets in this log's store, shared by every process that
        writes to it (see :mod:`consentgate.log.shared_limit`)."""
        if self._shared_limit is None:
            self._shared_limit = StoreRateLimit(self.store, lambda: not self.receipts.down())
        return self._shared_limit

    # -- lifespan ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Prepare the store (migrations), copy any spool left by a crash, start the writer."""
        await asyncio.to_thread(self._startup)
        self.visits.start()
        self.visits.start_pump()
        if self._replay_task is None:
            self._replay_task = asyncio.create_task(self.receipts.replay_loop())
        self._started = True

    def _startup(self) -> None:
        try:
            self.store.migrate()
        except StoreUnavailable as exc:
            self.receipts.note_down(exc)  # receipts spool until it is reachable
            return
        self.replay_spool()
        self.losses.restore()

    async def stop(self) -> None:
        """Write every queued visit and try once more to empty the spool."""
        await self.visits.stop_pump()
        task, self._replay_task = self._replay_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(self._shutdown)
        self._started = False

    def stop_blocking(self) -> None:
        """:meth:`stop` without an event loop (at process exit): write what is queued, close."""
        self._shutdown()
        self._started = False

    def _shutdown(self) -> None:
        self.receipts.close()  # what is submitted is committed (or spooled) first
        self.visits.stop()
        if self._shared_limit is not None:
            self._shared_limit.close()
        self.losses.run(final=True)  # again: what stop() found still queued after the thread ended
        self.receipts.retry_now()
        self.replay_spool()
        self.store.close()

    # -- data rights (PrivacyLogHooks.handle) -----------------------------------------------

    async def handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        consent: Consent,
        clear_headers: list[tuple[bytes, bytes]],
        https: bool | None = None,
    ) -> bool:
        return await self.rights.handle(scope, receive, send, consent, clear_headers, https)

    def use_localizer(self, localizer: Localizer) -> None:
        """Speak to visitors through ``localizer`` (the middleware's: same languages and site packs
        as its banner)."""
        self.rights.localizer = localizer

    async def forget(self, consent_id: str) -> Deleted:
        """Delete everything recorded under ``consent_id``: queued visits are written first so
        none arrives after the deletion, spooled receipts are dropped, then the rows go."""
        return await asyncio.to_thread(self.forget_sync, consent_id=consent_id)

    def forget_sync(self, *, consent_id: str | None = None, tenant: str | None = None) -> Deleted:
        self.visits.flush()
        with self.receipts.lock:
            self.spool.remove(consent_id=consent_id, tenant=tenant)
            return self.store.forget(consent_id=consent_id, tenant=tenant)

    def counters(self) -> dict[str, Any]:
        """Operational counts (for the dashboard and health checks); nothing per visitor."""
        return {
            "receipts_stored": self.receipts.stored,
            "receipts_spooled": self.receipts.spooled,
            "spool_pending": self.spool.has_pending(),
            "visits_queued": self.visits.queued,
            "visits_written": self.visits.written,
            "visits_dropped": self.visits.dropped,
            "visits_lost": self.visits.lost,
            "visits_failed": self.visits.failed + self.visit_errors,
            "undeclared_dropped": 0 if self.discovery is None else self.discovery.dropped,
        }
