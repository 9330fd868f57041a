"""``consentgate audit`` and web storage, in Chromium (issue 19): every scenario records the
origin's localStorage/sessionStorage keys and IndexedDB databases after each page and the
third-party requests (beacons included) before and after the choice."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sites import MARKETING_HOST, STORAGE_POLICY_TOML, Trackers, serve, storage_site
from sites import audit_cli as audit

from consentgate.audit.report import REPORT_SCHEMA


@pytest.fixture
def policy_file(tmp_path: Path) -> str:
    path = tmp_path / "consent.toml"
    path.write_text(STORAGE_POLICY_TOML)
    return str(path)


def by_key(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["key"]: s for s in report["scenarios"]}


@pytest.mark.e2e
def test_undeclared_key_and_beacon_before_any_choice_exit_1(third: Trackers, policy_file: str) -> None:
    with serve(storage_site(third, leaky=True)) as url:
        done = audit(f"{url}/", "--policy", policy_file, "--json")
        text = audit(f"{url}/", "--policy", policy_file, "--quiet")
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    jsonschema.validate(report, REPORT_SCHEMA)
    scenarios = by_key(report)
    first = scenarios["first-visit"]
    found = {(v["rule"], v["kind"], v["subject"]) for v in first["violations"]}
    assert ("R-CON-10", "storage", "tracker_id") in found
    assert ("R-CON-1", "request", MARKETING_HOST) in found
    beacon = next(r for r in first["requests"] if r["host"] == MARKETING_HOST)
    assert beacon["resource_type"] == "ping" and beacon["url"].endswith("/beacon.gif")
    assert {"name": "tracker_id", "kind": "localStorage", "page": "/", "phase": "before",
            "present_after_action": False, "category": None} in first["storage"]  # fmt: skip
    # Accept All: the declared keys appear, in their categories, after the choice.
    accept = {(s["name"], s["kind"]): s for s in scenarios["accept-all"]["storage"]}
    assert accept[("AMP_device", "localStorage")]["category"] == "analytics"
    assert accept[("ads-db", "indexedDB")]["present_after_action"] is True
    # GPC: marketing storage never appears; the scenario's own violations are the leak's only.
    gpc = {s["name"] for s in scenarios["gpc"]["storage"]}
    assert "ads-db" not in gpc and "AMP_device" in gpc
    # The table names the key, the scenario and the host.
    assert text.returncode == 1
    table = text.stdout
    first_block = table.split("2. Deny All")[0]
    assert "1. First visit, no action" in first_block
    assert "localStorage key tracker_id was written before any choice" in first_block
    assert f"request to third-party host {MARKETING_HOST} (marketing) before any choice" in first_block
    assert re.search(r"storage +tracker_id +\(undeclared\) +localStorage +/ +R-CON-10", first_block)


@pytest.mark.e2e
def test_the_clean_version_exits_0(third: Trackers, policy_file: str) -> None:
    with serve(storage_site(third, leaky=False)) as url:
        done = audit(f"{url}/", "--policy", policy_file, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["clean"] is True
    accept = {s["name"] for s in by_key(report)["accept-all"]["storage"]}
    assert accept == {"AMP_device", "ads-db"}
    assert by_key(report)["deny-all"]["storage"] == []
