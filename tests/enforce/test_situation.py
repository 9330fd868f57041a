"""A request's situation (student session, GPC, tenant) from the app's resolvers, sync or async
(R-STU-1, R-STU-2, R-STU-3)."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from consentgate.enforce.situation import SituationReader


def _read(reader: SituationReader, scope: dict[str, Any], gpc: bool = False) -> Any:
    result = reader.read(scope, gpc)
    if inspect.isawaitable(result):

        async def wait() -> Any:
            return await result

        return asyncio.run(wait())
    return result


def _scope(**headers: str) -> dict[str, Any]:
    return {"type": "http", "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    return next((v.decode() for k, v in scope["headers"] if k == name), None)


def student_sync(scope: dict[str, Any]) -> bool:
    return _header(scope, b"x-role") == "student"


async def student_async(scope: dict[str, Any]) -> bool:
    return _header(scope, b"x-role") == "student"


def tenant_sync(scope: dict[str, Any]) -> str | None:
    return _header(scope, b"x-school")


async def tenant_async(scope: dict[str, Any]) -> str | None:
    return _header(scope, b"x-school")


@pytest.mark.parametrize("student", [student_sync, student_async])
@pytest.mark.parametrize("tenant", [tenant_sync, tenant_async])
def test_resolvers_sync_or_async_give_the_same_situation(student: Any, tenant: Any) -> None:
    reader = SituationReader(student, tenant)
    assert _read(reader, _scope(**{"x-role": "student", "x-school": "oak"}), gpc=True) == (True, True, "oak")
    assert _read(reader, _scope(**{"x-role": "teacher", "x-school": "elm"})) == (False, False, "elm")
    assert _read(reader, _scope()) == (False, False, None)
    assert _read(reader, _scope(**{"x-school": ""})) == (False, False, None)  # an empty id is no tenant


def test_an_async_student_resolver_with_the_built_in_tenant_signals() -> None:
    reader = SituationReader(student_async)
    with_roles = {**_scope(**{"x-role": "student"}), "session": {"tenant": "oak"}}
    assert _read(reader, with_roles) == (True, False, "oak")
    assert _read(reader, _scope(**{"x-role": "student"})) == (True, False, None)  # no state, no session
    assert _read(reader, {**_scope(), "session": {"tenant": 5}}) == (False, False, None)  # not a name


def test_built_in_roles_need_no_resolver_and_a_resolver_adds_to_them() -> None:
    builtin = SituationReader()
    assert _read(builtin, {**_scope(), "session": {"role": "student", "tenant": "oak"}}) == (True, False, "oak")
    assert _read(builtin, {**_scope(**{"x-role": "student"})}) == (False, False, None)
    adding = SituationReader(student_sync)
    assert _read(adding, {**_scope(), "session": {"role": "teacher"}}) == (False, False, None)
    assert _read(adding, {**_scope(**{"x-role": "student"}), "state": {"x": 1}}) == (True, False, None)


def test_r_stu_3_built_in_roles_and_tenant_are_read_from_the_scopes_state_without_a_session() -> None:
    reader = SituationReader()
    scope = {**_scope(), "state": {"roles": ["urn:lti:role:ims/lis/Learner"], "tenant": "lincoln-high"}}
    assert _read(reader, scope) == (True, False, "lincoln-high")
    assert _read(reader, {**_scope(), "state": {"roles": ["teacher"]}}, gpc=True) == (False, True, None)
