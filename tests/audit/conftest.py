"""Fixtures of the audit and pytest-plugin tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sites import Trackers, trackers


def pytest_configure(config: pytest.Config) -> None:
    # The plugin tests run a sample downstream suite through pytester. `pytest_plugins` is only
    # allowed in the top-level conftest, so register pytester here when nobody else has.
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


@pytest.fixture
def third() -> Iterator[Trackers]:
    """The third-party tracker hosts the audit sites load from, running for one test."""
    with trackers() as running:
        yield running
