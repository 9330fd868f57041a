"""Live discovery of undeclared cookies through the real middleware, on both stores (issue 14,
point 3): names in the app's Set-Cookie and in the browser's Cookie header, folded by family,
counted, first/last seen, one example path — and names only: after traffic with distinctive
cookie values the whole database holds none of them, and no consent id beside a name."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from consentgate import ConsentMiddleware, Policy, PrivacyLog
from consentgate.cookies.database import default_database
from consentgate.cookies.discovery import Folder, clean_path, fold_name
from consentgate.log.cookie_discovery import CookieDiscovery
from consentgate.log.stores.factory import open_store

SECRET = "discovery-secret-0123456789-abcdefghij"
POLICY = """
revision = 1
[categories.essential]
cookies = ["csrftoken"]
[categories.analytics]
cookies = ["_ga"]
[categories.marketing]
cookies = ["_fbp"]
"""
# Distinctive values: finding any of them anywhere in the database would be a leak.
VALUES = {
    "csrftoken": "VALcsrf7f3e19c04b",
    "_ga": "VALga1.1.889900112",
    "cart": "VALcart5a5a5a5a5a",
    "promo_seen": "VALpromoq8q8q8q8",
    "_ga_K3X9": "VALgaMeasure0d0d0d",
    "_hjSessionUser_1234567": "VALhotjar2b2b2b2b",
    "tracker_uid": "VALtracker6c6c6c6c",
    "_fbp": "VALfbp9e9e9e9e9e9",
}
CART = "cart_8f3a9c21d0e4"  # a per-visitor id in the name itself: stored folded, as cart_*


def page(request: Request) -> HTMLResponse:
    response = HTMLResponse("<!doctype html><html><body><p>shop</p></body></html>")
    response.set_cookie("csrftoken", VALUES["csrftoken"])
    response.set_cookie(CART, VALUES["cart"])
    response.set_cookie("promo_seen", VALUES["promo_seen"])
    return response


def api(request: Request) -> JSONResponse:
    response = JSONResponse({"ok": True})
    response.set_cookie("_ga_K3X9", VALUES["_ga_K3X9"])
    return response


def declared_only(request: Request) -> JSONResponse:
    response = JSONResponse({"ok": True})
    response.set_cookie("csrftoken", VALUES["csrftoken"])
    return response


def site(log: PrivacyLog) -> Starlette:
    return Starlette(
        routes=[Route("/shop/{item}", page), Route("/api", api), Route("/plain", declared_only)],
        middleware=[Middleware(ConsentMiddleware, policy=log.policy, secret_key=SECRET, privacy_log=log)],
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "log.sqlite3")
    url: str = request.getfixturevalue("postgres_url")
    return url


def whole_database_text(target: str) -> str:
    """Every byte of the SQLite file (and its WAL), or every row of every PostgreSQL table."""
    if not target.startswith("postgresql://"):
        parts = [Path(target), Path(target + "-wal")]
        return "".join(p.read_bytes().decode("latin-1") for p in parts if p.exists())
    import psycopg

    with psycopg.connect(target) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return "\n".join(str(row) for table in tables for row in conn.execute(f'SELECT * FROM "{table}"'))


def traffic(log: PrivacyLog) -> str:
    """Two visitors' requests; returns the consent cookie's value."""
    with TestClient(site(log)) as tc:
        decision = tc.post("/_consent", json={"action": "accept_all"})
        consent_value = decision.cookies["consentgate"]
        browser_cookies = "; ".join(
            [f"consentgate={consent_value}"]
            + [f"{name}={VALUES[key]}" for name, key in (
                ("csrftoken", "csrftoken"), ("_ga", "_ga"), ("_fbp", "_fbp"),
                ("_hjSessionUser_1234567", "_hjSessionUser_1234567"), ("tracker_uid", "tracker_uid"),
            )]
        )  # fmt: skip
        tc.cookies.clear()
        for item in ("48213", "48213", "shoes"):
            assert tc.get(f"/shop/{item}?coupon=VALquery1234", headers={"cookie": browser_cookies}).status_code == 200
        assert tc.get("/api", headers={"cookie": browser_cookies}).status_code == 200
        assert tc.get("/shop/x", headers={"cookie": "tracker_uid=" + VALUES["tracker_uid"]}).status_code == 200
    return consent_value


def test_undeclared_names_are_found_folded_and_counted_and_nothing_else_is_stored(
    target: str, tmp_path: Path
) -> None:
    policy = Policy.from_toml(POLICY, source="shop.toml")
    log = PrivacyLog(target, policy, flush_interval=0.02, spool_path=tmp_path / "receipts.spool")
    consent_value = traffic(log)  # lifespan shutdown writes what discovery folded
    with open_store(target) as store:
        rows = {(r.name, r.direction): r for r in store.undeclared_cookies()}
        receipts = store._read("SELECT consent_id FROM consentgate_receipts")
    assert set(rows) == {
        ("cart_*", "set-cookie"),
        ("promo_seen", "set-cookie"),
        ("_ga_*", "set-cookie"),
        ("_hjSessionUser_*", "cookie"),
        ("tracker_uid", "cookie"),
    }
    assert rows[("cart_*", "set-cookie")].count == 4  # every /shop page sets it
    assert rows[("_ga_*", "set-cookie")].count == 1
    assert rows[("tracker_uid", "cookie")].count == 5  # every request that carried it
    assert rows[("_hjSessionUser_*", "cookie")].count == 4
    cart = rows[("cart_*", "set-cookie")]
    assert cart.example_path == "/shop/*"  # no query string, the id-like segment masked
    assert cart.first_seen <= cart.last_seen and cart.first_seen.endswith("Z")
    # Names only: no value, no query string, no consent id anywhere in the database.
    text = whole_database_text(target)
    for value in [*VALUES.values(), consent_value, "VALquery1234", CART]:
        assert value not in text, value
    consent_id = receipts[0][0]
    assert consent_id in text  # the receipt holds it, as it must ...
    for row in rows.values():  # ... but no discovery row does
        assert consent_id not in repr(row)


def test_requests_whose_cookies_are_all_declared_note_nothing(tmp_path: Path) -> None:
    target = str(tmp_path / "log.sqlite3")
    log = PrivacyLog(target, Policy.from_toml(POLICY), flush_interval=0.02)
    with TestClient(site(log)) as tc:
        for _ in range(3):
            assert tc.get("/plain", headers={"cookie": f"csrftoken={VALUES['csrftoken']}; _ga=1"}).status_code == 200
        assert log.counters()["undeclared_dropped"] == 0
        tc.get("/plain", headers={"cookie": "csrftoken=a; newcomer=b"})
    with open_store(target) as store:  # the lifespan's shutdown wrote what was noted
        (row,) = store.undeclared_cookies()
    assert (row.name, row.direction, row.count, row.example_path) == ("newcomer", "cookie", 1, "/plain")
    assert row.first_seen == row.last_seen and row.first_seen.endswith("Z")  # a time, nothing else


GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def test_a_crawlers_cookies_are_no_discovery_entry(tmp_path: Path) -> None:
    # Issue 16: nothing is recorded for a crawler, discovery included, in both directions.
    target = str(tmp_path / "log.sqlite3")
    log = PrivacyLog(target, Policy.from_toml(POLICY), flush_interval=0.02)
    with TestClient(site(log)) as tc:
        crawler = {"cookie": "csrftoken=a; crawled=b", "user-agent": GOOGLEBOT}
        assert tc.get("/shop/1", headers=crawler).status_code == 200  # sends cart_* and promo_seen
        assert tc.get("/plain", headers=crawler).status_code == 200  # carries "crawled"
        browser = {"cookie": "csrftoken=a; newcomer=b", "user-agent": FIREFOX}
        assert tc.get("/plain", headers=browser).status_code == 200
    with open_store(target) as store:  # the lifespan's shutdown wrote what was noted
        rows = {(r.name, r.direction) for r in store.undeclared_cookies()}
    assert rows == {("newcomer", "cookie")}


def test_discovery_can_be_turned_off(tmp_path: Path) -> None:
    log = PrivacyLog(str(tmp_path / "log.sqlite3"), Policy.from_toml(POLICY), discover_cookies=False)
    assert log.discovery is None and log.discovery_sink() is None
    TestClient(site(log)).get("/plain", headers={"cookie": "newcomer=b"})
    assert log.counters()["undeclared_dropped"] == 0


def test_folding_names_and_cleaning_paths() -> None:
    db = default_database()
    assert fold_name("_ga_K3X9Q2", db) == "_ga_*"
    assert fold_name("_hjSessionUser_12345", db) == "_hjSessionUser_*"
    assert fold_name("cart_8f3a9c21d0", db) == "cart_*"
    assert fold_name("sess-000123456", db) == "sess-*"
    assert fold_name("wp_x_3a4c1d0e9b7f5a2c", db) == "wp_x_*"
    assert fold_name("8f3a9c21d0aa", db) == "*"
    assert fold_name("theme", db) == "theme"
    assert fold_name("x_2024", db) == "x_2024"  # four digits: a year, not an id
    assert fold_name("deadbeefcafe_name", db) == "deadbeefcafe_name"  # hex words need a digit
    assert clean_path("/students/48213/grades") == "/students/*/grades"
    assert clean_path("/2024/news") == "/2024/news"
    assert clean_path("/r/550e8400-e29b-41d4-a716-446655440000/x?y=1#z") == "/r/*/x"
    assert clean_path("/" + "a" * 500) == "/" + "a" * 199


def test_at_most_max_names_entries_and_the_rest_counted(tmp_path: Path) -> None:
    folder = Folder(max_names=3)
    folder.add([("cookie", (f"name{i}",), "/", 1.0) for i in range(5)])
    folder.add([("cookie", ("name0",), "/", 2.0)])  # a known one still counts
    assert len(folder.pending) == 3 and folder.dropped == 2
    assert folder.pending[("name0", "cookie")].count == 2
    # The bound holds across a restart: what the store has counts.
    store = open_store(str(tmp_path / "log.sqlite3"))
    discovery = CookieDiscovery(store, max_names=3)
    discovery.queue.extend(("set-cookie", (f"a{i}",), "/", 1.0) for i in range(2))
    discovery.flush()
    again = CookieDiscovery(store, max_names=3)
    again.queue.extend(("set-cookie", (f"b{i}",), "/", 2.0) for i in range(3))
    again.queue.append(("set-cookie", ("a0",), "/late", 3.0))
    again.flush()
    rows = {(r.name, r.count, r.first_seen, r.example_path) for r in store.undeclared_cookies()}
    assert {r[0] for r in rows} == {"a0", "a1", "b0"} and again.folder.dropped == 2
    assert ("a0", 2, "1970-01-01T00:00:01Z", "/") in rows  # counts add up, the first path stays


def test_a_full_queue_drops_and_counts(tmp_path: Path) -> None:
    log = PrivacyLog(str(tmp_path / "log.sqlite3"), Policy.from_toml(POLICY))
    assert log.discovery is not None
    log.discovery.queue_size = 2
    tc = TestClient(site(log))
    for _ in range(4):
        tc.get("/plain", headers={"cookie": "newcomer=b"})
    assert len(log.discovery.queue) == 2 and log.counters()["undeclared_dropped"] == 2
