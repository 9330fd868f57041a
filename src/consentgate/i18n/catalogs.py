"""The languages visitors read: catalogs, negotiation, and choosing one per request.

Each language is one catalog of every visible string (the banner, the preferences dialog, the
click-to-load placeholders, the "my data" page). consentgate ships eleven (``BUILTIN_LANGUAGES``);
a site adds more, or overrides any string of a built-in one, with a folder of JSON packs
(:mod:`consentgate.i18n.packs`), read and checked once at start-up.

A request's language comes from, in order: the app (``request.state.consentgate_language`` or the
middleware's ``language=`` callable), the visitor's explicit choice (``?consentgate_lang=fr`` or a
``consentgate_lang`` cookie), the browser's ``Accept-Language``, and finally the policy's
``default_language``. A requested tag the site has no catalog for falls back to its shorter forms
(``pt-BR`` → ``pt``, ``zh-Hant-TW`` → ``zh``). The policy's category labels and descriptions
override the catalog's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from urllib.parse import parse_qsl

from starlette.types import Scope

from consentgate.enforce.cookie_headers import request_cookie_value
from consentgate.enforce.policy import BUILTIN_LANGUAGES, Category, Policy, PolicyError
from consentgate.i18n.packs import BUILTIN_DIR, builtin_packs, site_packs

__all__ = [
    "LANGUAGES",
    "LANGUAGE_COOKIE",
    "LANGUAGE_PARAM",
    "LOCALES_DIR",
    "Catalog",
    "Catalogs",
    "LanguageChooser",
    "LocalesFolder",
    "Localizer",
    "catalog",
    "negotiate",
]

LANGUAGES: tuple[str, ...] = BUILTIN_LANGUAGES
LANGUAGE_PARAM = "consentgate_lang"
LANGUAGE_COOKIE = "consentgate_lang"
_LANGUAGE_COOKIE_NAME = LANGUAGE_COOKIE.encode()
STATE_KEY = "consentgate_language"
LOCALES_DIR = BUILTIN_DIR
_CACHE_LIMIT = 1024
_MAX_RANGES = 32  # a real browser sends a handful of Accept-Language entries; ignore a flood

LocalesFolder = str | Path
"""A folder of language packs (``xx.json``, ``xx-YY.json``)."""

LanguageChooser = Callable[[Scope], "str | None"]
"""An app's own language choice for a request (``scope -> "fr"``); ``None`` means no opinion."""


class Catalog(Mapping[str, str]):
    """The strings of one language. A missing key is an error at load time, never at request time."""

    __slots__ = ("_strings", "language")

    def __init__(self, language: str, strings: Mapping[str, str]) -> None:
        self.language = language
        self._strings = MappingProxyType(dict(strings))

    def __getitem__(self, key: str) -> str:
        return self._strings[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._strings)

    def __len__(self) -> int:
        return len(self._strings)

    @property
    def direction(self) -> str:
        """``"rtl"`` or ``"ltr"`` (the catalog's ``language.dir``)."""
        return self._strings["language.dir"]

    def section(self, prefix: str) -> Mapping[str, str]:
        """The strings whose keys start with ``prefix``, keyed by the rest (``my_data.title`` → ``title``)."""
        size = len(prefix)
        return MappingProxyType({k[size:]: v for k, v in self._strings.items() if k.startswith(prefix)})


class Catalogs:
    """Every language one site speaks: the built-in catalogs plus the packs in ``folder``."""

    def __init__(self, folder: LocalesFolder | None = None) -> None:
        builtin = builtin_packs()
        packs = dict(builtin)
        if folder is not None:
            packs.update(site_packs(folder, builtin))
        self.folder = None if folder is None else Path(folder)
        self._catalogs = {tag: Catalog(tag, strings) for tag, strings in packs.items()}
        #: every language tag, the built-in ones first
        self.languages: tuple[str, ...] = tuple(self._catalogs)
        #: the tags the site's folder adds to the built-in ones
        self.added: tuple[str, ...] = tuple(tag for tag in packs if tag not in builtin)
        self._lookup = {tag.lower(): tag for tag in self._catalogs}

    def __contains__(self, tag: object) -> bool:
        return tag in self._catalogs

    def __getitem__(self, tag: str) -> Catalog:
        return self._catalogs[tag]

    def find(self, tag: str) -> str | None:
        """The language to show for a requested tag: the tag itself (any letter case), else its
        shorter forms (``de-CH-1996`` → ``de-CH`` → ``de``); ``None`` when none is known."""
        if tag in self._catalogs:
            return tag
        key = tag.strip().replace("_", "-").lower()
        while key:
            found = self._lookup.get(key)
            if found is not None:
                return found
            key = key.rpartition("-")[0]
        return None

    def negotiate(self, accept_language: str | None, default: str) -> str:
        """The best language for an ``Accept-Language`` header, else ``default``.

        The highest quality wins, the first listed among equals; ``q=0`` excludes an entry and
        ``*`` means "anything", which is the default.
        """
        if not accept_language:
            return default
        best: str | None = None
        best_q = 0.0
        for position, item in enumerate(accept_language.split(",")):
            if position >= _MAX_RANGES:
                break
            tag, _, params = item.partition(";")
            quality = 1.0
            params = params.strip()
            if params[:2].lower() == "q=":
                try:
                    quality = float(params[2:])
                except ValueError:
                    continue
            if not best_q < quality <= 1.0:
                continue
            tag = tag.strip()
            language = default if tag == "*" else self.find(tag)
            if language is not None:
                best, best_q = language, quality
        return best or default


@cache
def _builtin() -> Catalogs:
    return Catalogs()


def catalog(language: str) -> Catalog:
    """The catalog of a built-in language (``KeyError`` for any other)."""
    return _builtin()[language]


def negotiate(accept_language: str | None, default: str) -> str:
    """The best built-in language for an ``Accept-Language`` header, else ``default``."""
    return _builtin().negotiate(accept_language, default)


class Localizer:
    """Chooses the language of a request and supplies texts in it. Built once per middleware.

    ``locales`` is a folder of the site's language packs (by default the policy's ``locales``);
    they are read and checked here, so a bad pack stops the app at start-up. The policy's
    ``default_language`` must be one of the languages then known.
    """

    def __init__(
        self, policy: Policy, chooser: LanguageChooser | None = None, locales: LocalesFolder | None = None
    ) -> None:
        self.policy = policy
        self.chooser = chooser
        folder = locales if locales is not None else policy.locales
        self.catalogs = _builtin() if folder is None else Catalogs(folder)
        default = self.catalogs.find(policy.default_language)
        if default is None:
            where = (
                f"the locale folder {folder} has no {policy.default_language}.json"
                if folder is not None
                else "no locale folder is given (ConsentMiddleware(locales=...) or locales = \"DIR\")"
            )
            raise PolicyError(
                policy.source,
                "default_language",
                f"{policy.default_language!r} is not a built-in language ({', '.join(BUILTIN_LANGUAGES)}) "
                f"and no language pack provides it: {where}",
            )
        self.default = default
        self.languages = self.catalogs.languages
        self._accept_cache: dict[bytes, str] = {}

    def catalog(self, language: str) -> Catalog:
        return self.catalogs[language]

    def find(self, tag: object) -> str | None:
        """The site's language for a requested tag, or ``None`` (also for anything not text)."""
        return self.catalogs.find(tag) if isinstance(tag, str) else None

    def language_for(self, scope: Scope, override: str | None = None) -> str:
        """The language to show for this request (see the module docstring for the order)."""
        find = self.find
        chosen = find(override)
        if chosen is not None:
            return chosen
        state = scope.get("state")
        if state is not None:
            chosen = find(state.get(STATE_KEY))
            if chosen is not None:
                return chosen
        if self.chooser is not None:
            chosen = find(self.chooser(scope))
            if chosen is not None:
                return chosen
        query: bytes = scope.get("query_string", b"")
        if LANGUAGE_PARAM.encode() in query:
            for key, value in parse_qsl(query.decode("latin-1")):
                if key == LANGUAGE_PARAM:
                    chosen = find(value)
                    if chosen is not None:
                        return chosen
        accept: bytes | None = None
        for key, value in scope["headers"]:
            # header names compared lowercase first, lowered only on a length match
            if len(key) == 6 and (key == b"cookie" or key.lower() == b"cookie"):
                raw = request_cookie_value(value, _LANGUAGE_COOKIE_NAME)
                chosen = None if raw is None else find(raw.decode("latin-1"))
                if chosen is not None:
                    return chosen
            elif len(key) == 15 and (key == b"accept-language" or key.lower() == b"accept-language"):
                accept = value
        if accept is None:
            return self.default
        cached = self._accept_cache.get(accept)
        if cached is None:
            cached = self.catalogs.negotiate(accept.decode("latin-1"), self.default)
            if len(self._accept_cache) >= _CACHE_LIMIT:
                self._accept_cache.clear()
            self._accept_cache[accept] = cached
        return cached

    def label(self, category: Category, language: str) -> str:
        """The policy's label in this language, else the catalog's, else the category name."""
        text = category.label(language)
        if text:
            return text
        return (
            self.catalogs[language].get(f"category.{category.name}.label")
            or category.name.replace("_", " ").capitalize()
        )

    def description(self, category: Category, language: str) -> str:
        text = category.description(language)
        if text:
            return text
        return self.catalogs[language].get(f"category.{category.name}.description") or ""
