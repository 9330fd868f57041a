"""The banner's server-rendered HTML: hooks, languages, locks, notice hash, manual placement."""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from coreapp import client
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from support.banner_app import SECRET, build_site, make_policy

from consentgate import ConsentMiddleware, Decision
from consentgate._files import package_dir
from consentgate.banner.banner import consentgate_banner
from consentgate.i18n.catalogs import LANGUAGES, catalog

ROOT = re.compile(r'<div class="cg" data-consentgate="banner"[^>]*>')


def get_page(tc: Any, path: str = "/", **headers: str) -> str:
    response = tc.get(path, headers=headers)
    assert response.status_code == 200
    return str(response.text)


def config_of(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" data-consentgate="config">(.*?)</script>', page, re.S)
    assert match is not None
    return dict(json.loads(match.group(1)))


def test_hooks_the_audit_and_plugin_rely_on() -> None:
    page = get_page(client(build_site()))
    assert len(ROOT.findall(page)) == 1
    for action in ("deny-all", "accept-all", "preferences", "save", "close", "retry"):
        assert f'data-consentgate="{action}"' in page
    # deny-all and accept-all exist in the first layer and in the dialog
    assert page.count('data-consentgate="deny-all"') == 2
    assert page.count('data-consentgate="accept-all"') == 2
    dialog = re.search(r"<dialog ([^>]*)>", page)
    assert dialog is not None
    assert 'data-consentgate="dialog"' in dialog.group(1) and 'role="dialog"' in dialog.group(1)
    labelled_by = re.search(r'aria-labelledby="([^"]+)"', dialog.group(1))
    assert labelled_by is not None and f'id="{labelled_by.group(1)}"' in page
    assert re.search(r'data-consentgate="status" role="status" aria-live="polite"', page)
    assert re.search(r'<button type="button" class="cg-open" data-consentgate="open"', page)
    for name in ("personalization", "analytics", "marketing"):
        assert re.search(rf'<input type="checkbox" id="cg-c-{name}" data-consentgate-category="{name}"', page)


def test_r_con_2_first_layer_buttons_are_the_same_element_and_class() -> None:
    page = get_page(client(build_site()))
    layer = page.split('data-consentgate="notice"', 1)[1].split("</section>", 1)[0]
    buttons = re.findall(
        r"<(\w+) ([^>]*data-consentgate=\"(?:deny-all|accept-all|preferences)\"[^>]*)>", layer
    )
    assert [tag for tag, _ in buttons] == ["button", "button", "button"]
    classes = {re.search(r'class="([^"]+)"', attrs).group(1) for _, attrs in buttons}  # type: ignore[union-attr]
    assert classes == {"cg-btn"}


def test_r_con_3_no_optional_category_starts_ticked() -> None:
    page = get_page(client(build_site()))
    boxes = re.findall(r"<input [^>]*data-consentgate-category[^>]*>", page)
    assert len(boxes) == 3
    assert not any(" checked" in box for box in boxes)
    assert 'data-consentgate-category="essential"' not in page  # essential is shown as always on, no toggle
    assert catalog("en")["category.always_on"] in page


def test_r_con_3_returning_visitor_sees_their_choice() -> None:
    """A decided visitor's page carries no first layer and no dialog, but the choice the script
    ticks in the dialog when it opens (tests/banner/test_banner_part_e2e.py shows it ticked)."""
    tc = client(build_site())
    tc.post("/_consent", json={"categories": ["analytics"]}, headers={"origin": "http://testserver"})
    page = get_page(tc)
    assert 'data-consentgate="notice"' not in page  # no first layer once decided
    assert "<dialog" not in page and "data-consentgate-category" not in page
    config = config_of(page)
    assert config["needs_choice"] is False
    assert config["granted"] == ["essential", "analytics"]
    assert config["part"].startswith("/_consent/dialog?lang=en&v=")


@pytest.mark.parametrize("language", LANGUAGES)
def test_only_the_chosen_language_is_sent(language: str) -> None:
    page = get_page(client(build_site()), **{"accept-language": language})
    root = ROOT.search(page)
    assert root is not None
    direction = "rtl" if language == "ar" else "ltr"
    assert f'lang="{language}" dir="{direction}"' in root.group(0)
    text = html.unescape(page)
    mine = catalog(language)
    for key in ("banner.title", "banner.text", "button.deny_all", "button.accept_all", "dialog.title"):
        assert mine[key] in text
    for other in LANGUAGES:
        if other == language:
            continue
        for key in ("banner.title", "button.deny_all", "button.save", "dialog.intro"):
            assert catalog(other)[key] not in text, (other, key)


def test_assets_carry_no_strings_of_any_language() -> None:
    static = package_dir("static")
    code = (static / "consentgate.js").read_text() + (static / "consentgate.css").read_text()
    for language in LANGUAGES:
        for key, value in catalog(language).items():
            if key.startswith(("banner.", "button.", "dialog.", "status.", "category.")) and len(value) > 6:
                assert value not in code, (language, key)


def part_of(page: str) -> str:
    match = re.search(r'<script type="application/json" data-consentgate="policy">.*</template>', page, re.S)
    assert match is not None
    return match.group(0)


def test_student_session_locks_marketing_with_a_reason() -> None:
    """The first layer says so; the dialog (the same for everyone) gets the lock from the state."""
    page = get_page(client(build_site()), cookie="session=student")
    notice = page.split('data-consentgate="notice"', 1)[1].split("</section>", 1)[0]
    assert catalog("en")["banner.student"] in html.unescape(notice)
    assert config_of(page)["is_student"] is True
    assert config_of(page)["locked"] == {"marketing": "student"}
    assert part_of(page) == part_of(get_page(client(build_site())))  # nothing of the visitor in it
    marketing = re.search(r'<input [^>]*data-consentgate-category="marketing"[^>]*>', page)
    assert marketing is not None and 'aria-describedby="cg-d-marketing cg-k-marketing"' in marketing.group(0)
    assert '<p class="cg-lock" id="cg-k-marketing" hidden></p>' in page  # filled by the script
    reason = re.search(r'<p class="cg-lock" data-lock="student" hidden>([^<]+)</p>', page)
    assert reason is not None and reason.group(1) == catalog("en")["category.locked.student"]


def test_gpc_header_shows_the_opt_out_was_honoured() -> None:
    """R-GPC-3: the banner says the signal was honoured; marketing is locked off."""
    tc = client(build_site())
    plain = get_page(tc)
    assert re.search(r'data-consentgate="notice".*data-consentgate-note="gpc" hidden', plain, re.S)
    page = get_page(tc, **{"sec-gpc": "1"})
    notice = page.split('data-consentgate="notice"', 1)[1].split("</section>", 1)[0]
    assert 'data-consentgate-note="gpc">' in notice
    assert catalog("en")["banner.gpc"] in html.unescape(notice)
    assert config_of(page)["locked"] == {"marketing": "gpc"}
    assert config_of(page)["gpc"] is True


def test_services_and_hosts_are_listed_per_category() -> None:
    page = html.unescape(get_page(client(build_site())))
    assert "Services: Example Analytics" in page
    assert "Third parties: stats.example" in page
    assert "Third parties: ads.example" in page


def test_policy_text_is_escaped_and_config_cannot_close_its_script() -> None:
    policy = make_policy(
        'revision = 1\n[categories.analytics]\nlabel = "<img src=x onerror=alert(1)>"\n'
        'services = ["</script><script>alert(2)</script>"]\n'
    )
    page = get_page(client(build_site(policy)))
    assert "<img src=x" not in page
    assert "<script>alert(2)" not in page
    config = config_of(page)  # parses: no early </script>
    assert config["endpoint"] == "/_consent"
    raw = re.search(r'data-consentgate="config">(.*?)</script>', page, re.S).group(1)  # type: ignore[union-attr]
    assert raw.isascii()
    policy_data = re.search(r'data-consentgate="policy">(.*?)</script>', page, re.S).group(1)  # type: ignore[union-attr]
    assert policy_data.isascii() and "<" not in policy_data
    assert json.loads(policy_data)["cat"]["analytics"][0] == "<img src=x onerror=alert(1)>"


def test_notice_hash_is_the_sha256_of_the_text_shown() -> None:
    """R-CON-9: the receipt's notice hash names the exact notice the visitor saw, per language."""
    decisions: list[Decision] = []
    app = build_site(on_decision=decisions.append)
    tc = client(app)
    page = html.unescape(get_page(tc, **{"accept-language": "ja"}))
    middleware = _middleware(app)
    text = middleware.banner.notice_text("ja")
    for line in text.split("\n"):
        assert line in page  # every hashed line is on the page
    tc.post(
        "/_consent", json={"action": "deny_all", "language": "ja"}, headers={"origin": "http://testserver"}
    )
    assert decisions[0].notice_hash == hashlib.sha256(text.encode()).hexdigest()
    hashes = {middleware.banner.notice_hash(lang) for lang in LANGUAGES}
    assert len(hashes) == len(LANGUAGES)
    # an omitted language is the one the request would have been shown
    tc.post(
        "/_consent",
        json={"action": "deny_all"},
        headers={"origin": "http://testserver", "accept-language": "fr"},
    )
    assert decisions[1].language == "fr"
    assert decisions[1].notice_hash == middleware.banner.notice_hash("fr")


def test_notice_hash_changes_with_the_policy_text() -> None:
    one = _middleware(
        build_site(make_policy('revision = 1\n[categories.analytics]\ndescription = "Counts visits."\n'))
    )
    two = _middleware(
        build_site(make_policy('revision = 1\n[categories.analytics]\ndescription = "Counts clicks."\n'))
    )
    assert one.banner.notice_hash("en") != two.banner.notice_hash("en")
    assert one.banner.notice_hash("sv") == one.banner.notice_hash("en")  # not a banner language: the default


def test_rendering_is_cached_per_language_and_consent() -> None:
    app = build_site()
    tc = client(app)
    get_page(tc)
    banner = _middleware(app).banner
    consent = _middleware(app).visitors.without_choice()
    first = banner.render(consent, "en")
    assert banner.render(consent, "en") is first
    assert banner.snippet(consent, "en", "utf-8") is banner.snippet(consent, "en", "utf-8")
    assert banner.render(consent, "fr") is not first


def _middleware(app: Starlette) -> ConsentMiddleware:
    """The app's ConsentMiddleware instance (the one its requests go through)."""
    if app.middleware_stack is None:
        app.middleware_stack = app.build_middleware_stack()
    found: Any = app.middleware_stack
    while not isinstance(found, ConsentMiddleware):
        found = found.app
    return found


TEMPLATE = """<!doctype html><html lang="en"><head><title>manual</title></head><body>
<main>before</main>{{ consentgate_banner(request) }}<p>after</p></body></html>"""


def manual_app(tmp_path: Path, banner: bool) -> Starlette:
    (tmp_path / "page.html").write_text(TEMPLATE)
    templates = Jinja2Templates(directory=str(tmp_path))
    templates.env.globals["consentgate_banner"] = consentgate_banner

    async def manual(request: Request) -> Any:
        return templates.TemplateResponse(request, "page.html")

    async def plain(request: Request) -> Any:
        from starlette.responses import HTMLResponse

        return HTMLResponse("<html><body><p>plain</p></body></html>")

    return Starlette(
        routes=[Route("/manual", manual), Route("/plain", plain)],
        middleware=[Middleware(ConsentMiddleware, policy=make_policy(), secret_key=SECRET, banner=banner)],
    )


@pytest.mark.parametrize("auto", [True, False])
def test_jinja_helper_places_the_banner_once(tmp_path: Path, auto: bool) -> None:
    tc = client(manual_app(tmp_path, auto))
    page = tc.get("/manual").text
    assert len(ROOT.findall(page)) == 1
    assert page.index("before") < page.index('data-consentgate="banner"') < page.index("<p>after")
    plain = tc.get("/plain").text
    assert len(ROOT.findall(plain)) == (1 if auto else 0)


def test_jinja_helper_without_the_middleware_says_so() -> None:
    request = Request({"type": "http", "headers": [], "query_string": b"", "path": "/"})
    with pytest.raises(RuntimeError, match="ConsentMiddleware"):
        consentgate_banner(request)
