"""consentgate: cookie-consent and tracking governance for ASGI apps, enforced on the server."""

from __future__ import annotations

from .consent import Consent
from .decisions import Decision
from .keys import SecretKeys, WeakSecretError
from .middleware import ConsentMiddleware
from .policy import Category, CookieRule, Policy, PolicyError
from .students import default_student_resolver, default_tenant_resolver, has_student_role, is_student_role

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
