"""``{% load consentgate %}``: ``{% consentgate_banner %}`` and ``{% consentgate_csp_nonce %}``.

Both read the request from the template context (Django's ``request`` context processor) and
render nothing when the request did not pass through ConsentMiddleware.
"""

from __future__ import annotations

from typing import Any

from django import template

from consentgate.django.consent import banner_html, csp_nonce

register = template.Library()


@register.simple_tag(takes_context=True)  # type: ignore[untyped-decorator]
def consentgate_banner(context: Any, nonce: str | None = None) -> Any:
    """The consent banner, placed here (put it just before ``</body>``)."""
    request = context.get("request")
    if request is None:
        return ""
    return banner_html(request, nonce)  # Markup: Django keeps what has __html__ as it is


@register.simple_tag(takes_context=True)  # type: ignore[untyped-decorator]
def consentgate_csp_nonce(context: Any) -> str:
    """The nonce for an inline script under the consent-aware CSP:
    ``<script nonce="{% consentgate_csp_nonce %}">``."""
    request = context.get("request")
    return "" if request is None else csp_nonce(request)
