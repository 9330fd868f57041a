"""What a running site stores and whom it calls, with everything allowed (``consentgate init``).

It reuses the audit's machinery — the Chromium launch, the recorder (cookies with who set them,
third-party requests), the banner controls and the crawl — in one browser context: the start page
is opened, a consent banner (consentgate's, or another one's "Accept all") is accepted if there
is one, then the start page and up to ``crawl`` linked pages of the same origin are visited.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from consentgate.audit.auditor import Auditor, Progress
from consentgate.audit.controls import BannerControls, click_our_banner, visible
from consentgate.audit.findings import (
    CONSENT_COOKIE_NAMES,
    ScenarioResult,
    SeenCookie,
    SeenRequest,
    SeenStorage,
)
from consentgate.audit.recorder import Recorder
from consentgate.audit.scenarios import AuditOptions, Scenario
from consentgate.enforce.policy import Policy

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

__all__ = ["Inventory", "take_inventory"]

_NO_RULES = "revision = 1"


@dataclass(slots=True)
class Inventory:
    """What one visit with everything allowed found."""

    url: str
    host: str
    pages: list[str] = field(default_factory=list)
    cookies: list[SeenCookie] = field(default_factory=list)
    requests: list[SeenRequest] = field(default_factory=list)
    storage: list[SeenStorage] = field(default_factory=list)
    banner: str | None = None
    """``"consentgate"``, ``"other"`` (accepted through its button) or ``None`` (no banner found)."""


def take_inventory(
    url: str,
    *,
    crawl: int = 0,
    timeout: float = 15.0,
    chromium: str | None = None,
    delay: float = 0.0,
    accept_selector: str | None = None,
    progress: Progress | None = None,
) -> Inventory:
    """Visit ``url`` (and up to ``crawl`` more pages) in Chromium with everything allowed.

    Raises :class:`~consentgate.audit.scenarios.AuditError` when it cannot (bad URL, site down,
    no browser), with a message that says what to fix.
    """
    options = AuditOptions(
        url=url,
        policy=Policy.from_toml(_NO_RULES, source="<init>"),
        crawl=crawl,
        accept_selector=accept_selector,
        timeout=timeout,
        chromium=chromium,
        delay=delay,
    )
    auditor = Auditor(options, progress)
    scenario = Scenario("accept-all", "Everything allowed", "accept_all")
    result = ScenarioResult(scenario, frozenset())
    found = Inventory(url, options.host)
    with auditor.browser() as browser:
        context = browser.new_context()
        context.set_default_timeout(auditor.timeout_ms)
        context.set_default_navigation_timeout(auditor.timeout_ms)
        try:
            recorder = Recorder(options.policy, options.host)
            recorder.attach(context)
            page = context.new_page()
            auditor.progress(f"opening {url}")
            auditor._visit(page, context, recorder, url, fatal=True)
            found.banner = _accept_everything(auditor, page, context)
            if found.banner is not None:
                auditor.progress(f"accepted the {found.banner} banner; loading {url} again")
                recorder.phase = "after"
                auditor._visit(page, context, recorder, url, fatal=True)
            result.pages.append(recorder.page)
            auditor._crawl(page, context, recorder, result, 1, 1)
            recorder.snapshot(context)
            recorder.snapshot_storage(page)
        finally:
            context.close()
    found.pages = list(dict.fromkeys(result.pages))
    found.cookies = sorted(
        (c for c in recorder.cookies.values() if c.name not in CONSENT_COOKIE_NAMES),
        key=lambda c: (c.name, c.domain),
    )
    found.requests = sorted(recorder.requests.values(), key=lambda r: r.host)
    found.storage = sorted(recorder.storage.values(), key=lambda s: (s.kind, s.name))
    return found


def _accept_everything(auditor: Auditor, page: Page, context: BrowserContext) -> str | None:
    """Accept all through the banner, if the page shows one; which kind it was."""
    from playwright.sync_api import Error as PlaywrightError

    controls: BannerControls = auditor.controls
    accept = visible(controls.accept(page), min(auditor.timeout_ms, 5000))
    if accept is None:
        return None
    if BannerControls.is_ours(accept) and not auditor.options.accept_selector:
        try:
            click_our_banner(page, "accept_all", timeout=auditor.options.timeout)
        except AssertionError:
            return None
        return "consentgate"
    accept.click()
    with contextlib.suppress(PlaywrightError):
        accept.wait_for(state="hidden", timeout=min(auditor.timeout_ms, 5000))
        page.wait_for_load_state("networkidle", timeout=min(auditor.timeout_ms, 5000))
    return "other"
