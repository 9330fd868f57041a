"""Group commit: what is submitted while a batch runs goes into the next batch, together."""

from __future__ import annotations

import asyncio
import threading

import pytest

from consentgate.log.group_commit import GroupCommit


class Gate:
    """A batch function that records each batch and holds the first one until released."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.first_running = threading.Event()
        self.release = threading.Event()

    def run(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        if len(self.batches) == 1:
            self.first_running.set()
            assert self.release.wait(30)
        return [item * 10 for item in items]


def test_items_submitted_during_a_batch_share_the_next_one() -> None:
    gate = Gate()
    commit: GroupCommit[int, int] = GroupCommit(gate.run, name="test-commit")
    first = commit.submit(0)
    assert gate.first_running.wait(30)
    later = [commit.submit(n) for n in range(1, 11)]  # all while the first batch runs
    gate.release.set()
    assert first.result(30) == 0
    assert [future.result(30) for future in later] == [n * 10 for n in range(1, 11)]
    assert gate.batches == [[0], list(range(1, 11))]
    assert commit.batches == 2
    commit.close()


def test_batches_are_bounded_in_size() -> None:
    gate = Gate()
    commit: GroupCommit[int, int] = GroupCommit(gate.run, name="test-commit", max_batch=4)
    commit.submit(0)
    assert gate.first_running.wait(30)
    later = [commit.submit(n) for n in range(1, 11)]
    gate.release.set()
    for future in later:
        future.result(30)
    assert [len(batch) for batch in gate.batches] == [1, 4, 4, 2]
    commit.close()


def test_a_failing_batch_fails_each_of_its_items_and_the_next_batch_runs() -> None:
    calls: list[list[str]] = []

    def run(items: list[str]) -> list[str]:
        calls.append(items)
        if "bad" in items:
            raise OSError("disk full")
        return items

    commit: GroupCommit[str, str] = GroupCommit(run, name="test-commit")
    with pytest.raises(OSError, match="disk full"):
        commit.submit("bad").result(30)
    assert commit.submit("good").result(30) == "good"
    commit.close()


def test_close_runs_what_is_pending_and_a_later_submit_starts_again() -> None:
    gate = Gate()
    commit: GroupCommit[int, int] = GroupCommit(gate.run, name="test-commit")
    futures = [commit.submit(n) for n in range(3)]
    assert gate.first_running.wait(30)
    gate.release.set()
    commit.close()
    assert all(future.done() for future in futures)
    assert asyncio.run(commit.run(7)) == 70  # from the event loop, after a close
    commit.close()
