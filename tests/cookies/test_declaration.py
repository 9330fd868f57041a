"""The cookie declaration (issue 14, point 6): cookie rules carry description, duration and
provider; the database fills the gaps where it agrees with the policy; ``GET /_consent/cookies``
serves it as HTML in the visitor's language or as JSON; a Jinja helper places it in a page."""

from __future__ import annotations

import html
import json
from typing import Any

import jsonschema
import pytest
from jinja2 import Environment
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from consentgate import ConsentMiddleware, Policy, PolicyError, consentgate_cookie_declaration
from consentgate.cookies.declaration import Declaration
from consentgate.i18n.catalogs import LANGUAGES

SECRET = "declaration-secret-0123456789-abcdefghij"
POLICY = """
revision = 2
[categories.essential]
cookies = [
  "csrftoken",
  { name = "sessionid", description = { en = "Keeps you signed in.", fr = "Vous garde connecté." }, duration = { en = "2 weeks", fr = "2 semaines" }, provider = "Lincoln High" },
]
[categories.analytics]
description = { en = "Counts visits.", fr = "Compte les visites." }
cookies = ["_ga", { name = "_gid", provider = "Google" }, { name = "_ga_*", duration = "2 years" }]
hosts = ["www.google-analytics.com"]
[categories.marketing]
cookies = [{ name = "_fbp", provider = "Someone Else" }]
"""


def policy() -> Policy:
    return Policy.from_toml(POLICY, source="school.toml")


def rows_by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for category in data["categories"] for c in category["cookies"]}


def test_cookie_rules_carry_description_duration_and_provider() -> None:
    rules = {r.pattern: r for c in policy().categories for r in c.cookies}
    session = rules["sessionid"]
    assert session.provider == "Lincoln High"
    assert session.description("fr") == "Vous garde connecté." and session.duration("en") == "2 weeks"
    assert session.description("ja") is None  # no translation and no "*" text
    assert rules["_ga_*"].duration("ja") == "2 years"  # plain text: every language
    assert rules["csrftoken"].provider is None


@pytest.mark.parametrize(
    ("cookie", "key", "value"),
    [
        ('{ name = "x", provider = "" }', "provider", "''"),
        ('{ name = "x", provider = 3 }', "provider", "3"),
        ('{ name = "x", duration = { xx_1 = "a" } }', "duration.xx_1", "'xx_1'"),
        ('{ name = "x", description = 5 }', "description", "5"),
        ('{ name = "x", purpose = "a" }', "purpose", "'purpose'"),
    ],
)
def test_bad_declaration_fields_name_the_key_and_value(cookie: str, key: str, value: str) -> None:
    with pytest.raises(PolicyError) as caught:
        Policy.from_toml(f"revision = 1\n[categories.analytics]\ncookies = [{cookie}]", source="p.toml")
    assert f"categories.analytics.cookies[0].{key}" in str(caught.value) and value in str(caught.value)


def test_the_json_schema_knows_the_new_fields() -> None:
    from importlib import resources

    schema = json.loads((resources.files("consentgate.enforce") / "policy.schema.json").read_text())
    good = {"revision": 1, "categories": {"analytics": {"cookies": [{"name": "_ga", "provider": "Google", "duration": {"en": "2 years"}, "description": "Counts."}]}}}
    jsonschema.validate(good, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"revision": 1, "categories": {"analytics": {"cookies": [{"name": "_ga", "provider": ""}]}}}, schema)


def test_the_database_fills_gaps_only_where_it_agrees_with_the_policy() -> None:
    declared = {c.name: c for c in Declaration(policy()).cookies()}
    ga = declared["_ga"].view("en")
    assert ga["provider"] == "Google Analytics" and ga["description"] == "ID used to identify users"
    assert ga["from_database"] == ["provider", "description", "duration"]
    gid = declared["_gid"].view("en")  # provider "Google" names the database's "Google Analytics"
    assert gid["provider"] == "Google" and gid["duration"] == "24 hours" and gid["from_database"] == ["description", "duration"]
    family = declared["_ga_*"].view("en")
    assert family["duration"] == "2 years" and "duration" not in family["from_database"]
    # A site's own sessionid is not Instagram's marketing cookie: nothing is taken from that entry.
    session = declared["sessionid"].view("ja")
    assert session == {"name": "sessionid", "provider": "Lincoln High", "description": None, "duration": None, "from_database": []}
    # The policy names another provider than the database's platform: not filled either.
    assert declared["_fbp"].view("en")["from_database"] == []
    assert declared["csrftoken"].entry is None


def app() -> Starlette:
    env = Environment(autoescape=True)
    env.globals["consentgate_cookie_declaration"] = consentgate_cookie_declaration
    page = env.from_string("<!doctype html><html><body><h1>Privacy notice</h1>{{ consentgate_cookie_declaration(request) }}</body></html>")

    def notice(request: Request) -> HTMLResponse:
        return HTMLResponse(page.render(request=request))

    return Starlette(
        routes=[Route("/privacy", notice)],
        middleware=[Middleware(ConsentMiddleware, policy=policy(), secret_key=SECRET)],
    )


def test_declaration_page_in_english_and_french() -> None:
    client = TestClient(app())
    english = client.get("/_consent/cookies", headers={"accept": "text/html", "accept-language": "en"})
    assert english.status_code == 200 and english.headers["content-type"].startswith("text/html")
    text = html.unescape(english.text)
    assert '<html lang="en" dir="ltr">' in text and "<h1>Cookies on this site</h1>" in text
    assert "Keeps you signed in." in text and "2 weeks" in text and "Lincoln High" in text
    assert "Counts visits." in text
    assert "ID used to identify users <small>(from the Open Cookie Database)</small>" in text
    assert "consentgate / __Host-consentgate" in text and "395 days" in text
    french = html.unescape(client.get("/_consent/cookies", headers={"accept-language": "fr-CA,fr;q=0.9"}).text)
    assert '<html lang="fr" dir="ltr">' in french and "<h1>Les cookies de ce site</h1>" in french
    assert "Vous garde connecté." in french and "2 semaines" in french and "Compte les visites." in french
    # No French text in the policy or the database: the database's English, marked as such.
    assert "ID used to identify users <small>(d\u2019apr\u00e8s l\u2019Open Cookie Database)</small>" in french
    arabic = client.get("/_consent/cookies?consentgate_lang=ar").text
    assert '<html lang="ar" dir="rtl">' in arabic


def test_declaration_json_with_accept_application_json() -> None:
    client = TestClient(app())
    response = client.get("/_consent/cookies", headers={"accept": "application/json", "accept-language": "fr"})
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert data["language"] == "fr" and data["policy_revision"] == 2
    assert [c["name"] for c in data["categories"]] == ["essential", "analytics", "marketing", "personalization"]
    analytics = data["categories"][1]
    assert analytics["label"] and analytics["description"] == "Compte les visites."
    assert analytics["hosts"] == ["www.google-analytics.com"]
    rows = rows_by_name(data)
    assert rows["sessionid"]["description"] == "Vous garde connecté." and rows["sessionid"]["from_database"] == []
    assert rows["_ga"]["from_database"] == ["provider", "description", "duration"]
    assert data["database"] == "Open Cookie Database" and data["database_license"] == "Apache-2.0"
    assert client.get("/_consent/cookies?format=json").json()["language"] == "en"
    assert client.post("/_consent/cookies").status_code == 405


def test_the_jinja_helper_places_the_tables_in_a_sites_own_page() -> None:
    client = TestClient(app())
    page = html.unescape(client.get("/privacy", headers={"accept-language": "fr"}).text)
    assert "<h1>Privacy notice</h1>" in page
    assert 'data-consentgate="declaration"' in page and 'lang="fr"' in page
    assert "Vous garde connecté." in page and "<html lang" not in page.split("<h1>")[1]


def test_every_language_has_the_declarations_words() -> None:
    client = TestClient(app())
    for language in LANGUAGES:
        data = client.get(f"/_consent/cookies?format=json&consentgate_lang={language}").json()
        essential = data["categories"][0]["cookies"][0]
        assert essential["description"] and essential["duration"].count("182") == 1, language
