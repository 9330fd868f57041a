"""The bounded memo behind every per-request table: computed once while in use, never unbounded."""

from __future__ import annotations

import pytest

from consentgate.enforce.memo import Memo


def test_a_key_is_computed_once_while_it_is_in_use() -> None:
    calls: list[int] = []

    def square(n: int) -> int:
        calls.append(n)
        return n * n

    memo: Memo[int, int] = Memo(square, 4)
    assert [memo[3], memo[3], memo[4], memo[3]] == [9, 9, 16, 9]
    assert calls == [3, 4]


def test_a_flood_of_new_keys_stays_within_twice_the_limit_and_keeps_the_key_in_use() -> None:
    calls: list[int] = []
    memo: Memo[int, int] = Memo(lambda n: calls.append(n) or n, 100)
    hot = memo[-1]
    for n in range(10_000):
        assert memo[n] == n
        assert memo[-1] == hot  # used all along: moved back on each swap, never recomputed
        assert memo.size() <= 200
    assert calls.count(-1) == 1
    assert len(calls) == 10_001


def test_a_key_left_alone_for_two_generations_is_computed_again() -> None:
    calls: list[str] = []
    memo: Memo[str, str] = Memo(lambda k: calls.append(k) or k.upper(), 2)
    memo["a"]
    for key in "bcdef":
        memo[key]
    assert memo["a"] == "A"
    assert calls.count("a") == 2


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Memo(lambda k: k, 0)


def test_size_and_held_count_both_generations() -> None:
    memo: Memo[str, str] = Memo(str.upper, 2)
    for key in "abc":
        memo[key]
    # "a" and "b" filled the first generation; "c" started the second.
    assert memo.size() == 3 and sorted(memo.held()) == ["A", "B", "C"] and memo.limit == 2


def test_a_limit_of_one_is_the_smallest() -> None:
    memo: Memo[str, str] = Memo(str.upper, 1)
    assert [memo["a"], memo["b"], memo["a"]] == ["A", "B", "A"] and memo.size() == 2
    with pytest.raises(ValueError, match="at least 1") as error:
        Memo(str.upper, 0)
    assert str(error.value) == "a memo's limit must be at least 1, got 0"
