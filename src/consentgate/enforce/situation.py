"""A request's situation: whether it comes from a student session, with GPC, for which school.

With the visitor's choice, the situation decides the effective consent (the ceilings of
:mod:`consentgate.enforce.consent`). The built-in signals live in the scope's state and the session
(:mod:`consentgate.enforce.students`); an app adds its own resolvers, sync or async.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable

from starlette.types import Scope

from consentgate.enforce.students import (
    StudentResolver,
    TenantResolver,
    default_student_resolver,
    default_tenant_resolver,
)
from consentgate.enforce.visitors import Situation

__all__ = ["SituationReader"]


class SituationReader:
    """Reads (student session, GPC, tenant) for one middleware.

    ``student_resolver`` adds to the built-in role detection; ``tenant_resolver`` replaces the
    built-in tenant lookup."""

    def __init__(
        self, student_resolver: StudentResolver | None = None, tenant_resolver: TenantResolver | None = None
    ) -> None:
        self.student_resolver = student_resolver
        self.tenant_resolver = tenant_resolver or default_tenant_resolver
        self._own_tenants = tenant_resolver is not None

    def read(self, scope: Scope, gpc: bool) -> Situation | Awaitable[Situation]:
        """The situation, or an awaitable of it when one of the app's resolvers is async (most
        apps' are not: no coroutine is made for them)."""
        # The built-in role and tenant signals live in the scope's state and the session; with
        # neither present (most requests of most apps) there is nothing to look at.
        has_roles = bool(scope.get("state") or scope.get("session"))
        is_student = has_roles and default_student_resolver(scope)
        if not is_student and self.student_resolver is not None:
            result = self.student_resolver(scope)
            if inspect.isawaitable(result):
                return self._read_async(scope, gpc, has_roles, result)
            is_student = bool(result)
        if has_roles or self._own_tenants:
            tenant = self.tenant_resolver(scope)
            if inspect.isawaitable(tenant):
                return self._read_async(scope, gpc, has_roles, is_student, tenant)
            return (is_student, gpc, tenant if isinstance(tenant, str) and tenant else None)
        return (is_student, gpc, None)

    async def _read_async(
        self, scope: Scope, gpc: bool, has_roles: bool, student: object, tenant: object = None
    ) -> Situation:
        """``student`` (and ``tenant``) may be awaitables."""
        is_student = bool(await student) if inspect.isawaitable(student) else bool(student)
        if tenant is None and (has_roles or self._own_tenants):
            tenant = self.tenant_resolver(scope)
        if inspect.isawaitable(tenant):
            tenant = await tenant
        return (is_student, gpc, tenant if isinstance(tenant, str) and tenant else None)
