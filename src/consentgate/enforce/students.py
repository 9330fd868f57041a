"""Recognising student sessions and tenants (schools) from what the app already knows.

A session is a student session if any of the user's roles is a student role (R-STU-3). The
built-in resolver looks where apps usually keep roles: the ASGI scope's ``state`` and the session
(Starlette's ``SessionMiddleware`` must then run before consentgate). Apps with their own notion
pass ``student_resolver`` / ``tenant_resolver``; a custom student resolver adds to the built-ins,
it never overrides a student signal they found.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.types import Scope

__all__ = [
    "STUDENT_ROLES",
    "StudentResolver",
    "TenantResolver",
    "default_student_resolver",
    "default_tenant_resolver",
    "has_student_role",
    "is_student_role",
]

StudentResolver = Callable[[Scope], "bool | Awaitable[bool]"]
TenantResolver = Callable[[Scope], "str | Awaitable[str | None] | None"]

LTI13_LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
LTI13_STUDENT = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student"
LTI11_LEARNER = "urn:lti:role:ims/lis/Learner"
LTI11_STUDENT = "urn:lti:instrole:ims/lis/Student"
LTI13_ROLES_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/roles"

# Compared case-insensitively. Plain "student"/"learner" cover OneRoster, Clever, Microsoft Graph
# educationUserRole and LTI 1.1 short role names.
STUDENT_ROLES = frozenset(
    r.lower()
    for r in (
        LTI13_LEARNER,
        LTI13_STUDENT,
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Learner",
        LTI11_LEARNER,
        LTI11_STUDENT,
        "urn:lti:instrole:ims/lis/Learner",
        "student",
        "learner",
    )
)
_SUB_ROLE_PREFIXES = (
    "http://purl.imsglobal.org/vocab/lis/v2/membership/learner#",  # LTI 1.3 sub-roles of Learner
    "urn:lti:role:ims/lis/learner/",  # LTI 1.1 sub-roles of Learner
)
_ROLE_KEYS = (
    "roles",
    "role",
    "lti_roles",
    LTI13_ROLES_CLAIM,
    "educationUserRole",
    "primaryRole",
    "user_type",
)
_TENANT_KEYS = ("tenant", "tenant_id", "school")


def is_student_role(role: str) -> bool:
    """Whether one role value names a student or learner (R-STU-3)."""
    lowered = role.strip().lower()
    return lowered in STUDENT_ROLES or lowered.startswith(_SUB_ROLE_PREFIXES)


def has_student_role(roles: object) -> bool:
    """Whether any role in ``roles`` is a student role.

    Accepts one string (LTI 1.1 sends a comma-separated list), an iterable of strings, or a
    mapping whose keys are roles (Clever's ``roles`` object).
    """
    if isinstance(roles, str):
        return any(is_student_role(part) for part in roles.replace(",", " ").split())
    if isinstance(roles, dict):
        return any(isinstance(k, str) and is_student_role(k) for k in roles)
    if isinstance(roles, Iterable):
        return any(isinstance(r, str) and has_student_role(r) for r in roles)
    return False


def _containers(scope: Scope) -> tuple[dict[str, Any], ...]:
    """The non-empty dicts that may carry roles: the scope's state and the session (runs per
    request, so it avoids generators and skips the usual empty state at once)."""
    state = scope.get("state")
    session = scope.get("session")
    if not state:
        return (session,) if session and isinstance(session, dict) else ()
    if not isinstance(state, dict):
        state = None
    if session and isinstance(session, dict):
        return (state, session) if state else (session,)
    return (state,) if state else ()


def default_student_resolver(scope: Scope) -> bool:
    """Student if the scope's state or the session holds a student role, or ``student=True``."""
    for container in _containers(scope):
        if container.get("is_student") is True or container.get("student") is True:
            return True
        for key in _ROLE_KEYS:
            value = container.get(key)
            if value is not None and has_student_role(value):
                return True
    return False


def default_tenant_resolver(scope: Scope) -> str | None:
    """The tenant id from the scope's state or the session (keys ``tenant``, ``tenant_id``, ``school``)."""
    for container in _containers(scope):
        for key in _TENANT_KEYS:
            value = container.get(key)
            if isinstance(value, str) and value:
                return value
    return None


async def call_resolver(resolver: Callable[[Scope], Any], scope: Scope) -> Any:
    """Call a sync or async resolver."""
    result = resolver(scope)
    if inspect.isawaitable(result):
        return await result
    return result
