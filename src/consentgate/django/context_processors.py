"""``"consentgate.django.context_processors.consent"``: ``{{ consent }}`` in every template.

``{% if "analytics" in consent.granted %}…{% endif %}``; ``consent.needs_choice``,
``consent.is_student``, ``consent.gpc`` as on :class:`~consentgate.Consent`.
"""

from __future__ import annotations

from typing import Any

from consentgate.django.consent import get_consent

__all__ = ["consent"]


def consent(request: Any) -> dict[str, Any]:
    return {"consent": get_consent(request)}
