"""Consent shared across subdomains (issue 17): ``[consent_cookie] domain`` makes the consent cookie
``__Secure-consentgate; Domain=...; Secure`` over HTTPS (the ``__Host-`` prefix forbids a Domain), the
middleware reads it (before a host-only one left from earlier) and keeps it like any consent cookie,
"forget me" clears both, and the policy check refuses what is not a domain."""

from __future__ import annotations

import json
import logging
import tomllib
from pathlib import Path

import jsonschema
import pytest
from coreapp import POLICY_TOML, SECRET, build_app, client, decide, make_policy

from consentgate import PolicyError, SecretKeys
from consentgate.cli import main
from consentgate.enforce.consent_cookie import ConsentCookieCodec, new_consent_id
from consentgate.log.privacy_log import PrivacyLog

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "src/consentgate/enforce/policy.schema.json").read_text())
SHARED = POLICY_TOML + '\n[consent_cookie]\ndomain = "school.example"\n'


def codec(text: str = SHARED) -> ConsentCookieCodec:
    return ConsentCookieCodec(SecretKeys.load(SECRET), make_policy(text))


def set_cookies(response: object) -> list[str]:
    return list(response.headers.get_list("set-cookie"))  # type: ignore[attr-defined]


# -- the policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["school.example", ".School.Example", "learn.school.example"])
def test_the_domain_is_read_and_normalised(written: str) -> None:
    policy = make_policy(POLICY_TOML + f'\n[consent_cookie]\ndomain = "{written}"\n')
    assert policy.consent_cookie_domain == written.lower().lstrip(".")
    assert f"__Secure-consentgate; Domain={policy.consent_cookie_domain}" in policy.describe()
    assert make_policy().consent_cookie_domain is None
    assert "__Host-consentgate over HTTPS" in make_policy().describe()


@pytest.mark.parametrize(
    "value",
    ['"localhost"', '"192.168.0.10"', '"school.example:443"', '"*.school.example"', '""', "42",
     '"school example"', '"https://school.example"', '"school.example."'],
)
def test_what_is_not_a_domain_is_refused_by_the_loader_and_the_schema(value: str) -> None:
    text = f"revision = 1\n[consent_cookie]\ndomain = {value}\n"
    with pytest.raises(PolicyError, match=r"consent_cookie\.domain: .* is not a domain name"):
        make_policy(text)
    assert list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(tomllib.loads(text)))


def test_schema_accepts_a_domain_and_refuses_other_keys() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    validator.validate(tomllib.loads(SHARED))
    other = "revision = 1\n[consent_cookie]\nname = 'mine'\n"
    assert list(validator.iter_errors(tomllib.loads(other)))
    with pytest.raises(PolicyError, match=r"consent_cookie\.name: unknown key"):
        make_policy(other)


def test_consentgate_check_shows_the_shared_cookie_and_names_a_bad_domain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "consent.toml"
    path.write_text(SHARED)
    assert main(["check", str(path)]) == 0
    assert "__Secure-consentgate; Domain=school.example over HTTPS" in capsys.readouterr().out
    path.write_text(POLICY_TOML + '\n[consent_cookie]\ndomain = "10.0.0.1"\n')
    assert main(["check", str(path)]) == 1
    assert f"{path}: consent_cookie.domain: '10.0.0.1' is not a domain name" in capsys.readouterr().err


# -- the cookie ---------------------------------------------------------------------------------


def test_over_https_the_shared_cookie_is_secure_prefixed_with_the_domain() -> None:
    header = codec().set_cookie_header("v", https=True, max_age=60).decode()
    assert header.startswith("__Secure-consentgate=v; ")
    for attribute in ("Domain=school.example", "Secure", "Path=/", "HttpOnly", "SameSite=Lax"):
        assert attribute in header
    plain = codec().set_cookie_header("v", https=False, max_age=60).decode()
    assert plain.startswith("consentgate=v; ") and "Domain=school.example" in plain and "Secure" not in plain


def test_forgetting_clears_the_shared_cookie_and_a_host_only_one_from_before() -> None:
    secure, host_only = (h.decode() for h in codec().clear_cookie_headers(https=True))
    assert secure.startswith("__Secure-consentgate=; Max-Age=0") and "Domain=school.example" in secure
    assert host_only.startswith("__Host-consentgate=; Max-Age=0") and "Domain" not in host_only
    assert len(codec(POLICY_TOML).clear_cookie_headers(https=True)) == 1  # no domain: one cookie


# -- through the middleware ---------------------------------------------------------------------


def test_a_decision_sets_the_shared_cookie_and_deletes_the_host_only_one() -> None:
    tc = client(build_app(make_policy(SHARED), https=True), base_url="https://www.school.example")
    response = tc.post("/_consent", json={"action": "accept_all"}, headers={"origin": "https://www.school.example"})
    assert response.status_code == 200
    lines = set_cookies(response)
    assert any(line.startswith("__Secure-consentgate=c1.") and "Domain=school.example" in line for line in lines)
    assert any(line.startswith("__Host-consentgate=; Max-Age=0") for line in lines)


def test_the_shared_cookie_is_read_first_and_reaches_the_app_untouched() -> None:
    shared = codec()
    accepted = shared.encode({"analytics"}, new_consent_id())
    refused = shared.encode(set(), new_consent_id())
    tc = client(build_app(make_policy(SHARED), https=True), base_url="https://learn.school.example")
    header = f"__Host-consentgate={refused}; __Secure-consentgate={accepted}"
    data = tc.get("/", headers={"cookie": header}).json()
    assert "analytics" in data["granted"] and not data["needs_choice"]
    assert f"__Secure-consentgate={accepted}" in data["cookie_header"]  # a consent cookie: never filtered
    # Without a domain in the policy the host-only cookie comes first, the shared one still counts.
    plain = client(build_app(make_policy(), https=True), base_url="https://learn.school.example")
    assert "analytics" not in plain.get("/", headers={"cookie": header}).json()["granted"]
    only_shared = plain.get("/", headers={"cookie": f"__Secure-consentgate={accepted}"}).json()
    assert "analytics" in only_shared["granted"]


def test_forget_me_clears_both_consent_cookies(tmp_path: Path) -> None:
    log = PrivacyLog(str(tmp_path / "log.sqlite3"), make_policy(SHARED))
    app = build_app(make_policy(SHARED), https=True, privacy_log=log, decision_rate_limit=None)
    with client(app, base_url="https://www.school.example") as tc:
        origin = {"origin": "https://www.school.example"}
        tc.post("/_consent", json={"action": "accept_all"}, headers=origin)
        response = tc.post("/_consent/forget", headers={**origin, "accept": "application/json"})
    assert response.json()["forgotten"] is True
    lines = set_cookies(response)
    assert any(line.startswith("__Secure-consentgate=; Max-Age=0") and "Domain=school.example" in line for line in lines)
    assert any(line.startswith("__Host-consentgate=; Max-Age=0") for line in lines)


def test_a_decision_from_a_host_outside_the_domain_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "consentgate")
    tc = client(build_app(make_policy(SHARED), https=True, decision_rate_limit=None),
                base_url="https://portal.other.example")
    for _ in range(3):
        decide(tc, {"action": "deny_all"}, origin="https://portal.other.example")
    assert caplog.text.count("outside the policy's [consent_cookie] domain 'school.example'") == 1
    assert [r.getMessage() for r in caplog.records if r.name == "consentgate"] == [
        "consentgate: a decision came in for host 'portal.other.example', outside the policy's [consent_cookie] "
        "domain 'school.example': browsers refuse the consent cookie there, so visitors on that host are asked "
        "again every time"
    ]
    caplog.clear()
    inside = client(build_app(make_policy(SHARED), https=True), base_url="https://app.school.example:8443")
    decide(inside, {"action": "deny_all"}, origin="https://app.school.example:8443")
    assert "outside" not in caplog.text


def test_r_ck_2_the_deletions_of_a_shared_cookie_and_of_the_host_only_one_it_supersedes() -> None:
    expired = "Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    shared = codec()
    assert shared.superseded_cookie_headers(https=True) == [
        f"__Host-consentgate=; {expired}; Path=/; HttpOnly; SameSite=Lax; Secure".encode()
    ]
    assert shared.clear_cookie_headers(https=True) == [
        f"__Secure-consentgate=; {expired}; Path=/; Domain=school.example; HttpOnly; SameSite=Lax; Secure".encode(),
        f"__Host-consentgate=; {expired}; Path=/; HttpOnly; SameSite=Lax; Secure".encode(),
    ]
    assert shared.superseded_cookie_headers(https=False) == []  # no __Host- cookie over HTTP
    assert codec(POLICY_TOML).superseded_cookie_headers(https=True) == []  # nothing shared, nothing superseded


def test_which_hosts_keep_a_shared_cookie() -> None:
    shared, own = codec(), codec(POLICY_TOML)
    assert own.host_matches(b"anything.example") and own.host_matches(None)  # no Domain: every host
    assert shared.host_matches(None)  # no Host header: nothing to compare
    assert shared.host_matches(b"School.Example:8443") and shared.host_matches(b"learn.school.example")
    assert not shared.host_matches(b"notschool.example") and not shared.host_matches(b"school.example.evil")
    # Only the last ":port" is cut, and a bracketed (IPv6) host is never the domain.
    assert not shared.host_matches(b"school.example:x:443")
    assert not shared.host_matches(b"[learn.school.example")


def test_the_consent_cookie_table_is_refused_with_exact_messages_and_a_domain_is_at_most_253_characters() -> None:
    with pytest.raises(PolicyError) as not_table:
        make_policy("revision = 1\nconsent_cookie = 3\n")
    assert str(not_table.value) == "test.toml: consent_cookie: expected a table, got 3"
    with pytest.raises(PolicyError) as not_domain:
        make_policy('revision = 1\n[consent_cookie]\ndomain = "localhost"\n')
    assert str(not_domain.value) == (
        "test.toml: consent_cookie.domain: 'localhost' is not a domain name such as 'school.example' (two labels "
        "or more, no address, no port): the consent cookie is shared by it and all of its subdomains"
    )
    longest = ".".join(["a" * 63] * 3 + ["b" * 61])  # 253 characters, the most DNS allows
    assert make_policy(f'revision = 1\n[consent_cookie]\ndomain = "{longest}"\n').consent_cookie_domain == longest
    with pytest.raises(PolicyError, match="is not a domain name"):
        make_policy(f'revision = 1\n[consent_cookie]\ndomain = "{longest}b"\n')


def test_a_consent_cookie_is_read_under_both_prefixed_names_before_the_plain_one() -> None:
    """A policy that drops (or adds) the Domain still reads a choice the other one wrote."""
    assert codec(POLICY_TOML).read_order == (b"__Host-consentgate", b"__Secure-consentgate", b"consentgate")
    assert codec().read_order == (b"__Secure-consentgate", b"__Host-consentgate", b"consentgate")


def test_keys_derived_for_other_purposes_differ() -> None:
    own = codec(POLICY_TOML)
    assert own.derive_key(b"rate-limit") != own.derive_key(b"other") and len(own.derive_key(b"rate-limit")) == 32
