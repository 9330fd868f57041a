"""Consent-aware Content-Security-Policy: only the allowed categories' hosts, on HTML pages."""

from __future__ import annotations

import re

import pytest
from coreapp import client
from support.banner_app import POLICY_TOML, build_site, make_policy

from consentgate.banner.csp import ConsentCsp

ORIGIN = {"origin": "http://testserver"}


def directives(value: str) -> dict[str, list[str]]:
    out = {}
    for part in value.split(";"):
        name, *sources = part.split()
        out[name] = sources
    return out


def test_off_by_default_no_header() -> None:
    response = client(build_site()).get("/")
    assert "content-security-policy" not in response.headers
    assert "content-security-policy-report-only" not in response.headers


def test_enforce_lists_only_hosts_of_allowed_categories() -> None:
    tc = client(build_site(make_policy('csp = "enforce"\n' + POLICY_TOML)))
    first = directives(tc.get("/").headers["content-security-policy"])
    for name in ("script-src", "connect-src", "img-src", "frame-src"):
        assert "'self'" in first[name]
        assert "stats.example" not in first[name] and "ads.example" not in first[name]
    tc.post("/_consent", json={"categories": ["analytics"]}, headers=ORIGIN)
    after = directives(tc.get("/").headers["content-security-policy"])
    for name in ("script-src", "connect-src", "img-src", "frame-src"):
        assert "stats.example" in after[name]
        assert "ads.example" not in after[name]
    assert "default-src" not in after and "style-src" not in after  # the app's business


def test_student_or_gpc_never_lists_marketing_hosts() -> None:
    tc = client(build_site(make_policy('csp = "enforce"\n' + POLICY_TOML)))
    tc.post("/_consent", json={"action": "accept_all"}, headers=ORIGIN)
    assert "ads.example" in tc.get("/").headers["content-security-policy"]
    assert "ads.example" not in tc.get("/", headers={"sec-gpc": "1"}).headers["content-security-policy"]


def test_report_only_mode_and_constructor_override() -> None:
    tc = client(build_site(make_policy('csp = "report-only"\n' + POLICY_TOML)))
    response = tc.get("/")
    assert "content-security-policy" not in response.headers
    assert "script-src 'self'" in response.headers["content-security-policy-report-only"]
    forced = client(build_site(make_policy('csp = "report-only"\n' + POLICY_TOML), csp="enforce")).get("/")
    assert "content-security-policy" in forced.headers
    off = client(build_site(make_policy('csp = "enforce"\n' + POLICY_TOML), csp="off")).get("/")
    assert "content-security-policy" not in off.headers


def test_only_html_gets_the_header_and_the_apps_own_csp_is_kept() -> None:
    tc = client(build_site(make_policy('csp = "enforce"\n' + POLICY_TOML)))
    assert "content-security-policy" not in tc.get("/js/page.js").headers
    response = tc.get("/app-csp")
    values = response.headers.get_list("content-security-policy")
    assert "script-src 'self'; style-src 'self'; object-src 'none'" in values
    assert len(values) == 2  # both are enforced by the browser


def test_nonce_is_fresh_per_response_and_matches_the_page() -> None:
    tc = client(build_site(make_policy('csp = "enforce"\n' + POLICY_TOML)))
    nonces = []
    for _ in range(3):
        response = tc.get("/")
        header_nonce = re.search(r"'nonce-([A-Za-z0-9_-]+)'", response.headers["content-security-policy"])
        assert header_nonce is not None
        assert f'nonce="{header_nonce.group(1)}"' in response.text  # request.state.csp_nonce
        nonces.append(header_nonce.group(1))
    assert len(set(nonces)) == 3
    assert all(len(n) >= 22 for n in nonces)


def test_header_is_built_once_per_granted_set() -> None:
    csp = ConsentCsp(make_policy(POLICY_TOML), "enforce")
    granted = frozenset({"essential", "analytics"})
    assert csp.parts(granted) is csp.parts(frozenset({"analytics", "essential"}))
    name, value = csp.header(granted, "abc")
    assert name == b"content-security-policy"
    assert b"script-src 'self' stats.example 'nonce-abc'" in value


def test_bad_mode_is_a_start_up_error() -> None:
    with pytest.raises(ValueError, match="csp"):
        build_site(csp="sometimes").build_middleware_stack()
