"""The privacy log through the real middleware: receipts, visits only as consent allows, outages.

Every test drives ``ConsentMiddleware(..., privacy_log=PrivacyLog(...))`` with Starlette's
TestClient used as a context manager, so the lifespan starts and flushes the log.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from coreapp import POLICY_TOML, SECRET, client, cookie_from, decide, make_policy
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Scope
from support.readonly import unwritable
from support.stores import receipt_consent_ids

from consentgate import ConsentMiddleware, Policy
from consentgate.log.privacy_log import PrivacyLog

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


def _page(request: Request) -> Response:
    return HTMLResponse("<p>page</p>")


def _api(request: Request) -> Response:
    return JSONResponse({"ok": True})


def _missing(request: Request) -> Response:
    return HTMLResponse("<p>gone</p>", status_code=404)


def _header_student(scope: Scope) -> bool:
    return any(k == b"x-test-student" and v == b"1" for k, v in scope["headers"])


def _header_tenant(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"x-test-tenant":
            return value.decode()
    return None


def log_app(log: PrivacyLog, policy: Policy | None = None) -> Starlette:
    """A small site behind the middleware with ``log``; ``x-test-student: 1`` and
    ``x-test-tenant: T`` request headers make student sessions and tenants."""
    return Starlette(
        routes=[
            Route("/page", _page),
            Route("/page", _page, methods=["POST"], name="post_page"),
            Route("/api", _api),
            Route("/missing", _missing),
        ],
        middleware=[
            Middleware(
                ConsentMiddleware,
                policy=policy or log.policy,
                secret_key=SECRET,
                privacy_log=log,
                decision_rate_limit=None,
                student_resolver=_header_student,
                tenant_resolver=_header_tenant,
            )
        ],
    )


def new_log(tmp_path: Path, policy: Policy | None = None, **options: Any) -> PrivacyLog:
    options.setdefault("flush_interval", 0.02)
    options.setdefault("retry_interval", 0.1)
    store = options.pop("store", str(tmp_path / "log.sqlite3"))
    return PrivacyLog(store, policy or make_policy(), **options)


def consent_cookie(tc: Any, body: dict[str, Any], **headers: str) -> str:
    response = decide(tc, body, **headers)
    assert response.status_code == 200, response.text
    return f"consentgate={cookie_from(response, 'consentgate')}"


def fresh_decision(tc: Any, body: dict[str, Any]) -> Any:
    """A decision from a new visitor (the test client's cookie jar is emptied first)."""
    tc.cookies.clear()
    response = decide(tc, body)
    assert response.status_code == 200, response.text
    return response


def visit(tc: Any, cookie: str | None, path: str = "/page", **headers: str) -> Any:
    sent = {"user-agent": CHROME, "referer": "https://search.example/find?q=me"}
    if cookie:
        sent["cookie"] = cookie
    sent.update(headers)
    return tc.get(path, headers=sent)


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


# -- receipts ---------------------------------------------------------------------------------


def test_r_con_9_receipt_is_committed_before_the_answer(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    with client(log_app(log)) as tc:
        response = decide(tc, {"categories": ["analytics"], "method": "banner:save", "language": "fr"})
        consent_id = response.json()["consent"]["consent_id"]
        (receipt,) = log.store.receipts(consent_id=consent_id)  # already there: no flush needed
    assert receipt.method == "banner:save"
    assert receipt.granted == ("analytics",)
    assert receipt.refused == ("marketing", "personalization")
    assert receipt.language == "fr"
    assert receipt.policy_revision == 3
    assert len(receipt.notice_hash) == 64
    assert receipt.expires_at is not None


def test_gpc_limited_outcome_is_recorded_with_its_reason(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    with client(log_app(log)) as tc:
        consent_id = decide(tc, {"action": "accept_all"}, **{"sec-gpc": "1"}).json()["consent"]["consent_id"]
    (receipt,) = log.store.receipts(consent_id=consent_id)
    assert receipt.gpc and receipt.limited
    assert dict(receipt.limited_by) == {"marketing": "gpc"}
    assert "marketing" in receipt.refused and "marketing" in receipt.requested


def test_student_decision_is_recorded_with_tenant_and_ceiling(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    with client(log_app(log)) as tc:
        data = decide(
            tc, {"action": "accept_all"}, **{"x-test-student": "1", "x-test-tenant": "lincoln-high"}
        ).json()
    (receipt,) = log.store.receipts(consent_id=data["consent"]["consent_id"])
    assert receipt.is_student and receipt.tenant == "lincoln-high"
    assert receipt.granted == ()  # marketing + analytics (students) + personalization (tenant) denied
    assert dict(receipt.limited_by) == {
        "analytics": "student",
        "marketing": "student",
        "personalization": "student",
    }


# -- visits only as consent allows (R-MIN-1) -------------------------------------------------


@pytest.mark.parametrize(
    ("decision", "headers", "recorded"),
    [
        ({"action": "accept_all"}, {}, True),
        ({"categories": ["analytics"]}, {}, True),
        ({"action": "accept_all"}, {"sec-gpc": "1"}, True),  # GPC denies marketing, not analytics
        ({"action": "deny_all"}, {}, False),
        ({"categories": ["personalization", "marketing"]}, {}, False),
        ({"action": "accept_all"}, {"x-test-student": "1"}, False),  # policy denies students analytics
        (None, {}, False),  # no decision yet: nothing, not even a counter
    ],
)
def test_r_min_1_visits_only_when_the_category_is_allowed(
    tmp_path: Path, decision: dict[str, Any] | None, headers: dict[str, str], recorded: bool
) -> None:
    log = new_log(tmp_path)
    with client(log_app(log)) as tc:
        cookie = consent_cookie(tc, decision, **headers) if decision else None
        for _ in range(3):
            assert visit(tc, cookie, **headers).status_code == 200
    receipts, visits = log.store.counts()
    assert visits == (3 if recorded else 0)
    assert receipts == (1 if decision else 0)


STUDENT_POLICY = POLICY_TOML.replace('[students]\ndeny = ["analytics"]', '[students]\ndeny = []') + (
    '\n[tenants.strict-school]\nstudent_deny = ["analytics"]\n'
)


@pytest.mark.parametrize(
    ("tenant", "visits_students", "recorded"),
    [("open-school", True, True), ("strict-school", True, False), ("open-school", False, False)],
)
def test_students_recorded_only_when_policy_and_tenant_allow(
    tmp_path: Path, tenant: str, visits_students: bool, recorded: bool
) -> None:
    text = STUDENT_POLICY + f"\n[visits]\nstudents = {'true' if visits_students else 'false'}\n"
    policy = Policy.from_toml(text, source="students.toml")
    log = new_log(tmp_path, policy)
    student = {"x-test-student": "1", "x-test-tenant": tenant}
    with client(log_app(log)) as tc:
        cookie = consent_cookie(tc, {"categories": ["analytics"]}, **student)
        visit(tc, cookie, **student)
    visits = log.store.visits(tenant=tenant)
    assert len(visits) == (1 if recorded else 0)
    if recorded:
        assert visits[0]["is_student"] is True


def test_visit_category_comes_from_the_policy(tmp_path: Path) -> None:
    policy = Policy.from_toml(POLICY_TOML + '\n[visits]\ncategory = "personalization"\n', source="p.toml")
    log = new_log(tmp_path, policy)
    with client(log_app(log)) as tc:
        visit(tc, consent_cookie(tc, {"categories": ["analytics"]}))
        visit(tc, consent_cookie(tc, {"categories": ["personalization"]}))
    assert log.store.counts()[1] == 1


def test_default_counts_successful_html_gets_only(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    with client(log_app(log)) as tc:
        cookie = consent_cookie(tc, {"action": "accept_all"})
        visit(tc, cookie, "/page?utm_source=mail")
        visit(tc, cookie, "/api")  # JSON
        visit(tc, cookie, "/missing")  # 404
        tc.post("/page", headers={"cookie": cookie})  # not a GET
        tc.get("/_consent", headers={"cookie": cookie})  # the consent API itself
    assert log.store._read("SELECT path FROM consentgate_all_visits") == [("/page",)]


def test_a_page_whose_request_headers_the_app_garbled_is_served_and_not_recorded(tmp_path: Path) -> None:
    log = new_log(tmp_path)

    class Garbling:  # a broken middleware inside ConsentMiddleware
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                scope["headers"] = [b"not a header pair"]
            await self.app(scope, receive, send)

    app = Starlette(
        routes=[Route("/page", _page)],
        middleware=[
            # (banner off: the page hook reads the request headers too, and fails on these)
            Middleware(ConsentMiddleware, policy=log.policy, secret_key=SECRET, privacy_log=log, banner=False),
            Middleware(Garbling),
        ],
    )
    with client(app) as tc:
        cookie = consent_cookie(tc, {"action": "accept_all"})
        response = tc.get("/page", headers={"cookie": cookie})
        assert response.status_code == 200 and "<p>page</p>" in response.text
    assert log.store.counts()[1] == 0
    assert log.counters()["visits_dropped"] == 1


def all_consent_ids(log: PrivacyLog) -> list[str]:
    return sorted(receipt_consent_ids(log.store))


def test_custom_count_predicate(tmp_path: Path) -> None:
    def api_only(scope: Scope, status: int, headers: Any) -> bool:
        return bool(scope["path"].startswith("/api"))

    log = new_log(tmp_path, count=api_only)
    with client(log_app(log)) as tc:
        cookie = consent_cookie(tc, {"action": "accept_all"})
        visit(tc, cookie, "/page")
        visit(tc, cookie, "/api?secret=1")
    (only,) = log.store._read("SELECT path FROM consentgate_all_visits")
    assert only == ("/api",)


def test_lifespan_shutdown_writes_everything_queued(tmp_path: Path) -> None:
    log = new_log(tmp_path, flush_interval=60.0, batch_size=10_000)  # the writer would wait a minute
    with client(log_app(log)) as tc:
        cookie = consent_cookie(tc, {"action": "accept_all"})
        for _ in range(200):
            visit(tc, cookie)
        assert log.store.counts()[1] == 0  # still queued
    assert log.store.counts()[1] == 200
    assert log.counters()["visits_dropped"] == 0


def test_overflow_is_dropped_and_counted_and_requests_still_answer(tmp_path: Path) -> None:
    log = new_log(tmp_path, queue_size=5, flush_interval=60.0, batch_size=10_000)
    with client(log_app(log)) as tc:
        cookie = consent_cookie(tc, {"action": "accept_all"})
        statuses = {visit(tc, cookie).status_code for _ in range(12)}
    assert statuses == {200}
    assert log.counters()["visits_dropped"] == 7
    assert log.store.counts()[1] == 5


def test_r_min_7_trusted_proxy_address_is_used(tmp_path: Path) -> None:
    log = new_log(tmp_path, trusted_proxies=["10.0.0.0/8"])
    with client(log_app(log), client=("10.9.8.7", 5555)) as tc:
        cookie = consent_cookie(tc, {"action": "accept_all"})
        visit(tc, cookie, **{"x-forwarded-for": "2001:db8:abcd:12:1:2:3:4"})
    (row,) = log.store._read("SELECT ip_prefix FROM consentgate_all_visits")
    assert row == ("2001:db8:abcd::",)


# -- outages: every acknowledged receipt ends up in the store ---------------------------------


def test_sqlite_read_only_file_spools_then_replays_everything(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "consentgate")
    log = new_log(tmp_path)
    acknowledged: list[str] = []
    with client(log_app(log)) as tc:
        for _ in range(3):
            acknowledged.append(fresh_decision(tc, {"action": "accept_all"}).json()["consent"]["consent_id"])
        with unwritable(log.store.path):  # type: ignore[attr-defined]
            for i in range(10):
                response = fresh_decision(tc, {"categories": ["analytics"] if i % 2 else []})
                assert "consentgate=" in response.headers["set-cookie"]  # the choice is honoured
                acknowledged.append(response.json()["consent"]["consent_id"])
                visit(tc, f"consentgate={cookie_from(response, 'consentgate')}")
            assert len(log.spool.pending()) == 10
            assert log.store.counts()[0] == 3
        wait_for(lambda: not log.spool.has_pending())
    assert len(set(acknowledged)) == 13
    assert all_consent_ids(log) == sorted(acknowledged)
    assert "privacy log store is unavailable" in caplog.text
    assert "readonly database" in caplog.text
    assert "privacy log store is back" in caplog.text
    assert "10 spooled receipt(s) copied into the store" in caplog.text
    assert log.store.counts()[1] == 5  # the visits waited in memory and were written too


@pytest.mark.postgres
def test_postgres_outage_spools_then_replays_everything(
    tmp_path: Path, postgres_server: Any, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "consentgate")
    log = PrivacyLog(
        postgres_url,
        make_policy(),
        spool_path=tmp_path / "receipts.spool",
        flush_interval=0.02,
        retry_interval=0.1,
    )
    acknowledged: list[str] = []
    with client(log_app(log)) as tc:
        for _ in range(5):
            acknowledged.append(fresh_decision(tc, {"action": "accept_all"}).json()["consent"]["consent_id"])
        postgres_server.stop()
        try:
            for _ in range(20):
                response = fresh_decision(tc, {"action": "deny_all"})
                assert "consentgate=" in response.headers["set-cookie"]
                acknowledged.append(response.json()["consent"]["consent_id"])
            assert len(log.spool.pending()) == 20
        finally:
            postgres_server.start()
        wait_for(lambda: not log.spool.has_pending())
        receipts, _ = log.store.counts()
    assert receipts == 25 and len(set(acknowledged)) == 25
    assert all_consent_ids(log) == sorted(acknowledged)
    assert "privacy log store is unavailable" in caplog.text
    log.store.close()


def crash_app() -> Starlette:
    """App factory for the kill -9 test (uvicorn --factory in a child process)."""
    log = PrivacyLog(os.environ["CG_STORE"], make_policy(), retry_interval=0.1)
    return log_app(log)


def test_spooled_receipts_survive_kill_9_and_replay_at_next_start(tmp_path: Path) -> None:
    from support.live_server import ServerProcess

    store_path = tmp_path / "log.sqlite3"
    here = Path(__file__).resolve()
    env = {
        "CG_STORE": str(store_path),
        "PYTHONPATH": os.pathsep.join([str(here.parent), str(here.parents[1]), os.environ.get("PYTHONPATH", "")]),
    }
    PrivacyLog(str(store_path), make_policy()).store.migrate()
    acknowledged: list[str] = []
    with unwritable(store_path):
        server = ServerProcess("test_privacy_log:crash_app", factory=True, env=env, cwd=tmp_path)
        base = server.start()
        try:
            with httpx.Client(base_url=base) as http:
                for _ in range(8):
                    http.cookies.clear()  # a new visitor each time
                    response = http.post("/_consent", json={"action": "accept_all"}, headers={"origin": base})
                    assert response.status_code == 200
                    acknowledged.append(response.json()["consent"]["consent_id"])
        finally:
            server.kill()  # SIGKILL: no shutdown, no flush
    assert Path(str(store_path) + ".spool").exists()
    server = ServerProcess("test_privacy_log:crash_app", factory=True, env=env, cwd=tmp_path)
    server.start()  # startup replays the spool left behind
    try:
        from consentgate.log.stores.factory import open_store

        store = open_store(str(store_path))
        wait_for(lambda: store.counts()[0] == 8)
    finally:
        server.stop()
    assert len(set(acknowledged)) == 8
    stored = sorted(r.consent_id for consent in acknowledged for r in store.receipts(consent_id=consent))
    assert stored == sorted(acknowledged)
