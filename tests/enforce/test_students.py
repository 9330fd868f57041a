"""Recognising student sessions from role signals (R-STU-3) and tenants."""

from __future__ import annotations

import pytest

from consentgate import default_student_resolver, default_tenant_resolver, has_student_role, is_student_role


@pytest.mark.parametrize(
    "role",
    [
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student",
        "http://purl.imsglobal.org/vocab/lis/v2/membership/Learner#NonCreditLearner",
        "urn:lti:role:ims/lis/Learner",
        "urn:lti:role:ims/lis/Learner/GuestLearner",
        "urn:lti:instrole:ims/lis/Student",
        "Learner",
        "student",
        "Student",
        " student ",
    ],
)
def test_r_stu_3_student_roles(role: str) -> None:
    assert is_student_role(role)


@pytest.mark.parametrize(
    "role",
    [
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty",
        "urn:lti:role:ims/lis/Instructor",
        "teacher",
        "administrator",
        "studentish",
        "",
    ],
)
def test_r_stu_3_other_roles_are_not_students(role: str) -> None:
    assert not is_student_role(role)


def test_role_containers() -> None:
    assert has_student_role("Instructor,Learner")  # LTI 1.1 roles parameter
    assert has_student_role(["teacher", "urn:lti:role:ims/lis/Learner"])
    assert has_student_role({"student": {"id": "1"}})  # Clever's roles object
    assert not has_student_role({"teacher": {}})
    assert not has_student_role(42)
    assert not has_student_role(None)


@pytest.mark.parametrize(
    "scope",
    [
        {"state": {"roles": ["student"]}},
        {"state": {"is_student": True}},
        {"session": {"educationUserRole": "student"}},  # Microsoft Graph
        {"session": {"https://purl.imsglobal.org/spec/lti/claim/roles": [
            "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]}},
        {"session": {"role": "student"}},  # OneRoster
        {"session": {"user_type": "student"}},  # Clever
    ],
)
def test_default_resolver_finds_students(scope: dict[str, object]) -> None:
    assert default_student_resolver(scope)


def test_default_resolver_needs_a_signal() -> None:
    assert not default_student_resolver({})
    assert not default_student_resolver({"state": {"roles": ["teacher"]}, "session": {"role": "admin"}})
    assert not default_student_resolver({"state": {"is_student": "yes"}})  # only True counts


def test_default_tenant_resolver() -> None:
    assert default_tenant_resolver({"session": {"tenant": "lincoln-high"}}) == "lincoln-high"
    assert default_tenant_resolver({"state": {"school": "oak"}}) == "oak"
    assert default_tenant_resolver({"state": {"tenant": ""}}) is None
    assert default_tenant_resolver({}) is None


def test_the_student_flag_counts_only_when_true_under_either_key() -> None:
    assert default_student_resolver({"session": {"student": True}})
    assert not default_student_resolver({"session": {"student": False}})
    assert not default_student_resolver({"state": {"student": "yes", "is_student": 1}})


def test_roles_in_the_state_count_when_a_session_is_there_too() -> None:
    scope = {"state": {"roles": ["student"]}, "session": {"user": "u1"}}
    assert default_student_resolver(scope)
    assert default_tenant_resolver({"state": {"tenant": "oak"}, "session": {"tenant": "elm"}}) == "oak"
    assert default_tenant_resolver({"state": {"other": 1}, "session": {"tenant": "elm"}}) == "elm"


@pytest.mark.parametrize(
    "scope",
    [
        {"session": ["student"]},  # a session that is not a mapping (another middleware's object)
        {"state": ["student"]},
        {"state": ["x"], "session": {"role": "teacher"}},
        {"state": {"roles": ["teacher"]}, "session": ("student",)},
        {"state": {}, "session": {}},
    ],
)
def test_state_or_session_of_other_shapes_are_not_read_and_never_raise(scope: dict[str, object]) -> None:
    assert not default_student_resolver(scope)
    assert default_tenant_resolver(scope) is None


def test_call_resolver_takes_sync_and_async_resolvers() -> None:
    import asyncio

    from consentgate.enforce.students import call_resolver

    async def remote(scope: object) -> str:
        return f"async:{scope}"

    assert asyncio.run(call_resolver(lambda scope: f"sync:{scope}", "s")) == "sync:s"  # type: ignore[arg-type]
    assert asyncio.run(call_resolver(remote, "s")) == "async:s"  # type: ignore[arg-type]
