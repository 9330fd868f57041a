"""Consent-aware Content-Security-Policy: only the hosts of allowed categories may load.

With ``csp = "enforce"`` (or ``"report-only"``) in the policy, every HTML response gets a
``Content-Security-Policy`` (or ``…-Report-Only``) header of its own whose ``script-src``,
``connect-src``, ``img-src`` and ``frame-src`` list ``'self'`` plus the third-party hosts of the
categories allowed for that request. An unannotated tag of a denied category then cannot load.
It is a separate header, so an app's own CSP keeps working: browsers enforce every policy.

Only the four fetch directives above are restricted (styles, fonts and the rest are the app's
business). Inline scripts need the per-response nonce (``request.state.csp_nonce``): the header
lists it in ``script-src``, and the banner copies an activated inline script's nonce.
"""

from __future__ import annotations

import secrets
from typing import Literal

from consentgate.enforce.policy import Policy

__all__ = ["NONCE_STATE_KEY", "ConsentCsp"]

NONCE_STATE_KEY = "csp_nonce"
_DIRECTIVES = ("script-src", "connect-src", "img-src", "frame-src")
_CACHE_LIMIT = 256


class ConsentCsp:
    """Builds the header value once per set of allowed categories; per request only the nonce changes."""

    def __init__(self, policy: Policy, mode: Literal["report-only", "enforce"] | None = None) -> None:
        self.policy = policy
        chosen = mode or policy.csp
        if chosen not in ("report-only", "enforce"):
            raise ValueError(f"csp mode must be 'report-only' or 'enforce', got {chosen!r}")
        self.mode = chosen
        self.header_name = (
            b"content-security-policy" if chosen == "enforce" else b"content-security-policy-report-only"
        )
        self._cache: dict[frozenset[str], tuple[bytes, bytes]] = {}

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(18)

    def parts(self, granted: frozenset[str]) -> tuple[bytes, bytes]:
        """The header value split around the nonce: ``head + nonce + tail``."""
        cached = self._cache.get(granted)
        if cached is None:
            hosts = " ".join(self.policy.hosts_for(granted))
            extra = f" {hosts}" if hosts else ""
            head = f"script-src 'self'{extra} 'nonce-".encode()
            rest = [
                f"connect-src 'self'{extra}",
                f"img-src 'self' data:{extra}",
                f"frame-src 'self'{extra}",
            ]
            tail = ("'; " + "; ".join(rest)).encode()
            cached = (head, tail)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[granted] = cached
        return cached

    def header(self, granted: frozenset[str], nonce: str) -> tuple[bytes, bytes]:
        """The ``(name, value)`` header for a response allowed ``granted``."""
        head, tail = self.parts(granted)
        return (self.header_name, head + nonce.encode() + tail)
