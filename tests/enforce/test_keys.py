"""The signing keys: what counts as missing or weak, with the exact message an operator reads,
and the random key of development mode (R-CK-1: the consent cookie is signed)."""

from __future__ import annotations

import logging

import pytest

from consentgate.enforce.keys import DEVELOPMENT_KEY_WARNING, MIN_SECRET_LENGTH, SecretKeys, WeakSecretError

GOOD = "abcdefgh" * 4  # 32 characters, 8 distinct: the weakest key accepted
MISSING = (
    "consentgate: secret_key is missing. Give a random string of at least 32 characters (for example "
    "the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`), or pass "
    "development=True for local development only."
)


def _too_weak(index: int, length: int, distinct: int) -> str:
    return (
        f"consentgate: secret_key[{index}] is too weak ({length} characters, {distinct} distinct): use at "
        "least 32 random characters, or pass development=True for local development only."
    )


@pytest.mark.parametrize("value", [None, "", [], ()], ids=["none", "empty-text", "empty-list", "empty-tuple"])
def test_r_ck_1_a_missing_key_is_refused_with_the_exact_message(value: str | list[str] | None) -> None:
    with pytest.raises(WeakSecretError) as raised:
        SecretKeys.load(value)
    assert str(raised.value) == MISSING


def test_r_ck_1_the_weakest_key_accepted_is_32_characters_with_8_distinct() -> None:
    assert MIN_SECRET_LENGTH == 32
    assert SecretKeys.load(GOOD).keys == (GOOD,)
    with pytest.raises(WeakSecretError) as short:
        SecretKeys.load(GOOD[:-1])
    assert str(short.value) == _too_weak(0, 31, 8)
    seven = "abcdefg" * 5  # 35 characters, 7 distinct
    with pytest.raises(WeakSecretError) as few:
        SecretKeys.load(seven)
    assert str(few.value) == _too_weak(0, 35, 7)


def test_r_ck_1_every_rotated_key_is_checked_and_named_by_its_index() -> None:
    keys = SecretKeys.load([GOOD, GOOD[::-1]])
    assert keys.keys == (GOOD, GOOD[::-1]) and keys.newest == GOOD[::-1]
    assert SecretKeys.load(keys) is keys
    with pytest.raises(WeakSecretError) as weak:
        SecretKeys.load([GOOD, "short"])
    assert str(weak.value) == _too_weak(1, 5, 5)
    with pytest.raises(WeakSecretError) as not_text:
        SecretKeys.load([GOOD, 5])  # type: ignore[list-item]
    assert str(not_text.value) == "consentgate: secret_key[1] must be a string"


def test_development_mode_accepts_a_weak_key_and_makes_a_random_one_when_missing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert SecretKeys.load("short", development=True).keys == ("short",)
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        first = SecretKeys.load(None, development=True)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("consentgate", logging.WARNING, DEVELOPMENT_KEY_WARNING)
    ]
    assert DEVELOPMENT_KEY_WARNING.startswith("consentgate: development mode: signing consent cookies")
    second = SecretKeys.load("", development=True)
    assert len(first.keys) == 1 and len(first.newest) == 43  # token_urlsafe(32): 32 random bytes
    assert first.newest != second.newest
    assert repr(first) == "SecretKeys(<1 hidden>)"
