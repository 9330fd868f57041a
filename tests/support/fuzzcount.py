"""Counts how many generated inputs each fuzz target tried; printed at the end of the test run."""

from __future__ import annotations

from collections import Counter

TRIED: Counter[str] = Counter()


def tried(target: str, n: int = 1) -> None:
    TRIED[target] += n
