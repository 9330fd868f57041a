"""The signed consent cookie: compact, signed, rotating keys, and every bad cookie means "ask"."""

from __future__ import annotations

import time

import pytest
from coreapp import SECRET, make_policy
from hypothesis import given
from hypothesis import strategies as st

from consentgate import SecretKeys
from consentgate.enforce.consent_cookie import ConsentCookieCodec, new_consent_id

OLD_KEY = "old-secret-abcdefghijklmnopqrstuvwxyz-0123"
NEW_KEY = "new-secret-ABCDEFGHIJKLMNOPQRSTUVWXYZ-4567"


def codec(*keys: str, policy_text: str | None = None) -> ConsentCookieCodec:
    policy = make_policy() if policy_text is None else make_policy(policy_text)
    return ConsentCookieCodec(SecretKeys.load(list(keys) or SECRET), policy)


def test_round_trip_and_compact() -> None:
    c = codec(SECRET)
    value = c.encode({"essential", "personalization", "analytics", "marketing"}, new_consent_id())
    assert len(value) < 200
    header = c.set_cookie_header(value, https=True, max_age=395 * 86400)
    assert len(header) < 4096
    choice = c.decode(value.encode())
    assert choice is not None
    assert choice.granted == {"personalization", "analytics", "marketing"}
    assert choice.revision == 3


def test_r_ck_1_host_prefix_over_https_plain_over_http() -> None:
    c = codec(SECRET)
    secure = c.set_cookie_header("v", https=True, max_age=60).decode()
    assert secure.startswith("__Host-consentgate=v; ")
    for attribute in ("Secure", "Path=/", "SameSite=Lax", "HttpOnly", "Max-Age=60"):
        assert attribute in secure
    assert "Domain" not in secure
    plain = c.set_cookie_header("v", https=False, max_age=60).decode()
    assert plain.startswith("consentgate=v; ") and "Secure" not in plain


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"garbage",
        b"c1.3.abc.id.analytics",
        b"x" * 5000,
        b"c1.3.tp1i45.id.analytics.AAAA",
        b"\xff\xfe.\x00",
    ],
)
def test_garbage_means_no_choice(bad: bytes) -> None:
    assert codec(SECRET).decode(bad) is None


def test_tampered_payload_is_rejected() -> None:
    c = codec(SECRET)
    value = c.encode({"analytics"}, "abc").encode()
    tampered = value.replace(b".analytics.", b".marketing.")
    assert tampered != value
    assert c.decode(tampered) is None
    assert c.decode(value) is not None


def test_rotation_newest_signs_old_still_verifies() -> None:
    old = codec(OLD_KEY)
    rotated = codec(OLD_KEY, NEW_KEY)
    new_only = codec(NEW_KEY)
    old_value = old.encode({"analytics"}, "id1").encode()
    assert rotated.decode(old_value) is not None  # still accepted during rotation
    new_value = rotated.encode({"analytics"}, "id1").encode()
    assert new_only.decode(new_value) is not None  # signed with the newest key
    assert old.decode(new_value) is None
    assert new_only.decode(old_value) is None  # once the old key is dropped


def test_r_con_8_old_revision_means_ask_again() -> None:
    c3 = codec(SECRET)
    value = c3.encode({"analytics"}, "id").encode()
    c4 = codec(SECRET, policy_text="revision = 4")
    assert c4.decode(value) is None
    previous = c4.decode_any(value)
    assert previous is not None and previous.consent_id == "id"  # id kept for the receipt trail


def test_r_con_7_lifetimes_consent_and_refusal() -> None:
    c = codec(SECRET)
    now = time.time()
    day = 86400
    consent = c.encode({"analytics"}, "id", int(now - 394 * day)).encode()
    assert c.decode(consent, now) is not None
    assert c.decode(consent, now + 2 * day) is None  # past 395 days
    refusal = c.encode(set(), "id", int(now - 181 * day)).encode()
    assert c.decode(refusal, now) is not None
    assert c.decode(refusal, now + 2 * day) is None  # past 182 days
    future = c.encode({"analytics"}, "id", int(now + 3600)).encode()
    assert c.decode(future, now) is None


def test_unknown_categories_in_a_signed_cookie_are_ignored() -> None:
    wide = codec(SECRET, policy_text="revision = 3\n[categories.video]\ncookies=['yt']")
    value = wide.encode({"video", "analytics"}, "id").encode()
    narrow = codec(SECRET)
    choice = narrow.decode(value)
    assert choice is not None and choice.granted == {"analytics"}


def test_consent_ids_are_random_and_short() -> None:
    ids = {new_consent_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 16 for i in ids)


@given(st.binary(max_size=300))
def test_decode_never_raises(raw: bytes) -> None:
    assert codec(SECRET).decode(raw) is None or raw.startswith(b"c1.")


def test_r_ck_1_the_stored_and_the_cleared_cookie_headers_exactly() -> None:
    from email.utils import formatdate

    c = codec(SECRET)
    before = time.time()
    plain = c.set_cookie_header("VALUE", https=False, max_age=120).decode()
    after = time.time()
    name_value, max_age, expires, *rest = plain.split("; ")
    assert name_value == "consentgate=VALUE" and max_age == "Max-Age=120"
    assert expires in {f"Expires={formatdate(t + 120, usegmt=True)}" for t in (before, after)}
    assert rest == ["Path=/", "HttpOnly", "SameSite=Lax"]
    secure = c.set_cookie_header("VALUE", https=True, max_age=120).decode()
    assert secure.startswith("__Host-consentgate=VALUE; Max-Age=120; Expires=")
    assert secure.endswith("; Path=/; HttpOnly; SameSite=Lax; Secure")
    assert c.clear_cookie_header(https=False) == (
        b"consentgate=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; SameSite=Lax"
    )
    assert c.clear_cookie_header(https=True) == (
        b"__Host-consentgate=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; SameSite=Lax; Secure"
    )


def test_r_con_7_a_choice_is_current_from_its_time_less_the_skew_to_its_last_second() -> None:
    c = codec(SECRET)
    given = 1_750_000_000
    consent = c.encode({"analytics"}, "id", given).encode()
    refusal = c.encode(set(), "id", given).encode()
    assert c.decode(consent, given - 300) is not None  # five minutes of clock skew, inclusive
    assert c.decode(consent, given - 301) is None
    assert c.decode(consent, given + 395 * 86400) is not None  # the last second of 395 days
    assert c.decode(consent, given + 395 * 86400 + 1) is None
    assert c.decode(refusal, given + 182 * 86400) is not None
    assert c.decode(refusal, given + 182 * 86400 + 1) is None


def test_verified_values_are_remembered_in_a_bounded_table() -> None:
    c = codec(SECRET)
    for i in range(2049):
        c.decode_any(b"c1.3.x.id%d.analytics.sig" % i)
        assert len(c._cache) <= 2048
