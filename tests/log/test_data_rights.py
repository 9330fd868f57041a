"""The visitor's data rights: see everything (R-VIS-1) and forget it all (R-VIS-2)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from coreapp import client, cookie_from, decide
from markupsafe import escape
from support.records import make_receipt
from test_privacy_log import consent_cookie, log_app, new_log, visit

from consentgate.i18n.catalogs import LANGUAGES, catalog
from consentgate.log.privacy_log import PrivacyLog
from consentgate.log.stores.sqlite import SQLiteStore


def text(language: str) -> Mapping[str, str]:
    """The page's words: the ``my_data.*`` strings of the shared catalogs."""
    return catalog(language).section("my_data.")


@pytest.fixture
def log(tmp_path: Path) -> PrivacyLog:
    return new_log(tmp_path)


def _id(cookie: str, log: PrivacyLog) -> str:
    rows = log.store._read("SELECT DISTINCT consent_id FROM consentgate_receipts")
    assert len(rows) == 1
    return str(rows[0][0])


def test_r_vis_1_json_shows_every_receipt_and_visit(log: PrivacyLog) -> None:
    with client(log_app(log)) as tc:
        cookie = consent_cookie(tc, {"categories": ["analytics"]})
        consent = decide(tc, {"action": "accept_all"}, cookie=cookie)  # the same visitor decides again
        cookie = f"consentgate={cookie_from(consent, 'consentgate')}"
        visit(tc, cookie, "/page?q=private")
        visit(tc, cookie, "/page")
        log.visits.flush()
        data = tc.get("/_consent/my-data", headers={"cookie": cookie, "accept": "application/json"}).json()
        also = tc.get("/_consent/my-data?format=json", headers={"cookie": cookie}).json()
    assert data == also
    assert data["consent_id"] == _id(cookie, log)
    assert sorted(r["method"] for r in data["receipts"]) == ["accept_all", "categories"]
    assert [v["path"] for v in data["visits"]] == ["/page", "/page"]
    assert data["visits"][0]["browser"] == "Chrome"
    assert data["consent"]["granted"] == ["essential", "personalization", "analytics", "marketing"]


def test_my_data_html_page_lists_records_without_any_script(log: PrivacyLog) -> None:
    with client(log_app(log)) as tc:
        cookie = consent_cookie(tc, {"action": "accept_all"})
        visit(tc, cookie, "/page")
        log.visits.flush()
        response = tc.get("/_consent/my-data", headers={"cookie": cookie, "accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert "<script" not in page.lower()
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers either
    assert '<html lang="en" dir="ltr">' in page
    assert _id(cookie, log) in page
    assert "accept_all" in page and "Chrome" in page and "/page" in page
    assert '<form method="post" action="/_consent/forget?lang=en">' in page  # works without JS


@pytest.mark.parametrize(
    ("accept_language", "query", "expected"),
    [
        ("fr-CA,fr;q=0.9,en;q=0.5", "", "fr"),
        ("sv-SE, ar;q=0.8, en;q=0.7", "", "ar"),
        ("ja", "", "ja"),
        ("zh-Hans-CN", "", "zh"),
        ("pt-BR", "", "pt"),
        ("de-CH, en;q=0.5", "", "de"),
        ("sv", "", "en"),
        ("en;q=0.2, es;q=0.9", "", "es"),
        ("en", "lang=fr", "fr"),
        ("en", "lang=pl", "pl"),
        ("en", "lang=xx", "en"),
        ("garbage;q=abc, fr;q=0", "", "en"),
    ],
)
def test_page_language_follows_the_visitor(
    log: PrivacyLog, accept_language: str, query: str, expected: str
) -> None:
    with client(log_app(log)) as tc:
        page = tc.get(f"/_consent/my-data?{query}", headers={"accept-language": accept_language}).text
    assert f'<html lang="{expected}" dir="{catalog(expected).direction}">' in page
    assert str(escape(text(expected)["no_id"])) in page


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_my_data_page_in_the_visitors_language(log: PrivacyLog, language: str) -> None:
    with client(log_app(log)) as tc:
        cookie = consent_cookie(tc, {"action": "deny_all"})
        page = tc.get("/_consent/my-data", headers={"cookie": cookie, "accept-language": language}).text
    assert f'lang="{language}"' in page
    assert f"<title>{escape(text(language)['title'])}</title>" in page
    assert str(escape(text(language)["forget_button"])) in page
    # the category labels are the banner's, in the same language
    assert str(escape(catalog(language)["category.marketing.label"])) in page
    assert ('dir="rtl"' in page) == (language == "ar")


def test_without_a_consent_id_there_is_nothing_to_show(log: PrivacyLog) -> None:
    with client(log_app(log)) as tc:
        data = tc.get("/_consent/my-data?format=json").json()
        page = tc.get("/_consent/my-data").text
    assert data["consent_id"] is None and data["receipts"] == [] and data["visits"] == []
    assert str(escape(text("en")["no_id"])) in page


def test_stored_text_is_escaped_in_the_page(log: PrivacyLog) -> None:
    with client(log_app(log)) as tc:
        cookie = consent_cookie(tc, {"action": "accept_all"})
        consent_id = _id(cookie, log)
        hostile = "/<script>alert(1)</script>"
        log.store._write(
            [
                (
                    "UPDATE consentgate_receipts SET method = ? WHERE consent_id = ?",
                    [('<img src=x onerror="alert(1)">', consent_id)],
                )
            ]
        )
        from support.records import make_visit

        log.store.add_visits([make_visit(consent_id, path=hostile)])
        page = tc.get("/_consent/my-data", headers={"cookie": cookie}).text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_r_vis_2_forget_deletes_everything_and_clears_the_cookie(log: PrivacyLog) -> None:
    with client(log_app(log)) as tc:
        cookie = consent_cookie(tc, {"action": "accept_all"})
        consent_id = _id(cookie, log)
        for _ in range(3):
            visit(tc, cookie, "/page")  # still queued: forget must not let them land afterwards
        log.spool.append([make_receipt(consent_id)])  # one waiting in the spool too
        other = make_receipt("someone-else")
        log.store.add_receipts([other])
        response = tc.post(
            "/_consent/forget",
            headers={"cookie": f"{cookie}; _ga=GA1.1; session=s", "origin": "http://testserver"},
        )
        assert response.status_code == 200
        cleared = response.headers.get_list("set-cookie")
        assert any(c.startswith("consentgate=;") and "Max-Age=0" in c for c in cleared)
        assert any(c.startswith("_ga=;") for c in cleared)  # optional cookies go with it
        assert text("en")["forgotten"].split(":")[0] in response.text
        after = tc.get("/_consent/my-data?format=json", headers={"cookie": cookie}).json()
    assert after["receipts"] == [] and after["visits"] == []
    assert log.store.receipts(consent_id=consent_id) == []
    assert log.store.visits(consent_id=consent_id) == []
    assert log.spool.pending() == []
    assert log.store.counts() == (1, 0)  # nobody else's records were touched


def test_forget_keeps_essential_cookies(log: PrivacyLog) -> None:
    with client(log_app(log)) as tc:
        cookie = consent_cookie(tc, {"action": "accept_all"})
        response = tc.post(
            "/_consent/forget",
            headers={"cookie": f"{cookie}; _ga=GA1.1; session=s", "origin": "http://testserver"},
        )
    cleared = response.headers.get_list("set-cookie")
    assert any(c.startswith("_ga=;") for c in cleared)
    assert not any(c.startswith("session=") for c in cleared)  # signing out is not "forget me"


def test_forget_answers_json_when_asked(log: PrivacyLog) -> None:
    with client(log_app(log)) as tc:
        cookie = consent_cookie(tc, {"action": "accept_all"})
        data = tc.post(
            "/_consent/forget",
            headers={"cookie": cookie, "accept": "application/json", "origin": "http://testserver"},
        ).json()
    assert data == {"forgotten": True, "receipts": 1, "visits": 0}


@pytest.mark.parametrize(
    "headers",
    [{"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"}],
)
def test_cross_site_forget_is_refused_and_deletes_nothing(log: PrivacyLog, headers: dict[str, str]) -> None:
    with client(log_app(log)) as tc:
        cookie = consent_cookie(tc, {"action": "accept_all"})
        response = tc.post("/_consent/forget", headers={"cookie": cookie, **headers})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert log.store.counts()[0] == 1


@pytest.mark.parametrize(("method", "path"), [("GET", "/_consent/forget"), ("POST", "/_consent/my-data")])
def test_wrong_method_is_405(log: PrivacyLog, method: str, path: str) -> None:
    with client(log_app(log)) as tc:
        response = tc.request(method, path, headers={"origin": "http://testserver"})
    assert response.status_code == 405
    assert response.headers["allow"]


def test_other_paths_under_the_prefix_are_not_taken(log: PrivacyLog) -> None:
    with client(log_app(log)) as tc:
        assert tc.get("/_consent/nothing-here").status_code == 404


def test_locked_store_makes_forget_a_503_and_keeps_the_cookie(tmp_path: Path) -> None:
    import sqlite3

    store = SQLiteStore(tmp_path / "log.sqlite3", busy_timeout=0.05)
    log = new_log(tmp_path, store=store)
    with client(log_app(log)) as tc:
        cookie = consent_cookie(tc, {"action": "accept_all"})
        blocker = sqlite3.connect(store.path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            forgot = tc.post("/_consent/forget", headers={"cookie": cookie, "origin": "http://testserver"})
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
    assert forgot.status_code == 503
    assert "set-cookie" not in forgot.headers  # nothing was deleted, so the choice stays
    assert log.store.counts()[0] == 1


def test_unreadable_store_makes_my_data_a_503(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    with client(log_app(log)) as tc:
        cookie = consent_cookie(tc, {"action": "accept_all"})
        log.store.path.write_bytes(b"no longer a database" * 200)  # type: ignore[attr-defined]
        response = tc.get("/_consent/my-data?format=json", headers={"cookie": cookie})
    assert response.status_code == 503
    assert "cannot be reached" in response.json()["error"]


def test_r_vis_1_r_vis_2_two_visitors_see_and_forget_only_their_own(log: PrivacyLog) -> None:
    """Two visitors of one site, their requests interleaved: each one's my-data shows exactly their
    receipts and visits, and one's "forget me" leaves the other's records whole."""
    with client(log_app(log)) as tc:
        tc.cookies.clear()
        ann = consent_cookie(tc, {"action": "accept_all"})
        tc.cookies.clear()
        ben = consent_cookie(tc, {"categories": ["analytics"]})
        tc.cookies.clear()
        ann_id, ben_id = (cookie_from(decide(tc, {"action": "accept_all"}, cookie=c), "consentgate") for c in (ann, ben))
        ann, ben = f"consentgate={ann_id}", f"consentgate={ben_id}"  # second decisions: same ids, new cookies
        for path in ("/page", "/api", "/page"):
            visit(tc, ann, path)
            visit(tc, ben, "/page?who=ben")
        visit(tc, ben, "/page", **{"x-test-student": "1"})  # students may not use analytics here: not kept
        log.visits.flush()

        def mine(cookie: str) -> dict[str, Any]:
            tc.cookies.clear()
            data: dict[str, Any] = tc.get("/_consent/my-data?format=json", headers={"cookie": cookie}).json()
            return data

        ann_data, ben_data = mine(ann), mine(ben)
        assert ann_data["consent_id"] != ben_data["consent_id"]
        for data, methods, visits in (
            (ann_data, ["accept_all", "accept_all"], 2),  # /api is not an HTML page: not a visit
            (ben_data, ["accept_all", "categories"], 3),
        ):
            assert sorted(r["method"] for r in data["receipts"]) == methods
            assert {r["consent_id"] for r in data["receipts"]} == {data["consent_id"]}
            assert len(data["visits"]) == visits
            assert {v["consent_id"] for v in data["visits"]} == {data["consent_id"]}
        assert [v["path"] for v in ben_data["visits"]] == ["/page"] * 3  # no query string
        nobody = tc.get("/_consent/my-data?format=json").json()
        assert (nobody["consent_id"], nobody["receipts"], nobody["visits"]) == (None, [], [])

        tc.cookies.clear()
        forgot = tc.post(
            "/_consent/forget", headers={"cookie": ann, "origin": "http://testserver", "accept": "application/json"}
        ).json()
        assert forgot == {"forgotten": True, "receipts": 2, "visits": 2}
        assert mine(ben) == ben_data  # untouched
        gone = mine(ann)
        assert (gone["receipts"], gone["visits"]) == ([], [])
    assert log.store.counts() == (2, 3)
