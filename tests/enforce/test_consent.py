"""The resolver: a stored choice under the ceilings of a request's situation (R-GPC-1, R-GPC-2,
R-STU-1), read back field by field."""

from __future__ import annotations

from coreapp import make_policy

from consentgate.enforce.consent import Consent, ConsentResolver
from consentgate.enforce.consent_cookie import StoredChoice


def test_r_gpc_2_a_stored_choice_keeps_what_was_chosen_its_revision_and_time_under_gpc() -> None:
    policy = make_policy()  # revision 3
    choice = StoredChoice(frozenset({"analytics", "marketing"}), 2, 1_750_000_000, "cid")
    for _ in range(2):  # the second comes from the resolver's memo
        consent = ConsentResolver(policy).resolve(choice, is_student=False, gpc=True, tenant=None)
        assert consent == Consent(
            granted=frozenset({"essential", "analytics"}),
            needs_choice=False,
            consent_id="cid",
            gpc=True,
            chosen=frozenset({"essential", "analytics", "marketing"}),
            locked={"marketing": "gpc"},
            given_at=1_750_000_000,
            revision=2,  # the choice's own revision: it is older than the policy's
        )


def test_r_stu_1_no_choice_yet_carries_the_policys_revision_and_the_ceilings() -> None:
    policy = make_policy()
    resolver = ConsentResolver(policy)
    consent = resolver.resolve(None, is_student=True, gpc=True, tenant="lincoln-high")
    assert consent == Consent(
        granted=frozenset({"essential"}),
        needs_choice=True,
        is_student=True,
        gpc=True,
        tenant="lincoln-high",
        chosen=frozenset({"essential"}),
        locked={"marketing": "student", "analytics": "student", "personalization": "student"},
        revision=3,
    )
    assert resolver.ceiling(True, True, "lincoln-high") == frozenset({"marketing", "analytics", "personalization"})
    assert resolver.ceiling(False, True, None) == frozenset({"marketing"})
