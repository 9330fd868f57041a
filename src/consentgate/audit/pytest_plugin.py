"""pytest plugin for apps behind consentgate (registered as the ``consentgate`` pytest11 entry point).

Fixtures:

* ``consentgate_policy`` / ``consentgate_secret`` - the app's policy and signing key. By default
  read from the ini option ``consentgate_policy`` (a path, relative to the ini file) and the
  environment variable named by ``consentgate_secret_env`` (default ``CONSENTGATE_SECRET``);
  override the fixtures in a ``conftest.py`` to supply them any other way.
* ``consent_cookie`` - a factory: ``consent_cookie(["analytics"], student=False)`` returns a
  :class:`ConsentCookie`, a signed consent cookie for that choice (``.headers`` for Starlette's
  TestClient or httpx, ``.cookies`` for httpx's ``cookies=``).
* ``consent_context`` - a factory: ``consent_context(base_url, ["analytics"])`` returns a Playwright
  browser context that already carries the consent cookie, so no banner click is needed.
* ``storage_snapshot`` - ``storage_snapshot(page)`` returns the page's web storage (localStorage,
  sessionStorage keys, IndexedDB databases) beside the cookies ``context.cookies()`` gives.

Helpers (import them from ``consentgate.audit.pytest_plugin``): :func:`click_through_banner`,
:func:`assert_cookies_allowed` and :func:`assert_storage_allowed`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import pytest

from consentgate.audit.controls import click_our_banner
from consentgate.audit.findings import CONSENT_COOKIE_NAMES
from consentgate.audit.storage import StorageSnapshot, assert_storage_allowed, take_storage_snapshot
from consentgate.enforce.consent_cookie import ConsentCookieCodec, new_consent_id
from consentgate.enforce.keys import SecretKeys
from consentgate.enforce.policy import ESSENTIAL, Policy

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

__all__ = [
    "ConsentCookie",
    "ConsentCookieFactory",
    "StorageSnapshot",
    "assert_cookies_allowed",
    "assert_storage_allowed",
    "click_through_banner",
    "consent_context",
    "consent_cookie",
    "consentgate_policy",
    "consentgate_secret",
    "storage_snapshot",
]

_POLICY_INI = "consentgate_policy"
_SECRET_INI = "consentgate_secret_env"  # noqa: S105 - the name of an ini option
_DEFAULT_SECRET_ENV = "CONSENTGATE_SECRET"  # noqa: S105 - the name of a variable


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        _POLICY_INI, "consentgate: path of the app's consent policy (TOML), relative to the ini file"
    )
    parser.addini(
        _SECRET_INI,
        "consentgate: environment variable holding the consent cookie secret key "
        f"(default {_DEFAULT_SECRET_ENV})",
        default=_DEFAULT_SECRET_ENV,
    )


# -- policy and secret -------------------------------------------------------------------------


@pytest.fixture
def consentgate_policy(request: pytest.FixtureRequest) -> Policy:
    """The app's policy: ``consentgate_policy = "consent.toml"`` in the pytest ini, or override it."""
    config = request.config
    raw = config.getini(_POLICY_INI)
    if not raw:
        pytest.fail(
            'consentgate: no policy for the consent fixtures. Set `consentgate_policy = "consent.toml"` '
            "under [tool.pytest.ini_options] (or [pytest]), or override the `consentgate_policy` "
            "fixture in conftest.py.",
            pytrace=False,
        )
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    path = Path(str(raw))
    return Policy.from_file(path if path.is_absolute() else base / path)


@pytest.fixture
def consentgate_secret(request: pytest.FixtureRequest) -> str | Sequence[str]:
    """The app's signing key(s), from the environment variable named by ``consentgate_secret_env``."""
    name = str(request.config.getini(_SECRET_INI) or _DEFAULT_SECRET_ENV)
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"consentgate: the environment variable {name} holds no secret key. Set it to the key "
            "the app under test signs consent cookies with, or override the `consentgate_secret` "
            "fixture in conftest.py.",
            pytrace=False,
        )
    return value


# -- consent cookies ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConsentCookie:
    """A signed consent cookie, ready for a test client or a browser."""

    name: str
    value: str
    granted: frozenset[str]
    consent_id: str

    @property
    def header(self) -> str:
        """``name=value``, as in a ``Cookie`` request header."""
        return f"{self.name}={self.value}"

    @property
    def headers(self) -> dict[str, str]:
        """``{"cookie": "name=value"}`` for ``client.get(url, headers=...)`` (TestClient, httpx)."""
        return {"cookie": self.header}

    @property
    def cookies(self) -> dict[str, str]:
        """``{name: value}`` for httpx's ``cookies=``."""
        return {self.name: self.value}

    @property
    def pair(self) -> tuple[str, str]:
        return (self.name, self.value)

    def for_browser(self, url: str) -> dict[str, Any]:
        """The cookie for Playwright's ``context.add_cookies([...])`` on the site at ``url``."""
        https = urlsplit(url).scheme == "https"
        return {
            "name": self.name,
            "value": self.value,
            "url": url,
            "httpOnly": True,
            "secure": https,
            "sameSite": "Lax",
        }


Choice = Iterable[str] | Literal["accept_all", "deny_all"]


class ConsentCookieFactory:
    """Makes consent cookies signed the way the app's middleware will verify them."""

    def __init__(self, policy: Policy, secret: str | Sequence[str] | SecretKeys) -> None:
        self.policy = policy
        self.codec = ConsentCookieCodec(SecretKeys.load(secret), policy)

    def __call__(
        self,
        categories: Choice = (),
        *,
        student: bool = False,
        tenant: str | None = None,
        https: bool = False,
        consent_id: str | None = None,
        given_at: int | None = None,
    ) -> ConsentCookie:
        """A cookie recording the choice ``categories`` (or ``"accept_all"`` / ``"deny_all"``).

        ``student=True`` stores what a student may grant, as the consent endpoint does in a student
        session (marketing and the policy's student denials are left out). ``https=True`` gives the
        ``__Host-`` cookie name used over HTTPS; ``given_at`` (unix seconds) ages the choice.
        """
        if isinstance(categories, str):
            if categories == "accept_all":
                wanted = frozenset(self.policy.optional_categories)
            elif categories == "deny_all":
                wanted = frozenset()
            else:
                raise ValueError(
                    f"consent_cookie: {categories!r} is not 'accept_all' or 'deny_all'; "
                    'give a list of categories such as ["analytics"]'
                )
        else:
            wanted = frozenset(categories) - {ESSENTIAL}
        unknown = sorted(c for c in wanted if not self.policy.has_category(c))
        if unknown:
            raise ValueError(
                f"consent_cookie: unknown categor{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}; "
                f"the policy has {', '.join(self.policy.category_names)}"
            )
        if student:
            wanted -= self.policy.student_denied(tenant)
        identifier = consent_id or new_consent_id()
        value = self.codec.encode(wanted, identifier, given_at)
        return ConsentCookie(self.codec.cookie_name(https), value, wanted | {ESSENTIAL}, identifier)


@pytest.fixture
def consent_cookie(
    consentgate_policy: Policy, consentgate_secret: str | Sequence[str]
) -> ConsentCookieFactory:
    """``consent_cookie(["analytics"])`` -> a signed :class:`ConsentCookie` for the app under test."""
    return ConsentCookieFactory(consentgate_policy, consentgate_secret)


# -- browsers ----------------------------------------------------------------------------------

ContextFactory = Callable[..., "BrowserContext"]


@pytest.fixture
def consent_context(
    request: pytest.FixtureRequest, consent_cookie: ConsentCookieFactory
) -> Iterator[ContextFactory]:
    """``consent_context(base_url, ["analytics"])`` -> a Playwright context with that consent preset.

    Uses pytest-playwright's ``browser`` fixture when it is installed (so its launch options
    apply), else launches Chromium with consentgate's own launch options. Extra keyword arguments
    go to ``browser.new_context()``; ``student``/``tenant`` go to the cookie factory.
    """
    contexts: list[BrowserContext] = []
    own: list[Any] = []  # a Playwright instance and browser started here, if any

    def browser() -> Browser:
        try:
            found: Browser = request.getfixturevalue("browser")
            return found
        except pytest.FixtureLookupError:
            pass
        if not own:
            try:
                from playwright.sync_api import sync_playwright
            except ModuleNotFoundError:  # pragma: no cover - depends on the installation
                pytest.fail(
                    "consent_context needs Playwright: pip install 'consentgate[audit]'", pytrace=False
                )
            from consentgate.audit.browser import launch_options

            playwright = sync_playwright().start()
            own.append(playwright)
            own.append(playwright.chromium.launch(**launch_options()))
        started: Browser = own[1]
        return started

    def make(
        base_url: str,
        categories: Choice = (),
        *,
        student: bool = False,
        tenant: str | None = None,
        **context_args: Any,
    ) -> BrowserContext:
        https = urlsplit(base_url).scheme == "https"
        cookie = consent_cookie(categories, student=student, tenant=tenant, https=https)
        context = browser().new_context(**context_args)
        contexts.append(context)
        context.add_cookies([cookie.for_browser(base_url)])  # type: ignore[list-item]
        return context

    yield make
    for context in contexts:
        context.close()
    if own:
        own[1].close()
        own[0].stop()


@pytest.fixture
def storage_snapshot() -> Callable[[Page], StorageSnapshot]:
    """``storage_snapshot(page)`` -> the page's localStorage, sessionStorage and IndexedDB names."""
    return take_storage_snapshot


def click_through_banner(
    page: Page, choice: Literal["accept_all", "deny_all"] | Sequence[str], *, timeout: float = 10.0
) -> None:
    """Click through consentgate's banner on ``page`` like a visitor, and wait until the choice is stored.

    ``choice``: ``"accept_all"``, ``"deny_all"``, or a list of categories to tick in the
    preferences dialog. Fails with what was missing if the banner lacks a control.
    """
    __tracebackhide__ = True
    click_our_banner(page, choice, timeout=timeout)


# -- assertions --------------------------------------------------------------------------------


def _is_deletion(line: str) -> bool:
    """A ``Set-Cookie`` line that removes the cookie (Max-Age<=0 or an Expires in the past)."""
    for attribute in line.split(";")[1:]:
        key, _, value = attribute.partition("=")
        key = key.strip().lower()
        value = value.strip()
        if key == "max-age":
            try:
                if int(value) <= 0:
                    return True
            except ValueError:
                continue
        elif key == "expires":
            try:
                if parsedate_to_datetime(value).timestamp() < time.time():
                    return True
            except (TypeError, ValueError, IndexError):
                continue
    return False


def _from_line(line: str) -> tuple[str, str] | None:
    """(name, where) from a ``Set-Cookie`` line or a bare name; None for a deletion."""
    if "=" not in line.split(";", 1)[0]:
        return (line.strip(), "")
    if _is_deletion(line):
        return None
    return (line.split(";", 1)[0].split("=", 1)[0].strip(), "")


def _cookie_entries(cookies: Any) -> list[tuple[str, str]]:
    """(name, where) for each cookie in the many shapes tests hold cookies in."""
    headers = getattr(cookies, "headers", None)
    if headers is not None and hasattr(headers, "get_list"):  # an httpx / TestClient response
        lines = headers.get_list("set-cookie")
        return [entry for entry in map(_from_line, lines) if entry is not None]
    if isinstance(cookies, Mapping):  # httpx.Cookies, a dict of name -> value
        return [(str(name), "") for name in cookies]
    if callable(getattr(cookies, "cookies", None)):  # a Playwright BrowserContext
        return _cookie_entries(cookies.cookies())
    if isinstance(cookies, str):
        cookies = [cookies]
    out: list[tuple[str, str]] = []
    for item in cookies:
        if isinstance(item, str):
            entry = _from_line(item)
            if entry is not None:
                out.append(entry)
        elif isinstance(item, Mapping) and "name" in item:  # Playwright's context.cookies()
            domain = item.get("domain")
            out.append((str(item["name"]), f"domain {domain}" if domain else ""))
        elif hasattr(item, "name"):  # http.cookiejar.Cookie and similar
            domain = getattr(item, "domain", None)
            out.append((str(item.name), f"domain {domain}" if domain else ""))
        else:
            raise TypeError(f"assert_cookies_allowed: cannot read a cookie from {item!r}")
    return out


def assert_cookies_allowed(
    policy: Policy,
    cookies: Any,
    allowed: Iterable[str] = (),
    *,
    allow_undeclared: bool = False,
) -> None:
    """Fail, naming each one, if any cookie falls outside the ``allowed`` categories.

    ``cookies`` may be a response (its ``Set-Cookie`` headers; deletions are ignored), a browser
    context or the list from ``context.cookies()``, a mapping of names (``client.cookies``), or
    ``Set-Cookie`` lines / names. Essential and consentgate's own consent cookie are always
    allowed. A cookie no policy rule declares fails unless ``allow_undeclared``.
    """
    __tracebackhide__ = True
    permitted = frozenset(allowed) | {ESSENTIAL}
    unknown_categories = sorted(c for c in permitted if not policy.has_category(c))
    if unknown_categories:
        raise ValueError(
            f"assert_cookies_allowed: unknown categor{'ies' if len(unknown_categories) > 1 else 'y'} "
            f"{', '.join(unknown_categories)}; the policy has {', '.join(policy.category_names)}"
        )
    problems: list[str] = []
    for name, where in _cookie_entries(cookies):
        if name in CONSENT_COOKIE_NAMES:
            continue
        label = f"{name} ({where})" if where else name
        category = policy.category_of_cookie(name)
        if category is None:
            if not allow_undeclared:
                problems.append(f"  - {label}: declared by no rule in the policy {policy.source}")
        elif category not in permitted:
            problems.append(f"  - {label}: category {category}, which is not allowed")
    if problems:
        order = ", ".join(c for c in policy.category_names if c in permitted)
        count = len(problems)
        raise AssertionError(
            f"{count} cookie{'s' if count != 1 else ''} outside the allowed categories (allowed: {order}):\n"
            + "\n".join(problems)
        )
