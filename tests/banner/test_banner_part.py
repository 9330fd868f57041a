"""The page of a visitor whose choice is current, and the banner's part it fetches when needed:
``GET /_consent/dialog`` (the dialog, the placeholder's template, the policy's data)."""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import re
from typing import Any

import pytest
from coreapp import client
from hypothesis import given
from hypothesis import strategies as st
from support.banner_app import POLICY_TOML, build_site, make_policy

from consentgate import ConsentMiddleware, Decision
from consentgate.banner.banner import _js_regex
from consentgate.i18n.catalogs import LANGUAGES, catalog

ORIGIN = {"origin": "http://testserver"}
#: The banner's markup in a decided visitor's page, in any built-in language (English: 1.1 KB).
DECIDED_BOUND = 1300


def banner_of(page: str) -> str:
    """The banner's markup: from its stylesheet to the end of its root."""
    start = page.index('<link rel="stylesheet" href="/_consent/')
    return page[start : page.rindex("</body>")]


def decided(app: Any = None, *, language: str = "en", **body: Any) -> Any:
    """A client whose visitor has chosen (accept all unless ``body`` says otherwise)."""
    tc = client(app or build_site())
    answer = tc.post(
        "/_consent", json=body or {"action": "accept_all"}, headers={**ORIGIN, "accept-language": language}
    )
    assert answer.status_code == 200
    return tc


def config_of(page: str) -> dict[str, Any]:
    match = re.search(r'data-consentgate="config">(.*?)</script>', page, re.S)
    assert match is not None
    return dict(json.loads(match.group(1)))


def middleware_of(app: Any) -> ConsentMiddleware:
    if app.middleware_stack is None:
        app.middleware_stack = app.build_middleware_stack()
    found = app.middleware_stack
    while not isinstance(found, ConsentMiddleware):
        found = found.app
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_decided_visitors_page_carries_the_reopen_control_and_the_state_only(language: str) -> None:
    page = decided(language=language).get("/", headers={"accept-language": language}).text
    banner = banner_of(page)
    assert len(banner.encode()) <= DECIDED_BOUND, len(banner.encode())
    words = catalog(language)
    assert f'data-consentgate="open" aria-haspopup="dialog" hidden>{words["button.open"]}</button>' in banner
    assert 'data-consentgate="status" role="status"' in banner
    assert re.search(r'<script type="module" src="/_consent/static/[0-9a-f]{16}/consentgate.js">', banner)
    for absent in ('data-consentgate="notice"', "<dialog", "<template", 'data-consentgate="policy"'):
        assert absent not in banner
    assert words["dialog.intro"] not in html.unescape(banner)
    config = config_of(page)
    assert config["needs_choice"] is False
    assert config["granted"] == ["essential", "personalization", "analytics", "marketing"]
    assert config["part"].startswith(f"/_consent/dialog?lang={language}&v=")


def test_the_decided_page_does_not_grow_with_the_policys_cookie_declaration() -> None:
    cookies = ", ".join(f'"c{i}_*"' for i in range(40))
    big = make_policy(
        POLICY_TOML.replace('cookies = ["_ga", "_ga_*"]', f'cookies = ["_ga", "_ga_*", {cookies}]')
        + '\n[categories.analytics.description]\nen = "' + "Counts visits to improve the pages. " * 30 + '"\n'
    )
    small_page = banner_of(decided().get("/").text)
    big_tc = decided(build_site(big))
    big_page = banner_of(big_tc.get("/").text)
    assert len(big_page) == len(small_page)  # only the part's digest differs
    small_tc = decided()
    small_part = small_tc.get(config_of(small_tc.get("/").text)["part"]).content
    big_part = big_tc.get(config_of(big_tc.get("/").text)["part"]).content
    assert len(big_part) > len(small_part) + 3000  # the declaration is there, fetched when needed


def test_the_part_is_served_in_the_pages_language_and_cacheable() -> None:
    tc = decided(language="ar")
    url = config_of(tc.get("/", headers={"accept-language": "ar"}).text)["part"]
    response = tc.get(url, headers={"accept-encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in response.headers
    part = response.text
    ar = catalog("ar")
    text = html.unescape(part)
    for key in ("dialog.title", "dialog.intro", "button.save", "button.deny_all", "embed.blocked"):
        assert ar[key] in text
    assert catalog("en")["dialog.intro"] not in text
    assert 'class="cg-ph" lang="ar" dir="rtl"' in part
    # the dialog as a first visit has it: named, one checkbox per optional category, the declaration
    dialog = re.search(r"<dialog ([^>]*)>", part)
    assert dialog is not None and 'aria-labelledby="cg-dialog-title"' in dialog.group(1)
    assert 'id="cg-dialog-title"' in part
    boxes = re.findall(r'<input type="checkbox" id="cg-c-(\w+)"', part)
    assert boxes == ["personalization", "analytics", "marketing"]
    assert "<code>_ga_*</code>" in part  # the cookie declaration (issue 14) in the dialog
    assert response.headers["etag"] == f'"{url.rsplit("v=", 1)[1]}"'


def test_the_part_is_gzipped_revalidated_and_get_only() -> None:
    tc = decided()
    url = config_of(tc.get("/").text)["part"]
    plain = tc.get(url, headers={"accept-encoding": "identity"})
    zipped = client(build_site()).get(url, headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # the test client decodes it
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2
    again = tc.get(url, headers={"if-none-match": plain.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert tc.head(url).status_code == 200
    refused = tc.post(url, headers=ORIGIN)
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"


def test_a_part_asked_for_without_the_pages_url_is_not_kept() -> None:
    """Without ``lang`` and the current digest (an old page, a hand-made request): the current
    part in the request's language, revalidated each time."""
    tc = client(build_site())
    french = tc.get("/_consent/dialog", headers={"accept-language": "fr"})
    assert french.status_code == 200
    assert catalog("fr")["dialog.intro"] in html.unescape(french.text)
    assert french.headers["cache-control"] == "no-cache"
    assert french.headers["vary"] == "Accept-Encoding, Accept-Language, Cookie"
    stale = tc.get("/_consent/dialog?lang=fr&v=0000000000000000")
    assert stale.headers["cache-control"] == "no-cache"
    assert stale.content == french.content


def test_the_part_holds_nothing_of_the_visitor() -> None:
    """The same bytes for a new visitor, a decided one, a student and one sending GPC: the
    script applies ticks, locks and notes."""
    bodies = {
        client(build_site()).get("/_consent/dialog?lang=en").content,
        decided().get("/_consent/dialog?lang=en").content,
        decided(categories=["analytics"]).get("/_consent/dialog?lang=en").content,
        client(build_site()).get("/_consent/dialog?lang=en", headers={"cookie": "session=student"}).content,
        client(build_site()).get("/_consent/dialog?lang=en", headers={"sec-gpc": "1"}).content,
    }
    assert len(bodies) == 1
    part = bodies.pop().decode()
    assert " checked" not in part and " disabled" not in part
    assert not re.search(r"[0-9a-f]{32}", part)  # no consent id


@pytest.mark.parametrize("language", ["en", "ar"])
def test_a_first_visit_carries_the_same_part_inline(language: str) -> None:
    tc = client(build_site())
    page = tc.get("/", headers={"accept-language": language}).text
    part = tc.get(f"/_consent/dialog?lang={language}").text
    assert part in page
    assert 'data-consentgate="notice"' in page and "part" not in config_of(page)


def test_the_notice_hash_is_that_of_the_text_a_decided_visitor_is_shown() -> None:
    """R-CON-9: a decided visitor sees the dialog from the part; a decision made there records
    the hash of the notice in that language, whose every line the part and first layer show."""
    decisions: list[Decision] = []
    app = build_site(on_decision=decisions.append)
    tc = decided(app, language="ja")
    banner = middleware_of(app).banner
    first_layer = html.unescape(client(app).get("/", headers={"accept-language": "ja"}).text)
    part = html.unescape(tc.get(config_of(tc.get("/", headers={"accept-language": "ja"}).text)["part"]).text)
    text = banner.notice_text("ja")
    for line in text.split("\n"):
        assert line in first_layer
        if line not in (catalog("ja")["banner.title"], catalog("ja")["banner.text"]):
            assert line in part  # the dialog's texts, as the decided visitor reads them
    tc.post("/_consent", json={"action": "deny_all", "language": "ja", "method": "dialog:deny-all"}, headers=ORIGIN)
    assert decisions[-1].notice_hash == hashlib.sha256(text.encode()).hexdigest() == banner.notice_hash("ja")


def test_the_cookie_declaration_endpoint_still_answers() -> None:
    response = decided().get("/_consent/cookies", headers={"accept": "application/json"})
    assert response.status_code == 200
    analytics = next(c for c in response.json()["categories"] if c["name"] == "analytics")
    assert [c["name"] for c in analytics["cookies"]] == ["_ga", "_ga_*"]


GLOB = st.text(alphabet="ab._-$()[]+?^|*\\/", min_size=1, max_size=8).filter(
    lambda g: g.replace("*", "") and "**" not in g
)


@given(GLOB, st.text(alphabet="ab._-$()[]+?^|\\/x", max_size=10))
def test_patterns_reach_the_script_as_anchored_regular_expressions(glob: str, name: str) -> None:
    """The script deletes withdrawn cookies and storage by these (``*``: any run of characters);
    the source is written for JavaScript and reads the same in Python's ``re``."""
    expected = re.fullmatch(".*".join(map(re.escape, glob.split("*"))), name) is not None
    assert (re.search(_js_regex(glob), name) is not None) == expected


def test_gzip_of_the_part_is_made_once() -> None:
    app = build_site()
    client(app).get("/")
    part = middleware_of(app).banner.part("en")
    assert gzip.decompress(part.gzipped) == part.body
    assert middleware_of(app).banner.part("en") is part


def test_the_part_needs_no_nonce_and_no_inline_style() -> None:
    """The part is cached for a year, so it cannot carry a response's nonce, and needs none: its
    only script is JSON data (never run), it has no style attribute, and under the consent-aware
    CSP the page's nonce and the part's bytes are independent."""
    app = build_site(make_policy(), csp="enforce")
    plain = client(app).get("/_consent/dialog?lang=en").content  # no cookie, no page, no nonce
    tc = decided(app)
    page = tc.get("/")
    assert "'nonce-" in page.headers["content-security-policy"]
    part = tc.get(config_of(page.text)["part"])
    assert part.content == plain
    text = part.text
    assert re.findall(r"<script[^>]*>", text) == ['<script type="application/json" data-consentgate="policy">']
    assert " style=" not in text and "nonce" not in text
    assert not re.search(r"<[^>]*\son[a-z]+=", text)  # no inline event handler
