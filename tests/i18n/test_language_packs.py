"""Languages a site adds without forking: a folder of JSON packs, checked at start-up.

``tests/data/locales`` is such a folder: ``sv.json`` (a new language, every key) and ``de-CH.json``
(one string over the built-in German).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from coreapp import client
from markupsafe import escape
from support.banner_app import SECRET, build_site, make_policy

from consentgate import ConsentMiddleware, PrivacyLog
from consentgate.cli import main
from consentgate.enforce.policy import PolicyError
from consentgate.i18n.catalogs import LANGUAGES, Catalogs, Localizer, catalog
from consentgate.i18n.packs import LocaleError

PACKS = Path(__file__).resolve().parents[1] / "data" / "locales"
SV = json.loads((PACKS / "sv.json").read_text(encoding="utf-8"))


def scope(accept: str = "", query: bytes = b"", cookie: str = "") -> dict[str, Any]:
    headers = [(b"accept-language", accept.encode())] if accept else []
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return {"type": "http", "headers": headers, "query_string": query}


def pack_folder(tmp_path: Path, **files: Any) -> Path:
    """A folder of packs: ``name=dict`` is written as JSON, ``name=str`` as it is."""
    folder = tmp_path / "locales"
    folder.mkdir(exist_ok=True)
    for name, content in files.items():
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        (folder / f"{name.replace('_', '-')}.json").write_text(text, encoding="utf-8")
    return folder


def start(folder: Path, policy_text: str | None = None) -> ConsentMiddleware:
    policy = make_policy(policy_text) if policy_text else make_policy()
    return ConsentMiddleware(None, policy=policy, secret_key=SECRET, locales=folder)  # type: ignore[arg-type]


# -- what a pack folder gives ------------------------------------------------------------------


def test_a_new_language_and_one_string_over_a_built_in_one() -> None:
    catalogs = Catalogs(PACKS)
    assert catalogs.languages == (*LANGUAGES, "de-CH", "sv")
    assert catalogs.added == ("de-CH", "sv")
    swiss, german = catalogs["de-CH"], catalog("de")
    assert swiss["button.close"] == "Schliessen" and german["button.close"] == "Schließen"
    assert {k for k in german if swiss[k] != german[k]} == {"button.close"}
    assert dict(catalogs["sv"]) == SV
    assert catalogs["sv"].direction == "ltr"


def test_a_pack_can_override_a_built_in_language(tmp_path: Path) -> None:
    folder = pack_folder(tmp_path, fr={"button.deny_all": "Refuser tout"})
    catalogs = Catalogs(folder)
    assert catalogs.added == ()
    assert catalogs["fr"]["button.deny_all"] == "Refuser tout"
    assert catalogs["fr"]["button.accept_all"] == catalog("fr")["button.accept_all"]
    assert catalog("fr")["button.deny_all"] == "Tout refuser"  # the built-in catalog is untouched


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("de-CH", "de-CH"),
        ("de-ch,de;q=0.9", "de-CH"),  # tags are compared without regard to case
        ("de-AT", "de"),  # region fallback
        ("sv-FI", "sv"),
        ("pt-BR", "pt"),
        ("gsw-CH, fi", "en"),  # nobody speaks these: the policy's default
        ("fi, sv;q=0.3, de-CH;q=0.2", "sv"),
    ],
)
def test_negotiation_with_the_sites_packs(accept: str, expected: str) -> None:
    localizer = Localizer(make_policy(), locales=PACKS)
    assert localizer.language_for(scope(accept)) == expected


def test_explicit_choice_of_a_pack_language() -> None:
    localizer = Localizer(make_policy(), locales=PACKS)
    assert localizer.language_for(scope("fr", query=b"consentgate_lang=sv")) == "sv"
    assert localizer.language_for(scope("fr", cookie="consentgate_lang=de-CH")) == "de-CH"
    assert Localizer(make_policy()).language_for(scope("fr", query=b"consentgate_lang=sv")) == "fr"


def test_policy_default_language_from_a_pack_and_region_fallback_of_policy_labels() -> None:
    policy = make_policy(
        'revision = 1\ndefault_language = "sv"\n[categories.analytics]\nlabel = { de = "Besuchsstatistik" }\n'
    )
    localizer = Localizer(policy, locales=PACKS)
    assert localizer.default == "sv"
    assert localizer.language_for(scope("fi")) == "sv"
    assert localizer.label(policy.category("analytics"), "de-CH") == "Besuchsstatistik"
    assert localizer.label(policy.category("marketing"), "sv") == "Marknadsföring"


# -- the pages speak it ------------------------------------------------------------------------


def test_banner_and_my_data_page_in_a_site_language(tmp_path: Path) -> None:
    policy = make_policy()
    log = PrivacyLog(str(tmp_path / "log.sqlite3"), policy)
    with client(build_site(policy, locales=PACKS, privacy_log=log)) as tc:
        page = tc.get("/", headers={"accept-language": "sv-SE,sv;q=0.9"}).text
        assert 'lang="sv" dir="ltr"' in page
        assert str(escape(SV["banner.title"])) in page and str(escape(SV["button.deny_all"])) in page
        swiss = tc.get("/", headers={"accept-language": "de-CH"}).text
        assert 'lang="de-CH"' in swiss and 'aria-label="Schliessen"' in swiss
        assert str(escape(catalog("de")["banner.title"])) in swiss
        assert f'aria-label="{escape(catalog("de")["embed.load_once_named"])}"' in swiss
        my_data = tc.get("/_consent/my-data", headers={"accept-language": "sv"}).text
    assert '<html lang="sv" dir="ltr">' in my_data
    assert str(escape(SV["my_data.no_id"])) in my_data


# -- mistakes stop the app at start-up, naming the file and the key ------------------------------


@pytest.mark.parametrize(
    ("files", "file_name", "key", "fragment"),
    [
        ({"sv": {k: v for k, v in SV.items() if k != "button.save"}}, "sv.json", "button.save", "missing"),
        ({"sv": {**SV, "button.sav": "Spara"}}, "sv.json", "button.sav", "unknown key"),
        (
            {"de_CH": {"embed.allow": "„{categorie}“ erlauben"}},
            "de-CH.json",
            "embed.allow",
            "expected {category}, found {categorie}",
        ),
        ({"de_CH": {"my_data.forgotten": "Gelöscht."}}, "de-CH.json", "my_data.forgotten", "expected {receipts}"),
        ({"sv": {**SV, "language.dir": "down"}}, "sv.json", "language.dir", "'ltr' or 'rtl'"),
        ({"sv": {**SV, "button.save": ""}}, "sv.json", "button.save", "non-empty string"),
        ({"sv": "{not json"}, "sv.json", "<file>", "not valid JSON"),
        ({"sv": '["a list"]'}, "sv.json", "<file>", "JSON object"),
        ({"Swedish": SV}, "Swedish.json", "<file>", "language tag"),
    ],
)
def test_a_bad_pack_refuses_to_start(
    tmp_path: Path, files: dict[str, Any], file_name: str, key: str, fragment: str
) -> None:
    folder = pack_folder(tmp_path, **files)
    with pytest.raises(LocaleError) as caught:
        start(folder)
    message = str(caught.value)
    assert message.startswith(f"{folder / file_name}: {key}: "), message
    assert fragment in message


def test_a_missing_folder_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(LocaleError, match="not a folder of language packs"):
        start(tmp_path / "nowhere")


def test_a_policy_naming_a_language_no_pack_provides_refuses_to_start(tmp_path: Path) -> None:
    policy_text = 'revision = 1\ndefault_language = "fi"\n'
    with pytest.raises(PolicyError) as caught:
        ConsentMiddleware(None, policy=make_policy(policy_text), secret_key=SECRET)  # type: ignore[arg-type]
    assert str(caught.value).startswith("banner-test.toml: default_language: 'fi' is not a built-in language")
    with pytest.raises(PolicyError, match=r"the locale folder .* has no fi\.json"):
        start(PACKS, policy_text)


def test_the_policys_own_locales_folder(tmp_path: Path) -> None:
    shutil.copytree(PACKS, tmp_path / "packs")
    policy_file = tmp_path / "consent.toml"
    policy_file.write_text('revision = 1\ndefault_language = "sv"\nlocales = "packs"\n')
    from consentgate import Policy

    middleware = ConsentMiddleware(None, policy=Policy.from_file(policy_file), secret_key=SECRET)  # type: ignore[arg-type]
    assert middleware.localizer.default == "sv"
    assert "de-CH" in middleware.localizer.languages


# -- consentgate check --locales -----------------------------------------------------------------


def test_check_locales_validates_packs_without_an_app(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["check", "--locales", str(PACKS)]) == 0
    out = capsys.readouterr().out
    assert "  de-CH.json: 1 string over de" in out
    assert f"  sv.json: a new language (Svenska), {len(SV)} strings" in out
    assert out.endswith("languages: en, es, fr, ar, ja, zh, de, it, pt, nl, pl, de-CH, sv\nOK\n")
    bad = pack_folder(tmp_path, sv={k: v for k, v in SV.items() if k != "dialog.intro"})
    assert main(["check", "--locales", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"invalid language pack: {bad / 'sv.json'}: dialog.intro: missing")


def test_check_a_policy_with_its_languages(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policy_file = tmp_path / "consent.toml"
    policy_file.write_text('revision = 1\ndefault_language = "sv"\n')
    assert main(["check", str(policy_file)]) == 1
    assert "default_language: 'sv' is not a built-in language" in capsys.readouterr().err
    assert main(["check", str(policy_file), "--locales", str(PACKS)]) == 0
    out = capsys.readouterr().out
    assert "default language: sv" in out and "languages: en, es" in out
    assert main(["check"]) == 2
