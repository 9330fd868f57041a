"""Web storage in the policy (issue 19): ``storage`` patterns per category and
``unknown_storage``, validated like cookie rules, in the JSON Schema and ``consentgate check``;
the banner gets each optional category's patterns; ``consentgate init`` lists storage too."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from coreapp import client
from support.banner_app import build_site

from consentgate import Policy, PolicyError
from consentgate.cli import main
from consentgate.cookies.checks import check_policy
from consentgate.cookies.draft import FoundStorage, draft_policy

POLICY = """
revision = 1
unknown_storage = "report"
[categories.essential]
storage = ["csrf-state"]
[categories.analytics]
cookies = ["_ga"]
storage = ["AMP_*", "AMP_MKTG_*", "_gcl_ls"]
[categories.marketing]
storage = ["ph_*", "ads-db"]
"""
SCHEMA = json.loads((resources.files("consentgate.enforce") / "policy.schema.json").read_text())


def test_storage_patterns_name_keys_and_databases_most_specific_first() -> None:
    policy = Policy.from_toml(POLICY)
    assert policy.category("analytics").storage == ("AMP_*", "AMP_MKTG_*", "_gcl_ls")
    assert policy.category_of_storage("AMP_test") == "analytics"
    assert policy.category_of_storage("ph_phc_x_posthog") == "marketing"
    assert policy.category_of_storage("ads-db") == "marketing"
    assert policy.category_of_storage("csrf-state") == "essential"
    assert policy.category_of_storage("ph_") == "marketing"
    assert policy.category_of_storage("other") is None
    assert policy.unknown_storage == "report"
    assert Policy.from_toml("revision = 1").unknown_storage == "report"  # the default
    assert Policy.from_toml('revision = 1\nunknown_storage = "ignore"').unknown_storage == "ignore"
    # Web storage keys are any text: spaces, slashes and colons are fine.
    odd = Policy.from_toml('revision = 1\n[categories.analytics]\nstorage = ["a b/c:d"]')
    assert odd.category_of_storage("a b/c:d") == "analytics"


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ('storage = ["*"]', "categories.analytics.storage[0]", "'*'"),
        ('storage = ["AMP_**"]', "categories.analytics.storage[0]", "'AMP_**'"),
        ('storage = [""]', "categories.analytics.storage[0]", "''"),
        ('storage = ["a\\u0007b"]', "categories.analytics.storage[0]", "'a\\x07b'"),
        ("storage = [3]", "categories.analytics.storage[0]", "3"),
        ('storage = "AMP_*"', "categories.analytics.storage", "'AMP_*'"),
    ],
)
def test_bad_storage_patterns_name_the_key_and_value(text: str, key: str, value: str) -> None:
    with pytest.raises(PolicyError) as caught:
        Policy.from_toml(f"revision = 1\n[categories.analytics]\n{text}", source="p.toml")
    assert f"p.toml: {key}:" in str(caught.value) and value in str(caught.value)


@pytest.mark.parametrize("storage", [["*"], ["AMP_**"], [""], ["a\u0007b"], [3], "AMP_*"])
def test_the_json_schema_refuses_what_the_reader_refuses(storage: object) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"revision": 1, "categories": {"analytics": {"storage": storage}}}, SCHEMA)


def test_the_same_storage_pattern_in_two_categories_and_a_bad_unknown_storage_fail() -> None:
    with pytest.raises(PolicyError, match=r"categories.marketing.storage\[0\]: 'AMP_\*' is already listed under categories.analytics"):
        Policy.from_toml('revision = 1\n[categories.analytics]\nstorage = ["AMP_*"]\n[categories.marketing]\nstorage = ["AMP_*"]')
    with pytest.raises(PolicyError, match="unknown_storage: 'block' is not one of 'report', 'ignore'"):
        Policy.from_toml('revision = 1\nunknown_storage = "block"')
    jsonschema.validate(tomllib.loads(POLICY), SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"revision": 1, "unknown_storage": "block"}, SCHEMA)


def test_check_shows_storage_and_warns_where_the_database_disagrees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "consent.toml"
    path.write_text(POLICY)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "unknown storage: report" in out
    assert "    storage: AMP_*, AMP_MKTG_*, _gcl_ls" in out and "    storage: ph_*, ads-db" in out
    wrong = Policy.from_toml('revision = 1\n[categories.essential]\nstorage = ["AMP_*"]')
    (warning,) = check_policy(wrong)
    assert warning.key == "categories.essential.storage[0]" and warning.suggestion.category == "analytics"


def test_the_banner_gets_each_optional_categorys_storage_patterns() -> None:
    policy = Policy.from_toml(POLICY + '[categories.personalization]\ncookies = ["theme"]\n')
    page = client(build_site(policy)).get("/").text  # a first visit: the banner's part is in the page
    config = json.loads(page.split('data-consentgate="policy">')[1].split("</script>")[0])
    assert config["storage"] == {"analytics": ["^AMP_.*$", "^AMP_MKTG_.*$", "^_gcl_ls$"], "marketing": ["^ph_.*$", "^ads-db$"]}


def test_init_drafts_storage_known_to_the_database_and_leaves_the_rest_to_decide() -> None:
    made = draft_policy(
        "https://school.example/",
        "school.example",
        ["/"],
        [],
        [],
        [
            FoundStorage("AMP_5f3b2a", "localStorage", "/"),
            FoundStorage("_hjLocalStorageTest", "localStorage", "/"),
            FoundStorage("zz_cache", "indexedDB", "/news"),
        ],
        now=datetime(2026, 1, 30, tzinfo=UTC),
    )
    policy = Policy.from_toml(made.text)
    assert policy.unknown_storage == "report"
    assert policy.category_of_storage("AMP_other") == "analytics"
    assert policy.category_of_storage("_hjLocalStorageTest") == "essential"
    assert policy.category_of_storage("zz_cache") is None
    assert '#   "zz_cache",  # indexedDB on /news; not in the cookie database' in made.text
    assert made.storage == {"essential": ["_hjLocalStorageTest"], "analytics": ["AMP_*"]}
    assert made.undecided_storage == ["zz_cache"]
