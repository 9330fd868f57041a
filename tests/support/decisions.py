"""Consent decisions posted to live servers from many threads, and what the store holds afterwards."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Sequence

import httpx2 as httpx

from consentgate.log.stores.factory import open_store

__all__ = ["DecisionStream", "receipts_per_consent_id"]

_BODIES = ({"action": "accept_all"}, {"action": "deny_all"}, {"categories": ["analytics"]})


class DecisionStream:
    """Threads posting decisions from new visitors (no cookie) to ``urls`` in turn, each on a new
    connection (so requests spread over an instance's workers). Remembers the consent id of every
    decision answered 200; counts other statuses and connection errors (a killed server)."""

    def __init__(self, urls: Sequence[str], threads: int = 8) -> None:
        self.urls = list(urls)
        self.acked: list[str] = []
        self.statuses: Counter[int] = Counter()
        self.errors = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self._limit: int | None = None
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        # No keep-alive: every request on a new connection. verify=False: plain HTTP to 127.0.0.1,
        # and a client that loads no CA bundle is made in 0.3 ms instead of about 100.
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=30, limits=limits, verify=False) as client:
            while not self._stop.is_set():
                with self._lock:
                    n = next(self._turn)
                    if self._limit is not None and n >= self._limit:
                        return
                self._post(client, n)

    def _post(self, client: httpx.Client, n: int) -> None:
        url = self.urls[n % len(self.urls)]
        client.cookies.clear()  # a new visitor
        try:
            response = client.post(f"{url}/_consent", json=_BODIES[n % 3], headers={"origin": url})
        except httpx.HTTPError:
            with self._lock:
                self.errors += 1
            time.sleep(0.01)
            return
        with self._lock:
            self.statuses[response.status_code] += 1
            if response.status_code == 200:
                self.acked.append(response.json()["consent"]["consent_id"])

    def run(self, count: int) -> None:
        """Post ``count`` decisions and wait for every answer."""
        self._limit = count
        self.start()
        for thread in self._threads:
            thread.join()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def wait_for(self, acked: int, timeout: float = 120) -> None:
        """Until ``acked`` decisions were answered 200 (``timeout`` only guards against a hang)."""
        deadline = time.monotonic() + timeout
        while len(self.acked) < acked:
            assert time.monotonic() < deadline, f"only {len(self.acked)} decisions acknowledged"
            time.sleep(0.02)


def receipts_per_consent_id(target: str) -> Counter[str]:
    """How many receipts the store at ``target`` holds for each consent id."""
    with open_store(target) as store:
        rows = store._read("SELECT consent_id, COUNT(*) FROM consentgate_receipts GROUP BY consent_id")
    return Counter({str(consent_id): int(count) for consent_id, count in rows})
