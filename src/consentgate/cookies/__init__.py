"""Cookie knowledge: the cookie database, suggestions, live-discovery folding, the declaration."""

from __future__ import annotations

from consentgate.cookies.checks import PolicyWarning, check_policy
from consentgate.cookies.database import CookieDatabase, CookieEntry, Match, default_database
from consentgate.cookies.declaration import Declaration, DeclaredCookie
from consentgate.cookies.discovery import UndeclaredCookie
from consentgate.cookies.suggestions import Suggestion, suggest

__all__ = [
    "CookieDatabase",
    "CookieEntry",
    "Declaration",
    "DeclaredCookie",
    "Match",
    "PolicyWarning",
    "Suggestion",
    "UndeclaredCookie",
    "check_policy",
    "default_database",
    "suggest",
]
