"""Four uvicorn workers on one privacy log (issue 17), on SQLite and on PostgreSQL: a few hundred
concurrent decisions, every acknowledged receipt stored exactly once, none spooled — on a healthy
store, lock contention between the workers is not an outage — and no worker claims an outage or a
recovery it did not have."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.decisions import DecisionStream, receipts_per_consent_id
from support.instances import Instance

DECISIONS = 300


@pytest.mark.slow
def test_four_workers_store_every_receipt_once_and_contention_spools_none(
    store_target: str, instances: Callable[..., Instance]
) -> None:
    site = instances(store_target, workers=4)
    stream = DecisionStream([site.url], threads=64)
    stream.run(DECISIONS)
    site.stop()  # each worker flushes its log and writes its counters
    assert stream.statuses == {200: DECISIONS}
    assert len(set(stream.acked)) == DECISIONS
    stored = receipts_per_consent_id(store_target)
    assert {stored[consent_id] for consent_id in stream.acked} == {1}  # every one, exactly once
    counters = site.counters()
    assert counters["workers"] == 4
    assert (counters["receipts_stored"], counters["receipts_spooled"]) == (DECISIONS, 0)
    log = site.log_text()
    assert "store is unavailable" not in log and "store is back" not in log
    assert not site.spool.exists() or site.spool.stat().st_size == 0
