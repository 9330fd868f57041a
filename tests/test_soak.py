"""Soak (issue 7): about a minute of mixed traffic through a live server with the SQLite privacy log —
new visitors, decisions, withdrawals, student and GPC sessions, tampered cookies.

No 5xx; resident memory after warm-up grows less than 10 %; the visit queue's drops are counted and
reported; every acknowledged receipt is in the store at the end. ``CONSENTGATE_SOAK_SECONDS`` sets the
length (default 60)."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from pathlib import Path

import httpx2 as httpx
import pytest
from support.live_server import ServerProcess
from support.stores import receipt_consent_ids

TESTS = Path(__file__).resolve().parent
SECONDS = float(os.environ.get("CONSENTGATE_SOAK_SECONDS", "60"))


class Traffic:
    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: Counter[int] = Counter()
        self.acked: set[str] = set()
        self.marketing_leaks: list[str] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def _note(self, response: httpx.Response) -> None:
        with self.lock:
            self.statuses[response.status_code] += 1

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

    def visitor(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.is_set():
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
    store = tmp_path / "soak.sqlite3"
    env = {"CONSENTGATE_FAULT_STORE": str(store), "CONSENTGATE_FAULT_SPOOL": str(tmp_path / "spool.jsonl"),
           "CONSENTGATE_FAULT_QUEUE": "2000"}
    server = ServerProcess("support.fault_app:create", factory=True, env=env, cwd=TESTS)
    server.output_dir = tmp_path
    server.start()
    traffic = Traffic(server.url)
    threads = [threading.Thread(target=traffic.visitor, args=(i,), daemon=True) for i in range(6)]
    try:
        for thread in threads:
            thread.start()
        warm_up = SECONDS / 3
        time.sleep(warm_up)
        rss_after_warm_up = _counters(server.url)["rss_kib"]
        time.sleep(SECONDS - warm_up)
        counters = _counters(server.url)
    finally:
        traffic.stop.set()
        for thread in threads:
            thread.join(timeout=30)
        server.stop()  # clean shutdown: the visit queue is flushed
    growth = (counters["rss_kib"] - rss_after_warm_up) / rss_after_warm_up
    total = sum(traffic.statuses.values())
    print(f"\nsoak: {total} requests in {SECONDS:.0f}s, statuses {dict(traffic.statuses)}, "
          f"{len(traffic.acked)} receipts acknowledged, RSS {rss_after_warm_up} -> {counters['rss_kib']} KiB "
          f"({growth:+.1%}), visits written {counters['visits_written']}, dropped {counters['visits_dropped']}")
    assert total > 500
    assert not [s for s in traffic.statuses if s >= 500], traffic.statuses
    assert traffic.marketing_leaks == []
    assert growth < 0.10
    assert "visits_dropped" in counters  # counted (and printed above), never blocking a request
    stored = receipt_consent_ids(str(store))
    assert traffic.acked <= stored, f"{len(traffic.acked - stored)} acknowledged receipts missing"
