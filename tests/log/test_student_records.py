"""R-STU-4: no behavioural profile of students. A student's records carry no identifier beyond the
random consent id (nothing links two sessions), and the school can have all of them deleted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from coreapp import POLICY_TOML, client, cookie_from, decide, make_policy
from test_privacy_log import log_app, new_log, visit, wait_for

from consentgate.log.stores.schema import VISIT_COLUMNS

# The core policy denies analytics to all students; this school's students may be measured.
POLICY = make_policy(POLICY_TOML.replace('deny = ["analytics"]', "deny = []"))
STUDENT = {"x-test-student": "1", "x-test-tenant": "lincoln-high"}


def test_r_stu_4_student_records_hold_only_a_per_session_consent_id_and_go_with_the_school(
    tmp_path: Path,
) -> None:
    """R-STU-4 / R-STU-2: two sessions of the same student are two unrelated consent ids; the rows
    hold no raw address, user agent or account; forgetting the tenant removes everything."""
    log = new_log(tmp_path, POLICY)
    ids = []
    with client(log_app(log, POLICY)) as tc:
        for _ in range(2):  # the same person, two sessions (cookies cleared in between)
            tc.cookies.clear()
            response = decide(tc, {"action": "accept_all"}, **STUDENT)
            cookie = f"consentgate={cookie_from(response, 'consentgate')}"
            ids.append(response.json()["consent"]["consent_id"])
            assert visit(tc, cookie, **STUDENT).status_code == 200
        wait_for(lambda: log.store.counts()[1] == 2)
        # A teacher at another school, for contrast: untouched by the school's deletion.
        tc.cookies.clear()
        teacher = decide(tc, {"action": "accept_all"}, **{"x-test-tenant": "roosevelt"})
        visit(tc, f"consentgate={cookie_from(teacher, 'consentgate')}", **{"x-test-tenant": "roosevelt"})
        wait_for(lambda: log.store.counts()[1] == 3)
    assert ids[0] != ids[1]  # nothing carries over from one session to the next
    visits = log.store.visits(tenant="lincoln-high")
    assert {v["consent_id"] for v in visits} == set(ids)
    assert all(v["is_student"] for v in visits)
    assert set(visits[0]) == set(VISIT_COLUMNS)  # the whole record: no other identifier exists
    assert all(v["ip_prefix"] in (None, "127.0.0.0") for v in visits)
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("log.sqlite3*"))
    assert b"Chrome/" not in raw
    assert b"search.example/find" not in raw
    deleted = log.store.forget(tenant="lincoln-high")
    assert deleted.visits == 2
    assert deleted.receipts == 2
    assert log.store.visits(tenant="lincoln-high") == []
    assert log.store.receipts(tenant="lincoln-high") == []
    assert len(log.store.visits(tenant="roosevelt")) == 1
    with sqlite3.connect(tmp_path / "log.sqlite3") as db:
        assert db.execute("select count(*) from consentgate_receipts where tenant = 'lincoln-high'").fetchone() == (0,)
