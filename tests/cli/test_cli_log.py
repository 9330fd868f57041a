"""``consentgate export | forget | purge | stats`` (R-VIS-3, R-STU-2, R-MIN-6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from coreapp import POLICY_TOML
from support.records import make_receipt, make_visit

from consentgate.cli import main
from consentgate.log.spool import Spool
from consentgate.log.stores.base import Store
from consentgate.log.stores.factory import open_store

TODAY = datetime.now(UTC).replace(microsecond=0)


def fill(store: Store) -> None:
    store.add_receipts(
        [
            make_receipt("alice", when=TODAY, granted=frozenset({"analytics"})),
            make_receipt("alice", when=TODAY - timedelta(days=1), granted=frozenset()),
            make_receipt("bob", when=TODAY, tenant="school-1", student=True, gpc=True),
            make_receipt("carol", when=TODAY, tenant="school-1", granted=frozenset({"marketing"})),
        ]
    )
    store.add_visits([make_visit("alice", when=TODAY), make_visit("bob", when=TODAY, tenant="school-1")])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = str(tmp_path / "log.sqlite3") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    with open_store(url) as store:
        fill(store)
    return str(url)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_r_vis_3_export_by_consent_id_in_iso27560_shape(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "export", "--consent-id", "alice", "--store", target, "--controller", "Demo School")
    assert code == 0
    document = json.loads(out)
    assert document["consent_id"] == "alice"
    assert len(document["receipts"]) == 2
    record = document["receipts"][0]
    assert set(record) == {"header", "processing", "parties", "events"}
    assert record["header"]["pii_principal_id"] == "alice"
    assert record["parties"][0]["name"] == "Demo School"
    assert [v["consent_id"] for v in document["visits"]] == ["alice"]


def test_r_stu_2_export_by_tenant_to_a_file(
    target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "school.json"
    code, out, err = run(capsys, "export", "--tenant", "school-1", "--store", target, "-o", str(out_file))
    assert code == 0 and out == ""
    assert "exported 2 receipt(s) and 1 visit record(s)" in err
    document = json.loads(out_file.read_text())
    assert sorted(r["header"]["pii_principal_id"] for r in document["receipts"]) == ["bob", "carol"]


def test_r_vis_3_forget_by_consent_id(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "forget", "--consent-id", "alice", "--store", target)
    assert code == 0
    assert "deleted 2 receipt(s) and 1 visit record(s) of consent id alice" in out
    with open_store(target) as store:
        assert store.receipts(consent_id="alice") == [] and store.visits(consent_id="alice") == []
        assert store.counts() == (2, 1)


def test_r_stu_2_forget_a_whole_tenant_including_its_spooled_receipts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "log.sqlite3"
    with open_store(str(path)) as store:
        fill(store)
    spool = Spool(str(path) + ".spool")  # the default spool next to the SQLite file
    spool.append([make_receipt("dave", tenant="school-1"), make_receipt("erin")])
    code, out, _ = run(capsys, "forget", "--tenant", "school-1", "--store", str(path))
    assert code == 0
    assert "deleted 2 receipt(s) and 1 visit record(s) of tenant school-1 (and 1 spooled receipt(s))" in out
    assert [r.consent_id for r in spool.pending()] == ["erin"]
    with open_store(str(path)) as store:
        assert store.receipts(tenant="school-1") == [] and store.visits(tenant="school-1") == []


def test_forget_needs_exactly_one_selector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["forget", "--store", str(tmp_path / "x.sqlite3")])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["forget", "--consent-id", "a", "--tenant", "b"])


def test_r_min_6_purge_uses_the_policys_retention(
    target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_store(target) as store:
        store.add_visits([make_visit("old", when=TODAY - timedelta(days=3))])
        store.add_receipts([make_receipt("old", when=TODAY - timedelta(days=3))])
    policy = tmp_path / "consent.toml"
    policy.write_text(POLICY_TOML + "\n[retention]\nvisits_days = 2\nreceipts_days = 2\n")
    code, out, _ = run(capsys, "purge", "--store", target, "--policy", str(policy))
    assert code == 0
    assert "purged 1 receipt(s) older than 2 days and 1 visit record(s) older than 2 days" in out
    code, out, _ = run(capsys, "purge", "--store", target)
    assert code == 0 and "default retention" in out and "purged 0 receipt(s)" in out


def test_purge_with_a_broken_policy_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "log.sqlite3"
    open_store(str(path)).migrate()
    policy = tmp_path / "bad.toml"
    policy.write_text("revision = 1\n[retention]\nvisits_days = 0\n")
    code, _, err = run(capsys, "purge", "--store", str(path), "--policy", str(policy))
    assert code == 1 and "invalid policy" in err and "retention.visits_days" in err


def test_stats_table_per_day_and_category(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "stats", "--store", target)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("4 receipt(s), 2 visit record(s) stored")
    header = next(line for line in lines if line.startswith("day"))
    assert header.split() == ["day", "decisions", "gpc", "students", "analytics", "marketing", "personalization"]
    today = next(line for line in lines if line.startswith(TODAY.strftime("%Y-%m-%d")))
    assert today.split()[:4] == [TODAY.strftime("%Y-%m-%d"), "3", "1", "1"]
    total = next(line for line in lines if line.startswith("total"))
    assert "1 (25%)" in total


def test_stats_json_for_machines(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "stats", "--store", target, "--json", "--days", "7")
    assert code == 0
    data = json.loads(out)
    assert data["receipts"] == 4 and data["decisions"] == 4
    assert data["gpc_decisions"] == 1 and data["student_decisions"] == 1
    assert data["categories"]["analytics"]["granted"] == 2  # alice today + bob (default grant)
    assert [d["decisions"] for d in data["days"]] == [1, 3]


def test_missing_store_is_a_clear_error_and_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.sqlite3"
    for argv in (["stats"], ["purge"], ["export", "--consent-id", "a"], ["forget", "--tenant", "t"]):
        code, _, err = run(capsys, *argv, "--store", str(missing))
        assert code == 2
        assert f"no privacy log at {missing}" in err
    assert not missing.exists()


def test_default_store_is_the_sqlite_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("consentgate.sqlite3") as store:
        fill(store)
    code, out, _ = run(capsys, "stats", "--json")
    assert code == 0 and json.loads(out)["receipts"] == 4


def test_unreachable_postgres_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from support.postgres import free_port

    code, _, err = run(capsys, "stats", "--store", f"postgresql://postgres:pw@127.0.0.1:{free_port()}/db")
    assert code == 2
    assert "store unreachable" in err and "pw@" not in err


def test_a_file_that_is_not_a_privacy_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n" * 100)
    code, _, err = run(capsys, "stats", "--store", str(path))
    assert code == 2 and "not a database" in err


def test_help_lists_the_log_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("export", "forget", "purge", "stats"):
        assert command in out
