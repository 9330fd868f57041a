"""consentgate: cookie-consent and tracking governance for ASGI apps, enforced on the server."""

from __future__ import annotations

from consentgate.enforce.consent import Consent
from consentgate.enforce.decisions import Decision
from consentgate.enforce.keys import SecretKeys, WeakSecretError
from consentgate.enforce.policy import Category, CookieRule, Policy, PolicyError
from consentgate.enforce.students import (
    default_student_resolver,
    default_tenant_resolver,
    has_student_role,
    is_student_role,
)
from consentgate.middleware import ConsentMiddleware

__all__ = [
    "Category",
    "Consent",
    "ConsentMiddleware",
    "CookieRule",
    "Decision",
    "Policy",
    "PolicyError",
    "SecretKeys",
    "WeakSecretError",
    "default_student_resolver",
    "default_tenant_resolver",
    "has_student_role",
    "is_student_role",
]
