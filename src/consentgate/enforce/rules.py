"""The pieces of a policy: categories with their cookie rules and hosts, the student, tenant,
visit and retention rules, and the lookup from a cookie name to its category. Frozen values;
:mod:`consentgate.enforce.policy_reader` builds them from the file, checking every key."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

__all__ = [
    "BUILTIN_LANGUAGES",
    "DEFAULT_CATEGORIES",
    "ESSENTIAL",
    "MARKETING",
    "MAX_CONSENT_DAYS",
    "Category",
    "CookieClassifier",
    "CookieRule",
    "CrawlerRules",
    "EmbedRules",
    "EmbedService",
    "PolicyError",
    "Retention",
    "StorageClassifier",
    "TenantRules",
    "VisitRules",
    "consent_cookie_domain",
]

# A registrable name with at least two labels: the consent cookie's Domain (not an address).
_COOKIE_DOMAIN = re.compile(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
ESSENTIAL = "essential"
MARKETING = "marketing"
MAX_CONSENT_DAYS = 395  # 13 months (R-CON-7)
DEFAULT_CATEGORIES = ("essential", "personalization", "analytics", "marketing")
#: The languages consentgate ships catalogs for (``consentgate/i18n/locales``); a site adds more
#: with language packs, so a policy's ``default_language`` is checked against both at start-up.
BUILTIN_LANGUAGES = ("en", "es", "fr", "ar", "ja", "zh", "de", "it", "pt", "nl", "pl")


class PolicyError(ValueError):
    """A policy file is invalid. The message names the file, the key and the bad value."""

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        super().__init__(f"{source}: {key}: {message}")


@dataclass(frozen=True, slots=True)
class CookieRule:
    """One cookie pattern of a category; ``path``/``domain`` are used when deleting it.

    ``descriptions``, ``durations`` (text per language, ``"*"`` for all) and ``provider`` are
    what the cookie declaration shows visitors; where the policy leaves them out, the cookie
    database fills them in."""

    pattern: str
    path: str = "/"
    domain: str | None = None
    descriptions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), compare=False)
    durations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), compare=False)
    provider: str | None = None

    def description(self, language: str) -> str | None:
        return self.descriptions.get(language) or self.descriptions.get("*")

    def duration(self, language: str) -> str | None:
        return self.durations.get(language) or self.durations.get("*")

    @property
    def is_glob(self) -> bool:
        return "*" in self.pattern


@dataclass(frozen=True, slots=True)
class Category:
    """A cookie category with its cookies, third-party hosts and banner texts."""

    name: str
    cookies: tuple[CookieRule, ...] = ()
    hosts: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    descriptions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    storage: tuple[str, ...] = ()
    """localStorage / sessionStorage keys and IndexedDB database names (exact or ``*`` globs)."""

    @property
    def required(self) -> bool:
        """Essential cookies are always allowed and cannot be switched off."""
        return self.name == ESSENTIAL

    def label(self, language: str) -> str | None:
        return _text_for(self.labels, language)

    def description(self, language: str) -> str | None:
        return _text_for(self.descriptions, language)


def _text_for(texts: Mapping[str, str], language: str) -> str | None:
    """The text for ``language``, else for its shorter forms (``de-CH`` → ``de``), else for all."""
    if texts:
        tag = language
        while tag:
            text = texts.get(tag)
            if text:
                return text
            tag = tag.rpartition("-")[0]
        return texts.get("*")
    return None


@dataclass(frozen=True, slots=True)
class TenantRules:
    """What one school (tenant) adds for its own students."""

    tenant: str
    student_deny: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class VisitRules:
    """How visit metadata may be recorded (see the privacy log)."""

    category: str = "analytics"
    record: Literal["html-get", "get", "all"] = "html-get"
    ipv4_prefix: int = 24
    ipv6_prefix: int = 48
    students: bool = True  # False: never record visits of students, whatever is allowed


@dataclass(frozen=True, slots=True)
class CrawlerRules:
    """Whether crawlers are told apart (no banner, nothing recorded) and by which extra tokens."""

    detect: bool = True
    tokens: tuple[str, ...] = ()  # case-insensitive User-Agent substrings, besides the built-in ones


@dataclass(frozen=True, slots=True)
class EmbedService:
    """What the policy says an embedded service does: the hosts a visitor's browser contacts when
    it loads, and the cookies it may set (the click-to-load placeholder tells the visitor)."""

    name: str
    hosts: tuple[str, ...] = ()
    cookies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EmbedRules:
    """The ``[embeds]`` table: how click-to-load placeholders behave."""

    #: offer "Load this once" (this page view only, nothing recorded); never for a locked category
    load_once: bool = True
    services: Mapping[str, EmbedService] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each kind of record is kept, in days."""

    visits_days: int = 30
    receipts_days: int = 400


class CookieClassifier:
    """Maps a cookie name to its category and rule. Built once; lookups are memoised (bounded)."""

    __slots__ = ("_cache", "_exact", "_globs")

    _CACHE_LIMIT = 4096

    def __init__(self, categories: Iterable[Category]) -> None:
        self._exact: dict[str, tuple[str, CookieRule]] = {}
        globs: list[tuple[int, int, re.Pattern[str], str, CookieRule]] = []
        order = 0
        for category in categories:
            for rule in category.cookies:
                if rule.is_glob:
                    regex = re.compile(".*".join(re.escape(part) for part in rule.pattern.split("*")))
                    literal = len(rule.pattern.replace("*", ""))
                    globs.append((-literal, order, regex, category.name, rule))
                else:
                    self._exact[rule.pattern] = (category.name, rule)
                order += 1
        # The most specific glob (most literal characters) wins; ties go to policy order.
        globs.sort(key=lambda item: (item[0], item[1]))
        self._globs = tuple((regex, name, rule) for _, _, regex, name, rule in globs)
        self._cache: dict[str, tuple[str, CookieRule] | None] = {}

    def lookup(self, name: str) -> tuple[str, CookieRule] | None:
        cache = self._cache
        try:
            return cache[name]
        except KeyError:
            pass
        found = self._exact.get(name)
        if found is None:
            for regex, category, rule in self._globs:
                if regex.fullmatch(name):
                    found = (category, rule)
                    break
        if len(cache) >= self._CACHE_LIMIT:
            cache.clear()  # bounded: a flood of random names cannot grow memory
        cache[name] = found
        return found


class StorageClassifier:
    """Maps a web-storage key or IndexedDB database name to its category: an exact name wins,
    then the most specific glob (most literal characters), then policy order. Built once."""

    __slots__ = ("_exact", "_globs")

    def __init__(self, categories: Iterable[Category]) -> None:
        self._exact: dict[str, str] = {}
        globs: list[tuple[int, int, re.Pattern[str], str]] = []
        for order, (category, pattern) in enumerate((c.name, p) for c in categories for p in c.storage):
            if "*" in pattern:
                regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.S)
                globs.append((-len(pattern.replace("*", "")), order, regex, category))
            else:
                self._exact.setdefault(pattern, category)
        globs.sort(key=lambda item: (item[0], item[1]))
        self._globs = tuple((regex, category) for _, _, regex, category in globs)

    def lookup(self, name: str) -> str | None:
        found = self._exact.get(name)
        if found is not None:
            return found
        for regex, category in self._globs:
            if regex.fullmatch(name):
                return category
        return None


def consent_cookie_domain(table: object, fail: Callable[[str, str], PolicyError]) -> str | None:
    """The policy's ``[consent_cookie]`` table: its ``domain`` shares the visitor's choice with that
    domain and all of its subdomains (returned as the cookie's Domain: lowercase, no leading dot).
    ``fail(key, message)`` makes the error (the policy reader's, naming the file)."""
    if not isinstance(table, dict):
        raise fail("consent_cookie", f"expected a table, got {table!r}")
    for key in table:
        if key != "domain":
            raise fail(f"consent_cookie.{key}", f"unknown key {key!r} (known keys: domain)")
    domain = table.get("domain")
    if domain is None:
        return None
    name = domain.lower().removeprefix(".") if isinstance(domain, str) else ""
    if len(name) > 253 or not _COOKIE_DOMAIN.fullmatch(name):
        raise fail(
            "consent_cookie.domain",
            f"{domain!r} is not a domain name such as 'school.example' (two labels or more, no "
            "address, no port): the consent cookie is shared by it and all of its subdomains",
        )
    return name
