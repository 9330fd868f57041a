"""``consentgate audit`` reports each undeclared cookie with the cookie database's suggestion
(issue 14, point 5), in the violation's message and in the JSON report, without a browser."""

from __future__ import annotations

import time

import jsonschema
from sites import policy

from consentgate.audit.findings import AuditResult, ScenarioResult, SeenCookie, classify_cookie, judge
from consentgate.audit.report import REPORT_SCHEMA, render_text, report_dict
from consentgate.audit.scenarios import Scenario

FIRST = Scenario("first-visit", "First visit, no action", "none")


def seen(name: str, set_by: str) -> SeenCookie:
    return SeenCookie(
        name=name, domain="127.0.0.1", path="/", http_only=False, secure=False, same_site="Lax",
        expires=None, set_by=set_by, page="/", phase="before",  # type: ignore[arg-type]
        category=classify_cookie(policy(), name),
    )  # fmt: skip


def test_r_con_10_undeclared_cookies_carry_the_suggestion() -> None:
    cookies = [seen("_gid", "script"), seen("sessionid", "server"), seen("zz_mystery", "script"), seen("_ga", "script")]
    found = {v.subject: v.message for v in judge(FIRST, policy(), cookies, []) if v.rule == "R-CON-10"}
    assert set(found) == {"_gid", "sessionid", "zz_mystery"}  # _ga is declared
    assert "the cookie database suggests analytics (Google Analytics: ID used to identify users" in found["_gid"]
    assert found["sessionid"].endswith("name matches Instagram (third-party): decide where it belongs")
    assert found["zz_mystery"].endswith("the cookie database does not know it")

    result = ScenarioResult(FIRST, FIRST.allowed(policy()), cookies=cookies)
    result.violations = judge(FIRST, policy(), cookies, [])
    audit = AuditResult("http://127.0.0.1:8000/", policy(), [result], time.time(), time.time())
    report = report_dict(audit)
    jsonschema.validate(report, REPORT_SCHEMA)
    by_name = {c["name"]: c for c in report["scenarios"][0]["cookies"]}
    assert by_name["_gid"]["suggestion"]["category"] == "analytics"
    assert by_name["sessionid"]["suggestion"] == {
        "category": None, "platform": "Instagram", "description": by_name["sessionid"]["suggestion"]["description"]
    }
    assert by_name["zz_mystery"]["suggestion"] is None
    assert by_name["_ga"]["suggestion"] is None  # declared: nothing to suggest
    assert "the cookie database suggests analytics (Google Analytics" in render_text(audit)
