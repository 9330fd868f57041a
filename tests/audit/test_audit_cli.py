"""``consentgate audit`` against live local sites in Chromium: clean, leaky, other banners, errors.

The command runs in a subprocess, as a user runs it (Playwright's sync API cannot start twice in
one process once pytest-playwright's fixtures have run). The sites are served from this process.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sites import (
    ANALYTICS_HOST,
    MARKETING_HOST,
    POLICY_TOML,
    Trackers,
    correct_site,
    foreign_site,
    leaky_site,
    serve,
)
from sites import (
    audit_cli as audit,
)
from support.postgres import free_port

from consentgate.audit.report import REPORT_SCHEMA
from consentgate.cli import main


@pytest.fixture
def policy_file(tmp_path: Path) -> str:
    path = tmp_path / "consent.toml"
    path.write_text(POLICY_TOML)
    return str(path)


def report_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(done.stdout)
    jsonschema.validate(report, REPORT_SCHEMA)
    return report


def scenario(report: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in report["scenarios"] if s["key"] == key)
    return found


def found_rules(entry: dict[str, Any]) -> set[tuple[str, str]]:
    return {(v["rule"], v["subject"]) for v in entry["violations"]}


def cookies(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        c["name"]: c for c in entry["cookies"] if entry["key"] == "first-visit" or c["present_after_action"]
    }


def hosts(entry: dict[str, Any]) -> set[str]:
    return {r["host"] for r in entry["requests"] if entry["key"] == "first-visit" or r["count_after_action"]}


# -- the proof: a correct site and a leaky one ---------------------------------------------------


@pytest.mark.e2e
def test_correct_site_passes_every_scenario_exit_0(third: Trackers, policy_file: str) -> None:
    with serve(correct_site(third)) as url:
        done = audit(
            f"{url}/",
            "--policy",
            policy_file,
            "--json",
            "--crawl",
            "3",
            "--choice",
            "personalization",
            "--student-login",
            "/student-login",
        )
    assert done.returncode == 0, done.stdout + done.stderr
    report = report_of(done)
    assert report["clean"] is True and report["violation_count"] == 0
    assert [s["key"] for s in report["scenarios"]] == [
        "first-visit",
        "deny-all",
        "accept-all",
        "choice",
        "gpc",
        "student",
    ]
    assert all(s["status"] == "done" and s["violations"] == [] for s in report["scenarios"])
    first = scenario(report, "first-visit")
    assert first["banner"] == "consentgate"
    # Crawled the same origin only: no log-out link, no PDF, no partner site.
    assert first["pages"] == ["/", "/about", "/news"]
    assert set(cookies(first)) == {"csrftoken"}
    assert hosts(first) == set()
    deny = scenario(report, "deny-all")
    assert set(cookies(deny)) == {"csrftoken", "consentgate"}
    assert cookies(deny)["consentgate"]["set_by"] == "server"
    accept = scenario(report, "accept-all")
    assert {"_ga", "_ga_TEST", "_fbp", "ad_id", "theme", "lang"} <= set(cookies(accept))
    assert cookies(accept)["_ga_TEST"]["set_by"] == "script"
    assert cookies(accept)["_ga"]["set_by"] == "server"
    assert hosts(accept) == {ANALYTICS_HOST, MARKETING_HOST}
    assert set(cookies(scenario(report, "choice"))) == {"csrftoken", "consentgate", "lang", "theme"}
    gpc = scenario(report, "gpc")
    assert hosts(gpc) == {ANALYTICS_HOST}  # R-GPC-1: no marketing host under GPC
    assert not {"_fbp", "ad_id"} & set(cookies(gpc))
    student = scenario(report, "student")
    assert "session" in cookies(student)
    assert hosts(student) == set()  # students: no analytics (policy) and no marketing (R-STU-1)
    assert "audit: [1/6] First visit, no action" in done.stderr


@pytest.mark.e2e
def test_leaky_site_each_leak_reported_with_its_rule_exit_1(third: Trackers, policy_file: str) -> None:
    with serve(leaky_site(third)) as url:
        done = audit(f"{url}/", "--policy", policy_file, "--json", "--student-login", "/student-login")
    assert done.returncode == 1, done.stdout + done.stderr
    report = report_of(done)
    assert report["clean"] is False
    first = scenario(report, "first-visit")
    # R-CON-1: the server's marketing cookie before consent; the pixel of the marketing host.
    # R-CON-10: the cookie a script writes that no rule declares.
    assert found_rules(first) == {
        ("R-CON-1", "_fbp"),
        ("R-CON-10", "tracker_uid"),
        ("R-CON-1", MARKETING_HOST),
    }
    assert cookies(first)["_fbp"]["set_by"] == "server"
    assert cookies(first)["_fbp"]["category"] == "marketing"
    assert cookies(first)["tracker_uid"]["set_by"] == "script"
    assert cookies(first)["tracker_uid"]["category"] is None
    assert found_rules(scenario(report, "deny-all")) == {
        ("R-CON-6", "_fbp"),
        ("R-CON-10", "tracker_uid"),
        ("R-CON-1", MARKETING_HOST),
    }
    assert found_rules(scenario(report, "accept-all")) == {("R-CON-10", "tracker_uid")}
    assert found_rules(scenario(report, "gpc")) == {
        ("R-GPC-2", "_fbp"),
        ("R-CON-10", "tracker_uid"),
        ("R-GPC-2", MARKETING_HOST),
    }
    assert found_rules(scenario(report, "student")) == {
        ("R-STU-1", "_fbp"),
        ("R-CON-10", "tracker_uid"),
        ("R-STU-1", MARKETING_HOST),
    }
    assert report["violation_count"] == 13


# -- other banners -------------------------------------------------------------------------------


@pytest.mark.e2e
def test_other_banner_found_by_its_button_text(third: Trackers, policy_file: str) -> None:
    with serve(foreign_site(third)) as url:
        done = audit(f"{url}/", "--policy", policy_file, "--json", "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    report = report_of(done)
    assert done.stderr == ""
    assert scenario(report, "first-visit")["banner"] == "other"
    assert set(cookies(scenario(report, "deny-all"))) == {"cmp_consent"}
    accept = scenario(report, "accept-all")
    assert set(cookies(accept)) == {"cmp_consent", "_ga"}
    assert cookies(accept)["cmp_consent"]["set_by"] == "script"
    assert hosts(accept) == {ANALYTICS_HOST}


@pytest.mark.e2e
def test_other_banner_by_selectors_and_r_con_2_for_a_small_reject_link(
    third: Trackers, policy_file: str
) -> None:
    with serve(foreign_site(third, sneaky_reject=True)) as url:
        done = audit(
            f"{url}/",
            "--policy",
            policy_file,
            "--accept-selector",
            "#cmp-accept",
            "--deny-selector",
            "#cmp-reject",
        )
    assert done.returncode == 1, done.stdout + done.stderr
    text = done.stdout
    assert "R-CON-2   Deny All is a <a> while Accept All is a <button>" in text
    # The selectors drove the banner: both choices were made and judged.
    assert "INCOMPLETE" not in text
    assert "cmp_consent" in text
    assert text.rstrip().endswith("FAILED: 1 violation (R-CON-2)")


@pytest.mark.e2e
def test_r_con_2_no_banner_at_all(third: Trackers, policy_file: str) -> None:
    with serve(foreign_site(third, banner=False)) as url:
        done = audit(f"{url}/", "--policy", policy_file, "--json", "--timeout", "3")
    assert done.returncode == 1
    report = report_of(done)
    assert found_rules(scenario(report, "first-visit")) == {("R-CON-2", "Deny All")}
    assert "no consent banner" in scenario(report, "first-visit")["violations"][0]["message"]
    for key in ("deny-all", "accept-all", "gpc"):
        assert scenario(report, key)["status"] == "incomplete"


# -- usage and connection errors: exit 2 with what to fix ----------------------------------------


def test_usage_errors_exit_2_with_what_to_fix(
    policy_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "http://127.0.0.1:9/"
    with pytest.raises(SystemExit) as missing:
        main(["audit", url])
    assert missing.value.code == 2
    assert "--policy" in capsys.readouterr().err

    bad = tmp_path / "bad.toml"
    bad.write_text("revision = 0\n")
    cases = [
        (["--policy", str(bad)], f"invalid policy: {bad}: revision"),
        (["--policy", str(tmp_path / "none.toml")], "cannot read the policy file"),
        (["--policy", policy_file, "--choice", "analytics,adverts"], "unknown category adverts"),
        (["--policy", policy_file, "--student-cookie", "just-a-name"], "NAME=VALUE"),
        (["--policy", policy_file, "--crawl", "-2"], "--crawl must be 0 or more"),
    ]
    for extra, message in cases:
        assert main(["audit", url, *extra]) == 2
        assert message in capsys.readouterr().err
    assert main(["audit", "example.org", "--policy", policy_file]) == 2
    assert "http:// or https://" in capsys.readouterr().err


@pytest.mark.e2e
def test_unreachable_site_exit_2(policy_file: str) -> None:
    done = audit(f"http://127.0.0.1:{free_port()}/", "--policy", policy_file)
    assert done.returncode == 2
    assert "could not open the start page" in done.stderr
    assert "Is the site running" in done.stderr
    assert done.stdout == ""


@pytest.mark.e2e
def test_start_page_error_status_exit_2(third: Trackers, policy_file: str) -> None:
    with serve(correct_site(third)) as url:
        done = audit(f"{url}/no-such-page", "--policy", policy_file, "--quiet")
    assert done.returncode == 2
    assert "answered HTTP 404" in done.stderr


def test_missing_browser_exit_2(policy_file: str, tmp_path: Path) -> None:
    done = audit("http://127.0.0.1:9/", "--policy", policy_file, "--chromium", str(tmp_path / "no-chromium"))
    assert done.returncode == 2
    assert "could not start Chromium" in done.stderr
    assert "--chromium PATH" in done.stderr
