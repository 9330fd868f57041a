"""The audit's verdicts, without a browser: scenarios, classification, rules, reports."""

from __future__ import annotations

import json
import time

import jsonschema
import pytest
from sites import ANALYTICS_HOST, MARKETING_HOST, policy

from consentgate import Policy
from consentgate.audit.findings import (
    AuditResult,
    ScenarioResult,
    SeenCookie,
    SeenRequest,
    category_of_host,
    classify_cookie,
    judge,
)
from consentgate.audit.report import REPORT_SCHEMA, ProgressDisplay, render_json, render_text, report_dict
from consentgate.audit.scenarios import AuditError, AuditOptions, Scenario, build_scenarios

FIRST = Scenario("first-visit", "First visit, no action", "none")
DENY = Scenario("deny-all", "Deny All", "deny_all")
ACCEPT = Scenario("accept-all", "Accept All", "accept_all")
CHOICE = Scenario("choice", "Partial choice (analytics)", "choice", frozenset({"analytics"}))
GPC = Scenario("gpc", "Accept All with Global Privacy Control", "accept_all", gpc=True)
STUDENT = Scenario("student", "Accept All in a student session", "accept_all", student=True)


def cookie(
    name: str,
    *,
    phase: str = "before",
    after: bool = False,
    set_by: str = "server",
    expires: float | None = None,
    first_expires: float | None = None,
) -> SeenCookie:
    return SeenCookie(
        name=name,
        domain="127.0.0.1",
        path="/",
        http_only=False,
        secure=False,
        same_site="Lax",
        expires=expires,
        set_by=set_by,  # type: ignore[arg-type]
        page="/",
        phase=phase,  # type: ignore[arg-type]
        category=classify_cookie(policy(), name),
        present_after=after,
        first_expires=first_expires,
    )


def request(host: str, *, phase: str = "before", after: int = 0, within: Policy | None = None) -> SeenRequest:
    return SeenRequest(
        host=host,
        url=f"http://{host}:9/x.gif",
        resource_type="image",
        page="/",
        phase=phase,  # type: ignore[arg-type]
        category=category_of_host(within or policy(), host),
        count=max(1, after),
        count_after=after,
    )


def rules(violations: list) -> set[tuple[str, str]]:
    return {(v.rule, v.subject) for v in violations}


# -- scenarios and options ---------------------------------------------------------------------


def test_scenarios_default_then_partial_and_student_only_when_asked() -> None:
    base = AuditOptions(url="http://127.0.0.1:8000/", policy=policy())
    assert [s.key for s in build_scenarios(base)] == ["first-visit", "deny-all", "accept-all", "gpc"]
    full = AuditOptions(
        url="http://127.0.0.1:8000/",
        policy=policy(),
        choice=frozenset({"analytics", "essential"}),
        student_cookie=("session", "x"),
    )
    scenarios = build_scenarios(full)
    assert [s.key for s in scenarios] == ["first-visit", "deny-all", "accept-all", "choice", "gpc", "student"]
    assert scenarios[3].categories == frozenset({"analytics"})


def test_allowed_categories_per_scenario_follow_the_ceilings() -> None:
    p = policy()
    assert FIRST.allowed(p) == DENY.allowed(p) == {"essential"}
    assert ACCEPT.allowed(p) == {"essential", "personalization", "analytics", "marketing"}
    assert CHOICE.allowed(p) == {"essential", "analytics"}
    assert GPC.allowed(p) == {"essential", "personalization", "analytics"}  # R-GPC-1
    assert STUDENT.allowed(p) == {"essential", "personalization"}  # R-STU-1 + [students].deny


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "ftp://example.org/"}, "http:// or https://"),
        ({"url": "127.0.0.1:8000"}, "http:// or https://"),
        ({"crawl": -1}, "--crawl"),
        ({"timeout": 0}, "--timeout"),
        ({"choice": frozenset({"analytic"})}, "unknown category analytic"),
    ],
)
def test_bad_options_say_what_to_fix(kwargs: dict, message: str) -> None:
    arguments = {"url": "http://127.0.0.1:8000/", "policy": policy(), **kwargs}
    with pytest.raises(AuditError, match=message):
        AuditOptions(**arguments)


# -- classification ---------------------------------------------------------------------------


def test_hosts_classified_exact_then_most_specific_glob() -> None:
    p = Policy.from_toml(
        """
        revision = 1
        [categories.essential]
        hosts = ["*.cdn.example.org"]
        [categories.analytics]
        hosts = ["stats.example.org", "*.example.org"]
        [categories.marketing]
        hosts = ["*.ads.example.org"]
        """
    )
    assert category_of_host(p, "stats.example.org") == "analytics"
    assert category_of_host(p, "STATS.example.org.") == "analytics"
    assert category_of_host(p, "img.cdn.example.org") == "essential"
    assert category_of_host(p, "x.ads.example.org") == "marketing"
    assert category_of_host(p, "www.example.org") == "analytics"
    assert category_of_host(p, "example.org") is None  # a glob names subdomains only
    assert category_of_host(p, "tracker.example.net") is None


def test_consent_cookie_is_essential_and_unknown_names_are_undeclared() -> None:
    p = policy()
    assert classify_cookie(p, "consentgate") == "essential"
    assert classify_cookie(p, "__Host-consentgate") == "essential"
    assert classify_cookie(p, "_ga_ABC") == "analytics"
    assert classify_cookie(p, "tracker_uid") is None


# -- verdicts ---------------------------------------------------------------------------------


def test_r_con_1_first_visit_flags_optional_cookies_and_third_party_requests() -> None:
    found = judge(
        FIRST,
        policy(),
        [cookie("csrftoken"), cookie("consentgate"), cookie("_fbp"), cookie("theme", set_by="script")],
        [request(ANALYTICS_HOST), request(MARKETING_HOST), request("fonts.example.net")],
    )
    assert rules(found) == {
        ("R-CON-1", "_fbp"),
        ("R-CON-1", "theme"),
        ("R-CON-1", ANALYTICS_HOST),
        ("R-CON-1", MARKETING_HOST),
        ("R-CON-1", "fonts.example.net"),
    }
    theme = next(v for v in found if v.subject == "theme")
    assert "set by a script" in theme.message and "personalization before any choice" in theme.message


def test_r_con_1_third_party_host_declared_essential_is_fine_before_a_choice() -> None:
    p = Policy.from_toml('revision = 1\n[categories.essential]\nhosts = ["cdn.example.net"]\n')
    assert judge(FIRST, p, [], [request("cdn.example.net", within=p)]) == []


def test_r_con_10_undeclared_cookie_in_every_scenario() -> None:
    for scenario in (FIRST, ACCEPT):
        found = judge(scenario, policy(), [cookie("tracker_uid", set_by="script", after=True)], [])
        assert rules(found) == {("R-CON-10", "tracker_uid")}
        assert "declared by no rule" in found[0].message


def test_r_con_10_undeclared_host_after_accept_all() -> None:
    found = judge(ACCEPT, policy(), [], [request("beacon.example.net", phase="after", after=2)])
    assert rules(found) == {("R-CON-10", "beacon.example.net")}


def test_after_an_action_only_what_is_still_there_counts() -> None:
    gone = cookie("_fbp", phase="before", after=False)
    old_request = request(MARKETING_HOST, phase="before", after=0)
    assert judge(DENY, policy(), [gone], [old_request]) == []


def test_r_con_6_cookie_set_before_deny_all_and_not_deleted() -> None:
    found = judge(DENY, policy(), [cookie("_fbp", phase="before", after=True)], [])
    assert rules(found) == {("R-CON-6", "_fbp")}


def test_r_con_1_cookie_and_host_of_a_category_the_partial_choice_did_not_allow() -> None:
    found = judge(
        CHOICE,
        policy(),
        [cookie("_ga", phase="after", after=True), cookie("ad_id", phase="after", after=True)],
        [request(ANALYTICS_HOST, phase="after", after=1), request(MARKETING_HOST, phase="after", after=1)],
    )
    assert rules(found) == {("R-CON-1", "ad_id"), ("R-CON-1", MARKETING_HOST)}
    assert all("partial choice" in v.message for v in found)


def test_r_gpc_2_marketing_under_gpc_after_accept_all() -> None:
    found = judge(
        GPC,
        policy(),
        [cookie("_fbp", phase="after", after=True), cookie("_ga", phase="after", after=True)],
        [request(MARKETING_HOST, phase="after", after=1)],
    )
    assert rules(found) == {("R-GPC-2", "_fbp"), ("R-GPC-2", MARKETING_HOST)}


def test_r_stu_1_marketing_and_r_stu_2_policy_denials_in_a_student_session() -> None:
    found = judge(
        STUDENT,
        policy(),
        [cookie("ad_id", phase="after", after=True), cookie("_ga", phase="after", after=True)],
        [request(ANALYTICS_HOST, phase="after", after=1)],
    )
    assert rules(found) == {("R-STU-1", "ad_id"), ("R-STU-2", "_ga"), ("R-STU-2", ANALYTICS_HOST)}


def test_r_con_7_consent_cookie_lifetime_at_most_13_months() -> None:
    now = time.time()
    ok = cookie("consentgate", phase="after", after=True, expires=now + 395 * 86400)
    assert judge(ACCEPT, policy(), [ok], []) == []
    too_long = cookie("consentgate", phase="after", after=True, expires=now + 500 * 86400)
    found = judge(ACCEPT, policy(), [too_long], [])
    assert rules(found) == {("R-CON-7", "consentgate")}
    assert "500 days" in found[0].message


def test_r_con_7_consent_cookie_not_extended_by_later_visits() -> None:
    now = time.time()
    extended = cookie(
        "consentgate", phase="after", after=True, first_expires=now + 30 * 86400, expires=now + 60 * 86400
    )
    found = judge(ACCEPT, policy(), [extended], [])
    assert rules(found) == {("R-CON-7", "consentgate")}
    assert "extended" in found[0].message


# -- reports ----------------------------------------------------------------------------------


def _result() -> AuditResult:
    p = policy()
    first = ScenarioResult(FIRST, FIRST.allowed(p), pages=["/", "/about"], banner="consentgate")
    first.cookies = [cookie("csrftoken"), cookie("_fbp")]
    first.requests = [request(MARKETING_HOST)]
    first.violations = judge(FIRST, p, first.cookies, first.requests)
    deny = ScenarioResult(DENY, DENY.allowed(p), status="incomplete", note="could not find Deny All")
    now = time.time()
    return AuditResult("http://127.0.0.1:8000/", p, [first, deny], now - 3, now)


def test_json_report_matches_its_schema_and_names_rules() -> None:
    result = _result()
    report = json.loads(render_json(result))
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["clean"] is False
    assert report["violation_count"] == 2
    first = report["scenarios"][0]
    assert first["allowed"] == ["essential"]
    assert {(v["rule"], v["subject"]) for v in first["violations"]} == {
        ("R-CON-1", "_fbp"),
        ("R-CON-1", MARKETING_HOST),
    }
    assert {c["name"]: c["category"] for c in first["cookies"]} == {
        "csrftoken": "essential",
        "_fbp": "marketing",
    }
    assert report["scenarios"][1]["status"] == "incomplete"


def test_json_schema_rejects_a_report_without_rule_ids() -> None:
    report = report_dict(_result())
    report["scenarios"][0]["violations"][0]["rule"] = "cookie leak"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(report, REPORT_SCHEMA)


def test_text_report_has_a_table_per_scenario_and_a_verdict() -> None:
    text = render_text(_result())
    assert "1. First visit, no action  [allowed: essential]" in text
    assert "pages: /, /about" in text
    row = next(line for line in text.splitlines() if line.strip().startswith("cookie") and "_fbp" in line)
    assert "marketing" in row and "R-CON-1" in row
    assert "2. Deny All" in text and "INCOMPLETE: could not find Deny All" in text
    assert text.rstrip().endswith("FAILED: 2 violations (R-CON-1); 1 scenario incomplete")


def test_progress_lines_on_a_plain_stream(capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    display = ProgressDisplay(sys.stderr)
    display("[1/4] First visit, no action")
    display.done()
    ProgressDisplay(sys.stderr, enabled=False)("hidden")
    assert capsys.readouterr().err == "audit: [1/4] First visit, no action\n"
