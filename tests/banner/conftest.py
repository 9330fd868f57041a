"""Fixtures the banner's browser tests share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext
from starlette.types import ASGIApp
from support.banner_app import OBSERVERS, build_site


@pytest.fixture
def site(live_server: Callable[[ASGIApp], str]) -> str:
    """The banner's test site, served (test modules with another site override this)."""
    return live_server(build_site())


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """``new_context(**options)``: a browser context that records layout shifts and CSP
    violations from the start of every page; closed after the test."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(**options)
        context.add_init_script(OBSERVERS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
