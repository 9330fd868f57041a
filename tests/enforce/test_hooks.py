"""How the privacy log plugs into enforcement: the discovery sink notes names, never waits."""

from __future__ import annotations

import time
from collections import deque

from consentgate.enforce.hooks import DiscoverySink


def test_the_discovery_sink_queues_names_with_the_time_and_counts_what_it_drops() -> None:
    dropped: list[int] = []
    sink = DiscoverySink(queue=deque(), queue_size=2, dropped=lambda: dropped.append(1))
    before = time.time()
    sink.note("inbound", ("mystery",), "/a")
    sink.note("outbound", ("x", "y"), "/b")
    sink.note("inbound", ("late",), "/c")  # the queue is full: counted, not queued
    (first, second) = sink.queue
    assert first[:3] == ("inbound", ("mystery",), "/a") and second[:3] == ("outbound", ("x", "y"), "/b")
    assert before <= first[3] <= second[3] <= time.time()
    assert dropped == [1]
