"""consentgate: cookie-consent and tracking governance for ASGI apps, enforced on the server."""

from __future__ import annotations

from consentgate.banner.banner import consentgate_banner
from consentgate.banner.declaration import consentgate_cookie_declaration
from consentgate.dashboard.app import Dashboard
from consentgate.enforce.consent import Consent
from consentgate.enforce.decisions import Decision
from consentgate.enforce.keys import SecretKeys, WeakSecretError
from consentgate.enforce.policy import Category, CookieRule, Policy, PolicyError
from consentgate.enforce.rate_limit import DecisionRateLimit
from consentgate.enforce.students import (
    default_student_resolver,
    default_tenant_resolver,
    has_student_role,
    is_student_role,
)
from consentgate.i18n.packs import LocaleError
from consentgate.log.client_ip import TrustedProxies
from consentgate.log.geo import CountryLookup
from consentgate.log.privacy_log import PrivacyLog
from consentgate.log.stores.base import Store, StoreError, StoreUnavailable
from consentgate.log.stores.factory import open_store
from consentgate.middleware import SCOPE_KEY, ConsentMiddleware

__all__ = [
    "SCOPE_KEY",
    "Category",
    "Consent",
    "ConsentMiddleware",
    "CookieRule",
    "CountryLookup",
    "Dashboard",
    "Decision",
    "DecisionRateLimit",
    "LocaleError",
    "Policy",
    "PolicyError",
    "PrivacyLog",
    "SecretKeys",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "TrustedProxies",
    "WeakSecretError",
    "consentgate_banner",
    "consentgate_cookie_declaration",
    "default_student_resolver",
    "default_tenant_resolver",
    "has_student_role",
    "is_student_role",
    "open_store",
]
