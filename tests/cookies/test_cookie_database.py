"""The cookie database and the suggestions drawn from it: exact names, wildcard (prefix) entries,
duplicates kept as alternatives, messy names cleaned, and the third-party rule (issue 14, points 1-2)."""

from __future__ import annotations

import json

import pytest

from consentgate.cli import main
from consentgate.cookies.database import CATEGORY_MAP, CookieDatabase, default_database, normalise_name
from consentgate.cookies.suggestions import stricter, suggest

HEADER = (
    "ID,Platform,Category,Cookie / Data Key name,Domain,Description,Retention period,Data Controller,"
    "User Privacy & GDPR Rights Portals,Wildcard match\n"
)


def small(*rows: str) -> CookieDatabase:
    return CookieDatabase.from_csv(HEADER + "\n".join(rows) + "\n")


def test_the_shipped_database_loads_whole_and_maps_every_category() -> None:
    db = default_database()
    assert len(db) == 2264
    # Every row's category is one of consentgate's four (SOURCE.md's mapping), none lost.
    assert {e.category for e in db.entries} == {"essential", "personalization", "analytics", "marketing"}
    assert {e.source_category.lower() for e in db.entries} <= set(CATEGORY_MAP)
    functional = next(e for e in db.entries if e.source_category == "Security")
    assert functional.category == "essential"


def test_exact_names_and_the_longest_wildcard_prefix() -> None:
    db = default_database()
    exact = db.lookup("_ga")
    assert exact is not None and exact.matched == "_ga" and exact.platforms == ("Google Analytics",)
    measurement = db.lookup("_ga_K3X9Q2ZP7L")
    assert measurement is not None and measurement.matched == "_ga_*" and measurement.wildcard
    assert db.family("_ga_K3X9Q2ZP7L") == "_ga_*"
    assert db.family("_hjSessionUser_2816723") == "_hjSessionUser_*"
    assert db.family("_ga") is None  # an exact name is no family
    # Matomo's "_pk_id" and Piwik's "_pk_id." are both prefixes of this name: the longer one wins.
    piwik = db.lookup("_pk_id.1.a1b2")
    assert piwik is not None and piwik.matched == "_pk_id.*" and piwik.platforms == ("Piwik",)
    assert db.lookup("no_such_cookie_here") is None
    assert db.lookup("   ") is None


def test_duplicates_across_platforms_stay_alternatives() -> None:
    token = default_database().lookup("token")
    assert token is not None
    assert token.platforms == ("Adform", "Xandr")
    assert [e.category for e in token.entries] == ["marketing", "essential"]
    # The strictest alternative is suggested: a wrong guess blocks, it never lets through.
    found = suggest("token", set_by="script")
    assert found.category == "marketing" and found.platform == "Adform / Xandr"
    assert len(found.as_dict()["alternatives"]) == 2


def test_messy_names_are_cleaned_when_read() -> None:
    assert normalise_name("ce_need_secure_cookie\t") == "ce_need_secure_cookie"
    assert normalise_name("logglytrackings\u00adession") == "logglytrackingsession"
    assert normalise_name("  _abc [x4]") == "_abc"
    assert normalise_name("pagead/conv/%INTEGER%") == "pagead/conv/*"
    assert normalise_name("_ga_", wildcard=True) == "_ga_*"
    assert normalise_name("SCM*", wildcard=True) == "SCM*"
    db = default_database()
    # The shipped file's own messy rows are found under their clean names.
    assert db.lookup("ce_need_secure_cookie") is not None
    assert db.lookup("logglytrackingsession") is not None
    conv = db.lookup("pagead/conv/123456")
    assert conv is not None and conv.matched == "pagead/conv/*"
    glob = db.lookup("SCM_anything")  # a '*' in a name with the wildcard flag unset is a glob
    assert glob is not None and glob.matched == "SCM*"


def test_a_small_database_with_a_glob_in_the_middle_and_an_unknown_category() -> None:
    db = small(
        "1,Acme,Marketing,ac_%ID%_seen,acme.example (3rd party),Seen marker,1 day,Acme,,0",
        "2,Acme,Odd,acme_odd,,Unknown category,1 day,Acme,,0",
        "3,Acme,Analytics, acme_id [x2],,Visitor id,2 years,Acme,,0",
    )
    middle = db.lookup("ac_42_seen")
    assert middle is not None and middle.matched == "ac_*_seen"
    odd = db.lookup("acme_odd")
    assert odd is not None and odd.entries[0].category is None
    assert suggest("acme_odd", database=db).category is None
    assert suggest("acme_id", database=db).category == "analytics"


def test_the_third_party_rule_for_cookies_the_sites_own_server_sets() -> None:
    # Django's session cookie shares Instagram's marketing cookie's name.
    server = suggest("sessionid", set_by="server")
    assert server.category is None
    assert server.note == "name matches Instagram (third-party)"
    assert server.label() == "name matches Instagram (third-party)"
    # Set by a script in the page, a tag's cookie is first-party whatever the Domain column says.
    assert suggest("sessionid", set_by="script").category == "marketing"
    assert suggest("_fbp", set_by="script").category == "marketing"
    # On Instagram's own site its own cookie is its own.
    assert suggest("sessionid", set_by="server", site="www.instagram.com").category == "marketing"
    # A name the database knows without a platform domain keeps its category from the server too.
    assert suggest("_ga", set_by="server").category == "analytics"


def test_stricter_orders_the_four_categories_and_treats_a_custom_one_as_optional() -> None:
    assert stricter("marketing", "essential")
    assert stricter("analytics", "personalization")
    assert not stricter("essential", "marketing")
    assert not stricter("analytics", "analytics")
    assert stricter("analytics", "video") and not stricter("personalization", "video")
    assert not stricter("unknown", "essential")


def test_lookup_command_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cookies", "lookup", "_ga_K3X9", "sessionid", "nothing_here", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert all(set(item) >= {"name", "category", "platform", "description", "retention", "matched"} for item in found)
    assert found[0]["name"] == "_ga_K3X9" and found[0]["category"] == "analytics"
    assert found[0]["matched"] == "_ga_*" and found[0]["platform"] == "Google Analytics"
    assert found[0]["retention"] == "2 years"
    assert found[1]["category"] == "marketing"  # who sets it was not said: the database's category
    assert found[2] == {**found[2], "category": None, "platform": None, "matched": None}
    assert main(["cookies", "lookup", "sessionid", "--set-by", "server", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["category"] is None
    assert main(["cookies", "lookup", "_gid", "nothing_here"]) == 0
    text = capsys.readouterr().out
    assert "_gid: analytics" in text and "Google Analytics" in text and "retention: 24 hours" in text
    assert "nothing_here: unknown" in text


def test_host_lookup_names_the_platform_domain() -> None:
    db = default_database()
    found = db.lookup_host("region1.google-analytics.com")
    assert found is not None and found[0] == "google-analytics.com"
    assert db.lookup_host("cdn.nobody-knows-this.example") is None
    assert db.lookup_host("com") is None
