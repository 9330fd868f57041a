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
