"""Languages: the built-in catalogs, Accept-Language negotiation, explicit choices, policy overrides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from coreapp import client
from hypothesis import given
from hypothesis import strategies as st
from support.banner_app import build_site, make_policy

from consentgate.i18n.catalogs import LANGUAGES, LOCALES_DIR, Localizer, catalog, negotiate
from consentgate.i18n.packs import placeholders

EN = json.loads((LOCALES_DIR / "en.json").read_text(encoding="utf-8"))


def scope(headers: list[tuple[bytes, bytes]] = (), query: bytes = b"", state: Any = None) -> dict[str, Any]:  # type: ignore[assignment]
    out: dict[str, Any] = {"type": "http", "headers": list(headers), "query_string": query}
    if state is not None:
        out["state"] = state
    return out


def test_eleven_catalogs_with_the_same_keys_and_no_empty_string() -> None:
    assert LANGUAGES == ("en", "es", "fr", "ar", "ja", "zh", "de", "it", "pt", "nl", "pl")
    files = sorted(p.stem for p in Path(LOCALES_DIR).glob("*.json"))
    assert files == sorted(LANGUAGES)
    for language in LANGUAGES:
        strings = catalog(language)
        assert set(strings) == set(EN), (language, set(strings) ^ set(EN))
        assert all(value.strip() for value in strings.values()), language


def test_every_catalog_has_the_placeholders_of_english() -> None:
    for language in LANGUAGES:
        strings = catalog(language)
        for key, value in EN.items():
            assert placeholders(strings[key]) == placeholders(value), (language, key)
    assert placeholders(EN["embed.allow_named"]) == {"category", "service"}


def test_catalogs_are_translated_not_copied() -> None:
    for language in LANGUAGES[1:]:
        strings = catalog(language)
        same = [
            k for k in EN if strings[k] == EN[k] and k not in ("language.dir", "category.marketing.label")
        ]
        # A few words are the same in several languages ("Services", "Page", "Browser", "System").
        assert len(same) <= 4, (language, same)


def test_the_two_first_layer_choices_are_plain_and_parallel() -> None:
    """Deny and accept read as a pair in every language: different, of similar length, and the
    banner text names both exactly as the buttons say them."""
    for language in LANGUAGES:
        strings = catalog(language)
        deny, accept = strings["button.deny_all"], strings["button.accept_all"]
        assert deny != accept
        assert 0.5 <= len(deny) / len(accept) <= 2, language
        assert deny in strings["banner.text"] and accept in strings["banner.text"], language


def test_only_arabic_is_right_to_left() -> None:
    assert [lang for lang in LANGUAGES if catalog(lang).direction == "rtl"] == ["ar"]
    assert {catalog(lang).direction for lang in LANGUAGES} == {"ltr", "rtl"}


def test_my_data_page_strings_exist_for_the_privacy_log() -> None:
    for key in (
        "my_data.title",
        "my_data.no_id",
        "my_data.forget_button",
        "my_data.consent_id",
        "my_data.json_link",
    ):
        assert all(catalog(lang)[key] for lang in LANGUAGES)
    assert catalog("de").section("my_data.")["forget_button"] == "Mich vergessen"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-CA,fr;q=0.9,en;q=0.5", "fr"),
        ("de-DE,de;q=0.9,es;q=0.4", "de"),
        ("sv-SE,sv;q=0.9,es;q=0.4", "es"),
        ("sv", "en"),
        ("", "en"),
        ("zh-Hant-TW", "zh"),
        ("ZH_cn", "zh"),
        ("en;q=0, ja", "ja"),
        ("ja;q=0.3, ar;q=0.8", "ar"),
        ("*", "en"),
        ("es;q=abc, fr", "fr"),
        ("es;q=2, fr;q=0.1", "fr"),
        (";;;,,,", "en"),
        ("pt-BR, ar-EG;q=0.2", "pt"),
        ("nl-BE;q=0.7, pl;q=0.8", "pl"),
        ("it-CH", "it"),
    ],
)
def test_accept_language_negotiation(header: str, expected: str) -> None:
    assert negotiate(header, "en") == expected


def test_default_language_is_the_fallback() -> None:
    assert negotiate("sv, fi", "fr") == "fr"
    assert negotiate(None, "ja") == "ja"


@given(st.text(max_size=200))
def test_negotiation_always_answers_a_built_in_language(header: str) -> None:
    assert negotiate(header, "en") in LANGUAGES


def test_language_choice_order_app_then_visitor_then_browser() -> None:
    localizer = Localizer(make_policy(), chooser=lambda s: "ja" if s.get("path") == "/ja" else None)
    browser = [(b"accept-language", b"es")]
    assert localizer.language_for(scope(browser)) == "es"
    assert localizer.language_for(scope([*browser, (b"cookie", b"a=1; consentgate_lang=ar")])) == "ar"
    assert localizer.language_for(scope(browser, query=b"x=1&consentgate_lang=fr")) == "fr"
    # the query wins over the cookie, the app over both
    both = [*browser, (b"cookie", b"consentgate_lang=ar")]
    assert localizer.language_for(scope(both, query=b"consentgate_lang=fr")) == "fr"
    app_scope = scope(both, query=b"consentgate_lang=fr")
    app_scope["path"] = "/ja"
    assert localizer.language_for(app_scope) == "ja"
    assert localizer.language_for(scope(both, state={"consentgate_language": "zh"})) == "zh"
    # explicit override (the language the banner says it showed)
    assert localizer.language_for(scope(both), "en") == "en"


def test_unknown_explicit_choices_are_ignored() -> None:
    localizer = Localizer(make_policy())
    headers = [(b"accept-language", b"fr"), (b"cookie", b"consentgate_lang=<script>")]
    assert (
        localizer.language_for(
            scope(headers, query=b"consentgate_lang=xx", state={"consentgate_language": 3})
        )
        == "fr"
    )
    assert localizer.language_for(scope([(b"accept-language", b"\xff\xfe")])) == "en"


POLICY_WITH_LABELS = """
revision = 1
default_language = "es"
[categories.personalization]
label = { fr = "Préférences du site", es = "Preferencias del sitio" }
description = { fr = "Se souvient de la classe ouverte." }
[categories.analytics]
label = "Statistics (same text everywhere)"
[categories.homework_helper]
cookies = ["hw"]
"""


def test_policy_labels_override_the_catalog_per_language() -> None:
    policy = make_policy(POLICY_WITH_LABELS)
    localizer = Localizer(policy)
    personalization = policy.category("personalization")
    assert localizer.label(personalization, "fr") == "Préférences du site"
    assert localizer.description(personalization, "fr") == "Se souvient de la classe ouverte."
    assert localizer.label(personalization, "ja") == catalog("ja")["category.personalization.label"]
    assert (
        localizer.description(personalization, "ja") == catalog("ja")["category.personalization.description"]
    )
    assert localizer.label(policy.category("analytics"), "ar") == "Statistics (same text everywhere)"
    assert localizer.label(policy.category("homework_helper"), "zh") == "Homework helper"
    assert localizer.description(policy.category("homework_helper"), "zh") == ""


def test_consent_state_endpoint_speaks_the_visitors_language() -> None:
    tc = client(build_site(make_policy(POLICY_WITH_LABELS)))
    state = tc.get("/_consent", headers={"accept-language": "fr-FR"}).json()
    assert state["language"] == "fr"
    labels = {c["name"]: c["label"] for c in state["categories"]}
    assert labels["personalization"] == "Préférences du site"
    assert labels["marketing"] == catalog("fr")["category.marketing.label"]
    assert tc.get("/_consent", headers={"accept-language": "sv"}).json()["language"] == "es"  # policy default
