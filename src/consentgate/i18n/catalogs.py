"""The banner's six languages: translation catalogs and choosing one per request.

Each language is one JSON file in ``consentgate/locales`` holding every visible string (the banner,
the preferences dialog, the "my data" page). The catalogs are read once per process. A request's
language comes from, in order: the app (``request.state.consentgate_language`` or the middleware's
``language=`` callable), the visitor's explicit choice (``?consentgate_lang=fr`` or a
``consentgate_lang`` cookie), the browser's ``Accept-Language``, and finally the policy's
``default_language``. The policy's category labels and descriptions override the catalog's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Scope

from consentgate.enforce.cookie_headers import request_cookie_value
from consentgate.enforce.policy import SUPPORTED_LANGUAGES, Category, Policy

__all__ = [
    "LANGUAGES",
    "LANGUAGE_COOKIE",
    "LANGUAGE_PARAM",
    "Catalog",
    "LanguageChooser",
    "Localizer",
    "catalog",
    "negotiate",
]

LANGUAGES: tuple[str, ...] = SUPPORTED_LANGUAGES
LANGUAGE_PARAM = "consentgate_lang"
LANGUAGE_COOKIE = "consentgate_lang"
_LANGUAGE_COOKIE_NAME = LANGUAGE_COOKIE.encode()
STATE_KEY = "consentgate_language"
LOCALES_DIR = Path(__file__).with_name("locales")
_CACHE_LIMIT = 1024

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

    def __iter__(self) -> Any:
        return iter(self._strings)

    def __len__(self) -> int:
        return len(self._strings)

    @property
    def direction(self) -> str:
        """``"rtl"`` for Arabic, ``"ltr"`` otherwise."""
        return self._strings["language.dir"]


@cache
def _load_all() -> Mapping[str, Catalog]:
    catalogs: dict[str, Catalog] = {}
    reference: frozenset[str] | None = None
    for language in LANGUAGES:
        path = LOCALES_DIR / f"{language}.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise ValueError(f"{path}: expected a JSON object of strings")
        keys = frozenset(data)
        if reference is None:
            reference = keys
        elif keys != reference:
            missing = sorted(reference ^ keys)
            raise ValueError(f"{path}: keys differ from en.json: {', '.join(missing)}")
        catalogs[language] = Catalog(language, data)
    return MappingProxyType(catalogs)


def catalog(language: str) -> Catalog:
    """The catalog of one of the six languages (``KeyError`` for any other)."""
    return _load_all()[language]


@cache
def _primary(tag: str) -> str | None:
    primary = tag.split("-", 1)[0].split("_", 1)[0].strip().lower()
    return primary if primary in LANGUAGES else None


def negotiate(accept_language: str | None, default: str) -> str:
    """The best of the six languages for an ``Accept-Language`` header, else ``default``.

    Regional and script variants map to their language (``fr-CA`` → fr, ``zh-Hant-TW`` → zh);
    ``q=0`` excludes a language; ``*`` means "anything", which is the default.
    """
    if not accept_language:
        return default
    best: str | None = None
    best_q = 0.0
    for position, item in enumerate(accept_language.split(",")):
        if position >= 32:  # a real browser sends a handful; ignore a flood
            break
        tag, _, params = item.partition(";")
        quality = 1.0
        params = params.strip()
        if params[:2].lower() == "q=":
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        if not 0.0 < quality <= 1.0:
            continue
        tag = tag.strip()
        language = default if tag == "*" else _primary(tag)
        if language is not None and quality > best_q:
            best, best_q = language, quality
    return best or default


class Localizer:
    """Chooses the language of a request and supplies texts in it. Built once per middleware."""

    def __init__(self, policy: Policy, chooser: LanguageChooser | None = None) -> None:
        self.policy = policy
        self.default = policy.default_language
        self.chooser = chooser
        self._accept_cache: dict[bytes, str] = {}
        _load_all()  # fail at start-up, not on the first request

    def catalog(self, language: str) -> Catalog:
        return catalog(language)

    def language_for(self, scope: Scope, override: str | None = None) -> str:
        """The language to show for this request (see the module docstring for the order)."""
        if override in LANGUAGES:
            return override
        state = scope.get("state")
        if state is not None:
            chosen = state.get(STATE_KEY)
            if chosen in LANGUAGES:
                return str(chosen)
        if self.chooser is not None:
            chosen = self.chooser(scope)
            if chosen in LANGUAGES:
                return str(chosen)
        query: bytes = scope.get("query_string", b"")
        if LANGUAGE_PARAM.encode() in query:
            for key, value in parse_qsl(query.decode("latin-1")):
                if key == LANGUAGE_PARAM and value in LANGUAGES:
                    return value
        accept: bytes | None = None
        for key, value in scope["headers"]:
            # header names compared lowercase first, lowered only on a length match
            if len(key) == 6 and (key == b"cookie" or key.lower() == b"cookie"):
                raw = request_cookie_value(value, _LANGUAGE_COOKIE_NAME)
                chosen = None if raw is None else raw.decode("latin-1")
                if chosen in LANGUAGES:
                    return str(chosen)
            elif len(key) == 15 and (key == b"accept-language" or key.lower() == b"accept-language"):
                accept = value
        if accept is None:
            return self.default
        cached = self._accept_cache.get(accept)
        if cached is None:
            cached = negotiate(accept.decode("latin-1"), self.default)
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
            catalog(language).get(f"category.{category.name}.label")
            or category.name.replace("_", " ").capitalize()
        )

    def description(self, category: Category, language: str) -> str:
        text = category.description(language)
        if text:
            return text
        return catalog(language).get(f"category.{category.name}.description") or ""
