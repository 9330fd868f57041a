"""Group commit: one thread writes what many requests hand it, a batch per transaction.

Every consent decision must be durable before its answer, and a durable commit costs a disk flush
(about 4 ms on the test machine) and, with several workers on one SQLite file, a turn at the write
lock. One transaction per decision made 64 concurrent clients queue for the lock one by one;
whatever arrives while a transaction runs now goes into the next one, so a burst of decisions
costs a few flushes instead of one each, and each process asks for the lock once per batch.

The thread starts on first use (an app without a lifespan works too) and ends with :meth:`close`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Runs ``run(batch)`` in one thread over everything submitted since the last batch began.

    ``run`` returns one result per item, in order; if it raises, every item of the batch gets
    the exception.
    """

    def __init__(self, run: Callable[[list[T]], Sequence[R]], *, name: str, max_batch: int = 256) -> None:
        self._run = run
        self._name = name
        self._max_batch = max_batch
        self._pending: deque[tuple[T, concurrent.futures.Future[R]]] = deque()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False
        self.batches = 0  # transactions run (for tests and counters)

    def submit(self, item: T) -> concurrent.futures.Future[R]:
        future: concurrent.futures.Future[R] = concurrent.futures.Future()
        with self._wake:
            self._pending.append((item, future))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._wake.notify()
        return future

    async def run(self, item: T) -> R:
        """Submit ``item`` and wait (on the event loop) for its batch."""
        return await asyncio.wrap_future(self.submit(item))

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closing:
                    self._wake.wait()
                if not self._pending:
                    return
                batch = [self._pending.popleft() for _ in range(min(len(self._pending), self._max_batch))]
            self.batches += 1
            try:
                results = self._run([item for item, _ in batch])
            except BaseException as exc:  # handed to every waiter; the thread goes on
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)

    def close(self, timeout: float = 30.0) -> None:
        """Run what is pending, then end the thread (blocking). Items submitted meanwhile are run
        too; a later submit starts a new thread."""
        with self._wake:
            self._closing = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._wake:
            self._closing = False
            self._thread = None
