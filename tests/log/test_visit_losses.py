"""Visits are best-effort, and the losses are counted where the privacy team sees them (issue 17):
while the store is down the queue holds at most ``outage_queue_size`` visits (the rest are dropped and
counted, and nothing else piles up in memory); visits that cannot be written at shutdown are counted
as lost, kept beside the spool when the store cannot take even the count, and added at the next start;
the dashboard and its JSON show both counts. Also: with workers sharing a spool, only the one that
spooled says the store was down and is back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from coreapp import SECRET, client, make_policy
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from support.readonly import unwritable

from consentgate import ConsentMiddleware, Dashboard, Decision
from consentgate.log.privacy_log import PrivacyLog

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


def _page(request: Request) -> HTMLResponse:
    return HTMLResponse("<p>page</p>")


def site(log: PrivacyLog) -> ConsentMiddleware:
    app = Starlette(routes=[Route("/page", _page)])
    return ConsentMiddleware(app, policy=log.policy, secret_key=SECRET, privacy_log=log, decision_rate_limit=None)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def analytics_cookie(tc: object) -> str:
    response = tc.post("/_consent", json={"categories": ["analytics"]}, headers={"origin": "http://testserver"})  # type: ignore[attr-defined]
    assert response.status_code == 200
    return f"consentgate={response.cookies['consentgate']}"


def test_while_the_store_is_down_the_queue_is_bounded_and_the_drops_reach_the_dashboard(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    log = PrivacyLog(str(path), make_policy(), queue_size=100, outage_queue_size=10,
                     flush_interval=0.02, retry_interval=0.1)
    log.store.migrate()
    with client(site(log)) as tc:
        cookie = analytics_cookie(tc)
        headers = {"cookie": cookie, "user-agent": CHROME}
        with unwritable(path):
            tc.get("/page", headers=headers)
            wait_for(lambda: log.visits._down)  # the writer found the store down, the visit is held
            for _ in range(50):
                assert tc.get("/page", headers=headers).status_code == 200  # never waited for
            wait_for(lambda: log.visits.queued <= 10)
            assert log.visits.dropped == 40  # 50 came: 10 are held in the queue, 1 in the writer
            assert len(log.visits._minimised) + log.visits.queued + len(log.visits._held) <= 11
        wait_for(lambda: log.visits.written == 11)
        wait_for(lambda: log.store.stats(days=1).visits_dropped == 40)
    dashboard = client(Dashboard(log.store, log.policy, require_token=False))
    assert '<td id="visits-dropped">40</td>' in dashboard.get("/").text
    assert dashboard.get("/stats.json").json()["stats"]["visits_dropped"] == 40


def test_visits_lost_at_shutdown_are_counted_kept_and_added_at_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    spool = tmp_path / "receipts.spool"
    log = PrivacyLog(str(path), make_policy(), spool_path=spool, flush_interval=0.02, retry_interval=0.1)
    log.store.migrate()
    with unwritable(path):
        with client(site(log)) as tc:
            headers = {"cookie": analytics_cookie(tc), "user-agent": CHROME}
            for _ in range(3):
                tc.get("/page", headers=headers)
            wait_for(lambda: log.visits._down)
        # Shut down with the store still down: the visits are lost, and so would be their count.
        assert log.counters()["visits_lost"] == 3
        assert spool.with_name("receipts.spool.counts").exists()
    again = PrivacyLog(str(path), make_policy(), spool_path=spool)
    with client(site(again)):
        pass  # the start adds the kept counts to the store
    assert again.store.stats(days=1).visits_lost == 3
    assert not spool.with_name("receipts.spool.counts").exists()
    assert again.store.counts()[0] == 1  # the decision's receipt, spooled and copied in


def _decision(consent_id: str) -> Decision:
    return Decision(
        consent_id=consent_id, time=datetime.now(UTC), method="accept_all", requested=frozenset({"analytics"}),
        granted=frozenset({"analytics"}), refused=frozenset(), stored=frozenset({"analytics"}), revision=3,
        notice_hash="0" * 64, language="en", is_student=False, gpc=False, tenant=None,
    )


def test_only_the_worker_that_spooled_says_the_store_was_down_and_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "consentgate")
    path, spool = tmp_path / "log.sqlite3", tmp_path / "receipts.spool"
    spooler = PrivacyLog(str(path), make_policy(), spool_path=spool, retry_interval=0)
    other = PrivacyLog(str(path), make_policy(), spool_path=spool, retry_interval=0)
    spooler.store.migrate()
    with unwritable(path):
        asyncio.run(spooler.record_decision(_decision("during")))
    assert spooler.counters()["receipts_spooled"] == 1
    assert other.replay_spool() == 1  # the other worker copies the shared spool, quietly
    assert caplog.text.count("store is unavailable") == 1
    assert "store is back" not in caplog.text
    assert "1 spooled receipt(s) copied into the store" in caplog.text
    asyncio.run(spooler.record_decision(_decision("after")))  # the store takes its writes again
    assert caplog.text.count("store is back") == 1
    assert sorted(r.consent_id for c in ("during", "after") for r in other.store.receipts(consent_id=c)) == [
        "after", "during"]
    for log in (spooler, other):
        asyncio.run(log.stop())
