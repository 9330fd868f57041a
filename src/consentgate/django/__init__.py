"""consentgate for Django: the consent in views and templates, the ``asgi.py`` one-liner, and the
cookie names Django itself sets (``pip install 'consentgate[django]'``).

Add ``"consentgate.django"`` to ``INSTALLED_APPS`` for ``{% load consentgate %}``."""

from __future__ import annotations

try:
    import django as _django  # noqa: F401
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise ImportError(
        "consentgate.django needs Django: pip install 'consentgate[django]'"
    ) from exc

from consentgate.django.application import asgi
from consentgate.django.consent import NO_MIDDLEWARE, banner_html, csp_nonce, get_consent
from consentgate.django.cookies import DjangoCookie, django_cookies, policy_warnings

__all__ = [
    "NO_MIDDLEWARE",
    "DjangoCookie",
    "asgi",
    "banner_html",
    "csp_nonce",
    "django_cookies",
    "get_consent",
    "policy_warnings",
]
