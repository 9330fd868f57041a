"""The request's consent, banner and CSP nonce, read from a Django request.

Under ASGI, behind :class:`~consentgate.ConsentMiddleware`, a Django request carries the ASGI
scope the middleware filled in (``request.scope``). Under WSGI (``runserver``, Django's test
``Client``) or without the middleware there is none: views then get an essential-only consent,
templates get no banner, and a warning is logged once, never an exception.
"""

from __future__ import annotations

import logging
from typing import Any

from markupsafe import Markup

from consentgate.banner.banner import BANNER_SCOPE_KEY, PLACED_STATE_KEY, Banner
from consentgate.banner.csp import NONCE_STATE_KEY
from consentgate.enforce.consent import Consent
from consentgate.enforce.policy import ESSENTIAL
from consentgate.middleware import SCOPE_KEY

__all__ = ["ESSENTIAL_ONLY", "NO_MIDDLEWARE", "banner_html", "csp_nonce", "get_consent"]

logger = logging.getLogger("consentgate")

NO_MIDDLEWARE = (
    "consentgate: a Django request without ConsentMiddleware in front of it (served over WSGI, "
    "such as runserver or the test Client, or an asgi.py without consentgate.django.asgi()); "
    "views get an essential-only consent and templates no banner"
)
#: What a view gets when no middleware decided: nothing optional is allowed.
ESSENTIAL_ONLY = Consent(granted=frozenset({ESSENTIAL}), needs_choice=True)
_warned = False


def _scope(request: Any) -> dict[str, Any] | None:
    scope = getattr(request, "scope", None)  # ASGIRequest has one, WSGIRequest does not
    return scope if isinstance(scope, dict) else None


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        logger.warning(NO_MIDDLEWARE)


def get_consent(request: Any) -> Consent:
    """The effective consent of a Django request (``consent.allows("analytics")``).

    Behind the middleware: the same :class:`~consentgate.Consent` Starlette handlers get (student
    and GPC ceilings applied). Otherwise an essential-only consent, with a warning logged once.
    """
    scope = _scope(request)
    consent = None if scope is None else scope.get(SCOPE_KEY)
    if isinstance(consent, Consent):
        return consent
    _warn_once()
    return ESSENTIAL_ONLY


def banner_html(request: Any, nonce: str | None = None) -> Markup:
    """The banner for this request, placed where the template asks; the middleware then does not
    inject a second copy. Empty without the middleware, and for crawlers."""
    scope = _scope(request)
    if scope is None:
        _warn_once()
        return Markup("")
    banner = scope.get(BANNER_SCOPE_KEY)
    consent = scope.get(SCOPE_KEY)
    if not isinstance(banner, Banner) or not isinstance(consent, Consent):
        _warn_once()
        return Markup("")
    state = scope.setdefault("state", {})
    state[PLACED_STATE_KEY] = True
    if banner.skips(scope):
        return Markup("")
    language = banner.localizer.language_for(scope)
    return Markup(banner.render(consent, language, nonce or state.get(NONCE_STATE_KEY)))  # noqa: S704


def csp_nonce(request: Any) -> str:
    """The nonce of this response's consent-aware CSP (for inline scripts), or ``""``."""
    scope = _scope(request)
    state = None if scope is None else scope.get("state")
    nonce = state.get(NONCE_STATE_KEY) if isinstance(state, dict) else None
    return nonce if isinstance(nonce, str) else ""
