"""Receipts made durable before a decision is answered (R-CON-9): committed to the store in batches,
or appended to the spool when the store cannot take them, and copied from the spool when it can.

Decisions arriving together share one transaction (:mod:`~consentgate.log.group_commit`). Every
store bounds a write (SQLite's busy timeout, PostgreSQL's lock and statement timeouts); a write that
fails marks the store down for ``retry_interval`` seconds, during which receipts go straight to the
spool, and the log says so once. Only the process that said the store was down says it is back:
the workers of an instance share one spool, and whichever copies it into the store says only that.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from consentgate.log.group_commit import GroupCommit
from consentgate.log.receipts import Receipt
from consentgate.log.spool import Spool
from consentgate.log.stores.base import Store, StoreError, StoreUnavailable

__all__ = ["ReceiptWriter"]

logger = logging.getLogger("consentgate")

STORE_DOWN = (
    "consentgate: the privacy log store is unavailable (%s); receipts are spooled to %s "
    "and copied into the store when it is back"
)
STORE_BACK = "consentgate: the privacy log store is back; receipts are committed again"
REPLAYED = "consentgate: %d spooled receipt(s) copied into the store"
REPLAY_FAILED = "consentgate: spooled receipts could not be copied into the store yet (%s)"
NO_ANSWER = "%s: no answer within %g s"
# How long a decision waits for its batch before spooling the receipt itself. The stores bound
# each attempt (2 s by default), so this only catches I/O that hangs below them (a network that
# drops packets silently).
COMMIT_WAIT = 10.0


class ReceiptWriter:
    """The receipts of one privacy log: into ``store``, or ``spool`` while the store is down."""

    def __init__(self, store: Store, spool: Spool, retry_interval: float) -> None:
        self.store = store
        self.spool = spool
        self.retry_interval = retry_interval
        #: held while the spool is copied into the store, and by a "forget" (so it reaches both)
        self.lock = threading.Lock()
        self.stored = 0
        self.spooled = 0
        self._batches: GroupCommit[Receipt, None] = GroupCommit(self._commit, name="consentgate-receipts")
        self._down_until = 0.0
        self._down_logged = False

    async def write(self, receipt: Receipt) -> None:
        """Committed or fsync'd to the spool when this returns; raises only when both failed."""
        if self.down():
            await asyncio.to_thread(self._spool, [receipt])  # no waiting on a store that is down
            return
        batch = asyncio.wrap_future(self._batches.submit(receipt))
        try:
            await asyncio.wait_for(asyncio.shield(batch), COMMIT_WAIT)
        except TimeoutError:
            # Spooled here; should the batch still commit it, the replay stores nothing twice.
            self.note_down(StoreUnavailable(NO_ANSWER % (self.store.description, COMMIT_WAIT)))
            await asyncio.to_thread(self._spool, [receipt])

    def _commit(self, receipts: list[Receipt]) -> list[None]:
        """One batch (the group commit thread): one transaction, or the spool."""
        if not self.down():
            try:
                self.store.add_receipts(receipts)
            except StoreError as exc:
                self.note_down(exc)
            else:
                self.stored += len(receipts)
                self._note_up()
                return [None] * len(receipts)
        self._spool(receipts)
        return [None] * len(receipts)

    def _spool(self, receipts: list[Receipt]) -> None:
        self.spool.append(receipts)
        self.spooled += len(receipts)

    def down(self) -> bool:
        """Whether the store failed within the last ``retry_interval`` seconds."""
        return time.monotonic() < self._down_until

    def retry_now(self) -> None:
        self._down_until = 0.0

    def note_down(self, exc: StoreError) -> None:
        self._down_until = time.monotonic() + self.retry_interval
        if not self._down_logged:
            self._down_logged = True
            if isinstance(exc, StoreUnavailable):
                logger.warning(STORE_DOWN, exc, self.spool.path)
            else:
                logger.error(STORE_DOWN, exc, self.spool.path)

    def _note_up(self) -> None:
        self._down_until = 0.0
        if self._down_logged:
            self._down_logged = False
            logger.warning(STORE_BACK)

    def replay(self) -> int:
        """Copy spooled receipts into the store (blocking). Returns how many were new."""
        with self.lock:
            if not self.spool.has_pending():
                return 0
            try:
                added = self.spool.replay(self.store)
            except StoreError as exc:
                self.note_down(exc)
                logger.debug(REPLAY_FAILED, exc)
                return 0
        self._note_up()
        if added:
            logger.warning(REPLAYED, added)
        return added

    async def replay_loop(self) -> None:
        """Every ``retry_interval`` seconds, copy what is spooled (this process's or another's)."""
        while True:
            await asyncio.sleep(self.retry_interval)
            if self.spool.has_pending() and not self.down():
                try:
                    await asyncio.to_thread(self.replay)
                except OSError as exc:
                    logger.error(REPLAY_FAILED, exc)

    def close(self) -> None:
        """Commit (or spool) what was submitted, then end the batch thread (blocking)."""
        self._batches.close()
