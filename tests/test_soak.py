"""Soak (issue 7): mixed traffic through a live server with the SQLite privacy log — new visitors,
decisions, withdrawals, student and GPC sessions, tampered cookies.

Bounded by requests, not by time, so its promises hold whatever the machine's speed: six visitor
threads make ``CONSENTGATE_SOAK_REQUESTS`` requests between them (default 6,000: about 35 s on an idle
machine here, 5 minutes when it is shared by several test runs),
each thread's traffic fixed by its seed. No 5xx and no failed request; resident memory grows less than
10 % from the end of the first third of the requests to the end; the visit queue's drops are counted
and reported; every acknowledged receipt is in the store at the end."""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from pathlib import Path

import httpx2 as httpx
import pytest
from support.live_server import ServerProcess
from support.stores import receipt_consent_ids

TESTS = Path(__file__).resolve().parent
REQUESTS = int(os.environ.get("CONSENTGATE_SOAK_REQUESTS", "6000"))
THREADS = 6


class Traffic:
    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: Counter[int] = Counter()
        self.acked: set[str] = set()
        self.marketing_leaks: list[str] = []
        self.failures: list[str] = []
        self.made = [0] * THREADS  # requests answered, per thread
        self.index = threading.local()
        self.lock = threading.Lock()

    def _note(self, response: httpx.Response) -> None:
        with self.lock:
            self.statuses[response.status_code] += 1
            self.made[self.index.value] += 1

    def _decide(self, client: httpx.Client, body: dict[str, object], **headers: str) -> httpx.Response:
        response = client.post(f"{self.url}/_consent", json=body, headers={"origin": self.url, **headers})
        self._note(response)
        if response.status_code == 200:
            with self.lock:
                self.acked.add(response.json()["consent"]["consent_id"])
        return response

    def _get(self, client: httpx.Client, path: str, **headers: str) -> httpx.Response:
        response = client.get(self.url + path, headers={"accept": "text/html", **headers})
        self._note(response)
        return response

    def visitor(self, seed: int, warm_up: threading.Barrier) -> None:
        """Rounds of one visitor's traffic until this thread's share of requests is made; waits for the
        others once a third of it is done (the memory baseline is taken then)."""
        self.index.value = seed
        try:
            self._rounds(random.Random(seed), seed, REQUESTS // THREADS, warm_up)
        except Exception as exc:  # a request that failed (refused, reset, timed out) is a finding
            with self.lock:
                self.failures.append(repr(exc))
            warm_up.abort()

    def _rounds(self, rng: random.Random, seed: int, share: int, warm_up: threading.Barrier) -> None:
        waited = False
        while self.made[seed] < share:
            if not waited and self.made[seed] >= share // 3:
                warm_up.wait()
                waited = True
            kind = rng.choice(["new", "accept", "partial", "withdraw", "student", "gpc", "tampered"])
            extra = {"user-agent": f"Mozilla/5.0 (X11; Linux x86_64) Firefox/{rng.randint(100, 130)}.0",
                     "referer": f"https://search.example/q?term={rng.random()}"}
            with httpx.Client(timeout=10) as client:
                if kind == "new":
                    self._get(client, f"/page/{rng.randint(1, 50)}", **extra)
                    continue
                if kind == "student":
                    extra["x-test-role"] = "student"
                if kind == "gpc":
                    extra["sec-gpc"] = "1"
                body: dict[str, object] = {"categories": ["analytics"]} if kind == "partial" else {"action": "accept_all"}
                self._decide(client, body, **extra)
                if kind == "tampered":
                    value = client.cookies.get("consentgate") or ""
                    client.cookies.set("consentgate", value[:-3] + "AAA")
                for _ in range(rng.randint(1, 4)):
                    response = self._get(client, f"/page/{rng.randint(1, 50)}", **extra)
                    names = {v.split("=", 1)[0] for v in response.headers.get_list("set-cookie") if "Max-Age=0" not in v}
                    if kind in ("student", "gpc", "tampered") and "_fbp" in names:
                        with self.lock:
                            self.marketing_leaks.append(kind)
                if kind == "withdraw":
                    self._decide(client, {"action": "deny_all"}, **extra)
                    self._get(client, "/", **extra)


def _counters(url: str) -> dict[str, int]:
    data: dict[str, int] = httpx.get(url + "/_ops/counters").json()
    return data


@pytest.mark.slow
def test_soak_mixed_traffic_no_5xx_bounded_memory_every_receipt_kept(tmp_path: Path) -> None:
    """The figures are counts: requests made, receipts acknowledged and stored, kilobytes resident."""
    store = tmp_path / "soak.sqlite3"
    env = {"CONSENTGATE_FAULT_STORE": str(store), "CONSENTGATE_FAULT_SPOOL": str(tmp_path / "spool.jsonl"),
           "CONSENTGATE_FAULT_QUEUE": "2000"}
    server = ServerProcess("support.fault_app:create", factory=True, env=env, cwd=TESTS)
    server.output_dir = tmp_path
    server.start()
    traffic = Traffic(server.url)
    baseline: list[int] = []
    warm_up = threading.Barrier(THREADS, action=lambda: baseline.append(_counters(server.url)["rss_kib"]))
    threads = [threading.Thread(target=traffic.visitor, args=(i, warm_up), daemon=True) for i in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()  # every thread ends by itself once its share of requests is made
        counters = _counters(server.url)
    finally:
        server.stop()  # clean shutdown: the visit queue is flushed
    assert traffic.failures == []
    (rss_after_warm_up,) = baseline
    growth = (counters["rss_kib"] - rss_after_warm_up) / rss_after_warm_up
    total = sum(traffic.statuses.values())
    print(f"\nsoak: {total} requests, statuses {dict(traffic.statuses)}, "
          f"{len(traffic.acked)} receipts acknowledged, RSS {rss_after_warm_up} -> {counters['rss_kib']} KiB "
          f"({growth:+.1%}), visits written {counters['visits_written']}, dropped {counters['visits_dropped']}")
    assert total == sum(traffic.made) >= THREADS * (REQUESTS // THREADS)  # each thread made its whole share
    assert not [s for s in traffic.statuses if s >= 500], traffic.statuses
    assert traffic.marketing_leaks == []
    assert growth < 0.10
    assert "visits_dropped" in counters  # counted (and printed above), never blocking a request
    stored = receipt_consent_ids(str(store))
    assert traffic.acked <= stored, f"{len(traffic.acked - stored)} acknowledged receipts missing"
