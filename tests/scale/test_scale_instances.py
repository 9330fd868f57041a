"""Two app instances on one PostgreSQL (issue 17): decisions stream to both, one is killed with
``kill -9`` mid-stream and started again; every acknowledged receipt is stored exactly once, and
the instance that kept running never claims an outage."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.decisions import DecisionStream, receipts_per_consent_id
from support.instances import Instance


@pytest.mark.slow
@pytest.mark.postgres
def test_two_instances_one_killed_and_restarted_lose_and_double_no_receipt(
    postgres_url: str, instances: Callable[..., Instance]
) -> None:
    first = instances(postgres_url)
    second = instances(postgres_url)
    stream = DecisionStream([first.url, second.url], threads=8)
    stream.start()
    try:
        stream.wait_for(150)
        first.kill()  # SIGKILL mid-stream: no shutdown, nothing flushed
        errors_at_crash = stream.errors
        stream.wait_for(len(stream.acked) + 60)  # the other instance goes on answering
        first.start()  # same spool and store
        stream.wait_for(len(stream.acked) + 90)
    finally:
        stream.stop()
        first.stop()
        second.stop()
    assert stream.errors > errors_at_crash  # requests to the killed instance were refused
    assert set(stream.statuses) == {200}  # refused connections aside, every answer was a 200
    stored = receipts_per_consent_id(postgres_url)
    assert len(set(stream.acked)) == len(stream.acked)
    assert {stored[consent_id] for consent_id in stream.acked} == {1}
    assert "store is unavailable" not in second.log_text()
