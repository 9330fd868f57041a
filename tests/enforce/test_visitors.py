"""From a request's consent cookie to its effective consent: memoised on the cookie's value and the
situation, never on the whole Cookie header (R-CON-7, R-CON-8, R-GPC-2, R-STU-1)."""

from __future__ import annotations

import time

from coreapp import POLICY_TOML, SECRET, make_policy
from hypothesis import given
from hypothesis import strategies as st

from consentgate.enforce.consent import ConsentResolver
from consentgate.enforce.consent_cookie import ConsentCookieCodec, new_consent_id
from consentgate.enforce.cookie_headers import request_cookie_value
from consentgate.enforce.keys import SecretKeys
from consentgate.enforce.visitors import Visitors, consent_cookie_value

POLICY = make_policy()
CODEC = ConsentCookieCodec(SecretKeys.load(SECRET), POLICY)


def reference_value(header: bytes, names: tuple[bytes, ...] = CODEC.read_order) -> bytes | None:
    """What the consent cookie's value is, read the plain way: one search per name, in order."""
    for name in names:
        found = request_cookie_value(header, name)
        if found:
            return found
    return None


PIECES = st.sampled_from(
    [
        b"consentgate=abc",
        b"__Host-consentgate=sec",
        b"consentgate =  spaced \t",
        b"xconsentgate=no",
        b"consentgatex=no",
        b"_ga=GA1.1",
        b"a=consentgate=1",
        b"consentgate",
        b"",
        b" ",
        b"__Host-consentgate=",
        b"session=s; x",
        b"__Host-consentgatex=1",
        b"\tconsentgate\t=\tt\t",
        b"__Secure-consentgate=dom",
        b"__Secure-consentgate=",
        b"x__Secure-consentgate=no",
        b"_ga_K3X9=GS1.1.consentgate.1",
        b"consent=consentgate",
    ]
)
READ_ORDERS = st.sampled_from(
    [
        (b"__Host-consentgate", b"__Secure-consentgate", b"consentgate"),
        (b"__Secure-consentgate", b"__Host-consentgate", b"consentgate"),
    ]
)


@given(st.lists(PIECES, max_size=6), st.sampled_from([b";", b"; ", b" ;"]), READ_ORDERS)
def test_the_consent_cookie_value_is_read_as_browsers_send_it(
    pieces: list[bytes], glue: bytes, names: tuple[bytes, ...]
) -> None:
    header = glue.join(pieces)
    assert consent_cookie_value(header, names) == reference_value(header, names)


def test_the_prefixed_cookie_wins_wherever_it_stands() -> None:
    assert consent_cookie_value(b"consentgate=plain; a=1; __Host-consentgate=secure") == b"secure"
    assert consent_cookie_value(b"__Host-consentgate=secure; consentgate=plain") == b"secure"
    assert consent_cookie_value(b"a=1; b=2") is None


def _visitors(tag: object = None) -> Visitors:
    return Visitors(
        CODEC, ConsentResolver(POLICY), (lambda consent: tag) if tag is not None else lambda c: None
    )


def test_r_gpc_2_a_returning_visitor_loses_marketing_when_gpc_arrives_and_gets_it_back_without() -> None:
    visitors = _visitors()
    value = CODEC.encode({"analytics", "marketing"}, new_consent_id()).encode()
    now = time.time()
    plain, _ = visitors.decide(value, (False, False, None), now)
    assert plain.consent is not None and "marketing" in plain.consent.granted
    gpc, _ = visitors.decide(value, (False, True, None), now)
    assert gpc.consent is not None and "marketing" not in gpc.consent.granted
    assert gpc.consent.locked.get("marketing") == "gpc"
    again, _ = visitors.decide(value, (False, False, None), now)
    assert again.consent is not None and "marketing" in again.consent.granted


def test_r_stu_1_the_same_cookie_in_a_student_session_never_grants_marketing() -> None:
    visitors = _visitors()
    value = CODEC.encode({"analytics", "marketing"}, new_consent_id()).encode()
    teacher, _ = visitors.decide(value, (False, False, None), time.time())
    assert teacher.consent is not None and "marketing" in teacher.consent.granted
    student, _ = visitors.decide(value, (True, False, None), time.time())
    assert student.consent is not None and "marketing" not in student.consent.granted
    assert student.consent.is_student


def test_one_consent_object_per_value_and_situation_and_one_per_situation_without_a_choice() -> None:
    visitors = _visitors()
    value = CODEC.encode({"analytics"}, new_consent_id()).encode()
    first, _ = visitors.decide(value, (False, False, None), time.time())
    second, _ = visitors.decide(value, (False, False, None), time.time())
    assert first.consent is second.consent
    none_a, previous = visitors.decide(None, (False, False, None), time.time())
    none_b, _ = visitors.decide(None, (False, False, None), time.time())
    assert none_a.consent is none_b.consent and previous is None
    assert none_a.consent is not None and none_a.consent.needs_choice


def test_r_con_7_an_expired_choice_asks_again_but_keeps_its_consent_id_for_the_next_decision() -> None:
    visitors = _visitors()
    consent_id = new_consent_id()
    given_at = int(time.time()) - 400 * 86400
    value = CODEC.encode({"analytics"}, consent_id, given_at).encode()
    entry, previous = visitors.decide(value, (False, False, None), time.time())
    assert entry.consent is not None and entry.consent.needs_choice
    assert previous is not None and previous.consent_id == consent_id


def test_r_con_8_a_choice_under_another_revision_asks_again() -> None:
    old_policy = make_policy(POLICY_TOML.replace("revision = 3", "revision = 2"))
    old_codec = ConsentCookieCodec(SecretKeys.load(SECRET), old_policy)
    value = old_codec.encode({"analytics"}, new_consent_id()).encode()
    entry, previous = _visitors().decide(value, (False, False, None), time.time())
    assert entry.consent is not None and entry.consent.needs_choice and previous is not None


def test_a_tampered_or_foreign_value_is_no_choice() -> None:
    visitors = _visitors()
    value = CODEC.encode({"analytics"}, new_consent_id()).encode()
    for bad in (value[:-2] + b"xx", b"garbage", b"c1.1.x.y.z.sig", value + b"."):
        entry, previous = visitors.decide(bad, (False, False, None), time.time())
        assert entry.consent is not None and entry.consent.needs_choice and previous is None


def test_the_tag_is_worked_out_once_per_consent_built() -> None:
    calls: list[object] = []
    visitors = Visitors(CODEC, ConsentResolver(POLICY), lambda consent: calls.append(consent) or len(calls))
    value = CODEC.encode({"analytics"}, new_consent_id()).encode()
    for _ in range(5):
        entry, _ = visitors.decide(value, (False, False, None), time.time())
    assert entry.tag == 1 and len(calls) == 1
    entry, _ = visitors.decide(value, (False, True, None), time.time())
    assert entry.tag == 2


def test_a_flood_of_distinct_cookies_stays_bounded() -> None:
    visitors = Visitors(CODEC, ConsentResolver(POLICY), lambda consent: None, limit=500)
    for n in range(5000):
        visitors.decide(b"junk-%d" % n, (False, False, None), time.time())
    assert visitors.held() <= 1000


def test_without_choice_is_the_consent_of_a_request_with_no_valid_cookie_in_that_situation() -> None:
    visitors = Visitors(CODEC, ConsentResolver(POLICY))
    plain = visitors.without_choice()
    assert (plain.granted, plain.needs_choice, plain.is_student, plain.gpc, plain.tenant) == (
        frozenset({"essential"}), True, False, False, None,
    )  # fmt: skip
    student = visitors.without_choice(is_student=True, gpc=True, tenant="lincoln-high")
    assert (student.is_student, student.gpc, student.tenant) == (True, True, "lincoln-high")
    assert dict(student.locked) == {"analytics": "student", "marketing": "student", "personalization": "student"}


def test_a_request_without_a_choice_gets_the_tag_of_its_situations_consent() -> None:
    visitors = Visitors(CODEC, ConsentResolver(POLICY), lambda consent: ("tag", consent.gpc, tuple(consent.granted)))
    entry, choice = visitors.decide(None, (False, True, None), 1_750_000_000.0)
    assert choice is None and entry.consent is not None
    assert entry.tag == ("tag", True, ("essential",))


def test_only_spaces_and_tabs_are_trimmed_from_the_consent_cookies_value() -> None:
    assert consent_cookie_value(b"consentgate=abcX \t") == b"abcX"
    assert consent_cookie_value(b"consentgate=abc\x0c") == b"abc\x0c"


def test_r_con_7_a_choice_is_current_from_five_minutes_before_it_was_given_to_the_last_second_of_its_lifetime() -> None:
    given = 1_750_000_000
    value = CODEC.encode({"analytics"}, "cid", given).encode()
    last = given + 395 * 86_400  # consent is kept 13 months (395 days)
    for now, current in ((given - 300, True), (last, True), (given - 301, False), (last + 1, False)):
        entry, choice = Visitors(CODEC, ConsentResolver(POLICY)).decide(value, (False, False, None), float(now))
        assert entry.consent is not None and choice is not None
        assert entry.consent.needs_choice is not current and ("analytics" in entry.consent.granted) is current
