"""Live instances of ``support.scale_app`` (uvicorn, one or several workers) on a shared store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.instances import Instance


@pytest.fixture
def instances(tmp_path: Path) -> Iterator[Callable[..., Instance]]:
    """``instances(store, workers=1, rate="off", pg_timeout=None)`` starts an instance."""
    started: list[Instance] = []

    def start(store: str, *, workers: int = 1, rate: str = "off", pg_timeout: float | None = None) -> Instance:
        instance = Instance(tmp_path / f"instance-{len(started)}", store, workers=workers, rate=rate,
                            pg_timeout=pg_timeout)
        started.append(instance)
        instance.start()
        return instance

    yield start
    for instance in started:
        instance.stop()
