"""Finding and clicking a banner's buttons: consentgate's own by their ``data-consentgate`` hooks,
another vendor's by their visible text (English) or by selectors given on the command line."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from consentgate.enforce.policy import ESSENTIAL

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Locator, Page

from consentgate.audit.findings import CONSENT_COOKIE_NAMES

__all__ = [
    "OUR_ACCEPT",
    "OUR_BANNER",
    "OUR_CHECKBOX",
    "OUR_DENY",
    "OUR_DIALOG",
    "OUR_PREFERENCES",
    "OUR_SAVE",
    "BannerControls",
    "click_our_banner",
    "visible",
]


# Visible button text of other banners, used when no selector is given (English; other languages
# need --accept-selector / --deny-selector). "Accept" must not match "accept only necessary" or
# "accept selection"; "deny" covers the usual words for a full refusal.
_ACCEPT_TEXT = re.compile(
    r"^(?!.*\b(necessary|essential|selected|selection|only|required)\b).*\b(accept|allow|agree)\b", re.I
)
_DENY_TEXT = re.compile(
    r"\b(deny|reject|decline|refuse)\b|\b(only|just)\s+(the\s+)?(necessary|essential|required)\b"
    r"|\b(necessary|essential|required)\s+(cookies\s+)?only\b",
    re.I,
)

# The data-consentgate hooks of consentgate's own banner.
OUR_BANNER = '[data-consentgate="banner"]'
OUR_ACCEPT = 'button[data-consentgate="accept-all"]'
OUR_DENY = 'button[data-consentgate="deny-all"]'
OUR_PREFERENCES = 'button[data-consentgate="preferences"]'
OUR_DIALOG = '[data-consentgate="dialog"]'
OUR_CHECKBOX = 'input[type="checkbox"][data-consentgate-category]'
OUR_SAVE = 'button[data-consentgate="save"]'


@dataclass(frozen=True, slots=True)
class BannerControls:
    """How to find a banner's first-layer buttons: consentgate's hooks, given selectors, or text."""

    accept_selector: str | None = None
    deny_selector: str | None = None

    def _ours(self, page: Page, selector: str) -> Locator:
        return page.locator(f"{OUR_BANNER} {selector}")

    def accept(self, page: Page) -> Locator:
        if self.accept_selector:
            return page.locator(self.accept_selector)
        return self._ours(page, OUR_ACCEPT).or_(_by_text(page, _ACCEPT_TEXT))

    def deny(self, page: Page) -> Locator:
        if self.deny_selector:
            return page.locator(self.deny_selector)
        return self._ours(page, OUR_DENY).or_(_by_text(page, _DENY_TEXT))

    @staticmethod
    def is_ours(control: Locator) -> bool:
        """Whether a found control belongs to consentgate's banner."""
        return bool(control.evaluate(f"e => !!e.closest('{OUR_BANNER}')"))


def _by_text(page: Page, pattern: re.Pattern[str]) -> Locator:
    return page.get_by_role("button", name=pattern).or_(page.get_by_role("link", name=pattern))


def visible(locator: Locator, timeout_ms: float) -> Locator | None:
    """The first visible element of ``locator`` within the timeout, else None."""
    from playwright.sync_api import Error as PlaywrightError

    first = locator.locator("visible=true").first
    try:
        first.wait_for(state="visible", timeout=timeout_ms)
    except PlaywrightError:
        return None
    return first


def _consent_cookie_value(context: BrowserContext) -> str | None:
    for cookie in context.cookies():
        if cookie.get("name") in CONSENT_COOKIE_NAMES:
            return str(cookie.get("value"))
    return None


def _wait_for_consent_cookie(
    context: BrowserContext, page: Page, before: str | None, timeout_ms: float
) -> bool:
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        value = _consent_cookie_value(context)
        if value is not None and value != before:
            return True
        page.wait_for_timeout(50)
    return False


def click_our_banner(
    page: Page, choice: Literal["accept_all", "deny_all"] | Sequence[str], *, timeout: float = 10.0
) -> None:
    """Make a choice through consentgate's banner, the way a visitor does, and wait until it is stored.

    ``choice`` is ``"accept_all"``, ``"deny_all"`` or a list of categories to tick in the
    preferences dialog (every other optional category is unticked). Raises ``AssertionError``
    with what was missing when the banner does not offer the control.
    """
    timeout_ms = timeout * 1000
    context = page.context
    before = _consent_cookie_value(context)
    # The banner's root has no box of its own: look for its visible controls.
    if isinstance(choice, str):
        selector = {"accept_all": OUR_ACCEPT, "deny_all": OUR_DENY}.get(choice)
        if selector is None:
            raise ValueError(
                f"choice must be 'accept_all', 'deny_all' or a list of categories, got {choice!r}"
            )
        button = visible(page.locator(f"{OUR_BANNER} {selector}"), timeout_ms)
        if button is None:
            raise AssertionError(f"consentgate's banner shows no {selector} on {page.url}")
        button.click()
    else:
        wanted = set(choice)
        opener = visible(page.locator(f"{OUR_BANNER} {OUR_PREFERENCES}"), timeout_ms)
        if opener is None:
            raise AssertionError(f"consentgate's banner shows no {OUR_PREFERENCES} on {page.url}")
        opener.click()
        dialog = visible(page.locator(OUR_DIALOG), timeout_ms)
        if dialog is None:
            raise AssertionError(f"the preferences dialog ({OUR_DIALOG}) did not open on {page.url}")
        boxes = dialog.locator(OUR_CHECKBOX)
        offered = set()
        for index in range(boxes.count()):
            box = boxes.nth(index)
            name = box.get_attribute("data-consentgate-category") or ""
            offered.add(name)
            if box.is_disabled():
                continue
            box.set_checked(name in wanted)
        missing = sorted(wanted - offered - {ESSENTIAL})
        if missing:
            raise AssertionError(f"the preferences dialog offers no checkbox for {', '.join(missing)}")
        save = visible(dialog.locator(OUR_SAVE), timeout_ms)
        if save is None:
            raise AssertionError(f"the preferences dialog has no visible {OUR_SAVE}")
        save.click()
    if not _wait_for_consent_cookie(context, page, before, timeout_ms):
        raise AssertionError(f"the banner click stored no consent cookie within {timeout:g}s on {page.url}")
