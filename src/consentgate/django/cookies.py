"""The cookies Django itself sets, from a project's settings, and what a policy does to them.

A policy with ``unknown_cookies = "block"`` drops every cookie no rule names, Django's session
and CSRF cookies included: sign-in and every form would break. ``consentgate check FILE
--django-settings MODULE`` warns about that before it reaches a running site.

The settings are read as plain attributes (a settings module, its dotted name, or
``django.conf.settings``), with Django's defaults for what a project leaves out; nothing is
configured or set up.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from consentgate.enforce.policy import ESSENTIAL, Policy

__all__ = ["DjangoCookie", "django_cookies", "load_settings", "policy_warnings"]

_SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"
_CSRF = "django.middleware.csrf.CsrfViewMiddleware"
_LOCALE = "django.middleware.locale.LocaleMiddleware"
_MESSAGES_APP = "django.contrib.messages"
_COOKIE_STORAGES = (
    "django.contrib.messages.storage.cookie.CookieStorage",
    "django.contrib.messages.storage.fallback.FallbackStorage",  # cookies first, then the session
)
_MESSAGES_COOKIE = "messages"  # CookieStorage.cookie_name: not a setting


@dataclass(frozen=True, slots=True)
class DjangoCookie:
    """One cookie Django sets: its name, the setting that names it, and what breaks without it."""

    name: str
    setting: str
    purpose: str
    breaks: str


def load_settings(module: str) -> ModuleType:
    """Import a settings module by its dotted name (the working directory is searched first, as
    ``manage.py`` does)."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return importlib.import_module(module)


def django_cookies(settings: Any = None) -> list[DjangoCookie]:
    """The cookies Django sets for these settings (``None``: ``django.conf.settings``; a string:
    a settings module's dotted name): session, CSRF, language and cookie-stored messages, each
    only when the middleware or app that sets it is enabled."""
    from django.conf import global_settings

    if settings is None:
        from django.conf import settings as configured

        settings = configured
    elif isinstance(settings, str):
        settings = load_settings(settings)

    def get(name: str) -> Any:
        return getattr(settings, name, getattr(global_settings, name, None))

    middleware = list(get("MIDDLEWARE") or ())
    apps = list(get("INSTALLED_APPS") or ())
    found: list[DjangoCookie] = []
    if _SESSIONS in middleware:
        found.append(DjangoCookie(get("SESSION_COOKIE_NAME"), "SESSION_COOKIE_NAME", "session",
                                  "sign-in and sessions (the admin included) stop working"))  # fmt: skip
    if _CSRF in middleware and not get("CSRF_USE_SESSIONS"):
        found.append(DjangoCookie(get("CSRF_COOKIE_NAME"), "CSRF_COOKIE_NAME", "CSRF protection",
                                  "every form POST fails Django's CSRF check (403)"))  # fmt: skip
    if get("USE_I18N") and _LOCALE in middleware:
        found.append(DjangoCookie(get("LANGUAGE_COOKIE_NAME"), "LANGUAGE_COOKIE_NAME", "language choice",
                                  "the language a visitor picks (set_language) is forgotten"))  # fmt: skip
    if _MESSAGES_APP in apps and get("MESSAGE_STORAGE") in _COOKIE_STORAGES:
        found.append(DjangoCookie(_MESSAGES_COOKIE, "MESSAGE_STORAGE", "messages",
                                  "messages shown after a redirect are lost"))  # fmt: skip
    return found


def policy_warnings(policy: Policy, cookies: list[DjangoCookie]) -> list[str]:
    """One line per Django cookie the policy keeps from a visitor who has not consented."""
    warnings = []
    for cookie in cookies:
        category = policy.category_of_cookie(cookie.name)
        if category == ESSENTIAL:
            continue
        if category is None:
            if policy.unknown_cookies == "allow":
                continue
            why = 'no rule names it and unknown_cookies = "block": it never reaches the browser'
        else:
            why = f"it is in category {category!r}: a visitor who has not allowed {category} never gets it"
        warnings.append(
            f"Django's {cookie.purpose} cookie {cookie.name!r} ({cookie.setting}): {why}, so "
            f"{cookie.breaks}; list it under [categories.essential]"
        )
    return warnings
